"""The compliant IO manager end to end in real materializations (dg.materialize, real IO managers)."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from faker import Faker

from compliance.detokenize import detokenize_values
from compliance.events import read_events
from compliance.io_manager import CompliantIOManager
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.storage import create_storage_engine, tenant_storage_engine
from klikkflow_pipelines.tenant_resources import TenantEvents
from resources.frame_io import ParquetFrameIOManager
from resources.secrets import SecretsResource
from resources.warehouse import WarehouseResource

DEFAULT_POLICY = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
#: The tenant's detokenize key pair: the gateway holds the private half, runs the public half.
DETOKENIZE_KEY = X25519PrivateKey.generate()


@pytest.fixture(autouse=True)
def token_public_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run environment carries the tenant's detokenize public key (never the private key)."""
    monkeypatch.setenv("KLIKKFLOW_TOKEN_PUBLIC_KEY", DETOKENIZE_KEY.public_key().public_bytes_raw().hex())


class WarehouseTableIOManager(dg.ConfigurableIOManager):
    """Test storage: one warehouse table per asset."""

    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        frame = obj if isinstance(obj, pl.DataFrame) else pl.from_pandas(obj)
        self.warehouse.write_frame("_".join(context.asset_key.path), frame)

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        return self.warehouse.read_frame(f"SELECT * FROM {'_'.join(context.asset_key.path)}")


def _claims(rows: int = 60) -> pd.DataFrame:
    fake = Faker("en_US")
    Faker.seed(31)
    return pd.DataFrame(
        {
            "claim_id": range(1000, 1000 + rows),
            "claimant": [fake.name() for _ in range(rows)],
            "email": [fake.email() for _ in range(rows)],
            "phone": [fake.phone_number() for _ in range(rows)],
            "ssn": [fake.ssn() for _ in range(rows)],
            "client_ip": [fake.ipv4() for _ in range(rows)],
            "amount": [round(fake.pyfloat(4, 2, positive=True), 2) for _ in range(rows)],
            "notes": [f"Call {fake.name()} on {fake.phone_number()} or {fake.email()}." for _ in range(rows)],
        }
    )


@dg.asset(key_prefix=["claims"])
def claims_raw() -> pd.DataFrame:
    """pandas output."""
    return _claims()


@dg.asset(key_prefix=["claims"], ins={"claims_raw": dg.AssetIn(key=["claims", "claims_raw"])})
def claims_summary(claims_raw: pl.DataFrame) -> pl.DataFrame:
    """Polars output computed from the protected upstream."""
    return claims_raw.select(pl.len().alias("claims"), pl.col("email").n_unique().alias("customers"))


@dg.asset(key_prefix=["claims"])
def card_payments() -> pl.DataFrame:
    fake = Faker()
    Faker.seed(4)
    return pl.DataFrame({"card": [fake.credit_card_number() for _ in range(30)], "amount": [1.5] * 30})


@dg.asset
def not_a_frame() -> dict[str, int]:
    return {"answer": 42}


def _io_manager(inner: dg.IOManager, tmp_path: Path, **extra: Any) -> CompliantIOManager:
    return CompliantIOManager(
        inner=inner,
        secrets=SecretsResource(
            tenant_key=dg.EnvVar("KLIKKFLOW_TENANT_KEY"),
            token_public_key=dg.EnvVar("KLIKKFLOW_TOKEN_PUBLIC_KEY"),
        ),
        tenant_id="default",
        events_url=f"sqlite:///{tmp_path / 'events.db'}",
        **{"policy_path": DEFAULT_POLICY, **extra},
    )


def test_materialization_protects_data_and_records_tags_metadata_and_events(
    tmp_path: Path, tenant_key: str
) -> None:
    store = tmp_path / "store"
    io_manager = _io_manager(ParquetFrameIOManager(base_dir=str(store)), tmp_path, region="eu-north-1")
    result = dg.materialize([claims_raw, claims_summary], resources={"io_manager": io_manager})
    assert result.success

    stored = pl.read_parquet(store / "claims" / "claims_raw.parquet")
    original = _claims()
    assert "client_ip" not in stored.columns  # drop-ip-addresses
    assert stored["email"].str.len_chars().unique().to_list() == [64]  # hash-emails
    assert stored["claimant"].to_list() != original["claimant"].tolist()  # hash-names-elsewhere
    assert all(p[-4:] == o[-4:] and "*" in p for p, o in zip(stored["phone"], original["phone"], strict=True))
    assert stored["ssn"].str.starts_with("tok2_").all()
    assert detokenize_values(stored["ssn"].to_list(), DETOKENIZE_KEY) == original["ssn"].tolist()
    assert not any("@" in n for n in stored["notes"]) and all("<EMAIL_ADDRESS>" in n for n in stored["notes"])
    assert stored["amount"].to_list() == original["amount"].tolist()

    metadata = result.asset_materializations_for_node("claims__claims_raw")[0].metadata
    schema = metadata["dagster/column_schema"].value
    tags = {c.name: c.tags for c in schema.columns}
    assert tags["email"] == {
        "pii/entity": "EMAIL_ADDRESS",
        "pii/sensitivity": "confidential",
        "pii/action": "hash",
    }
    assert tags["ssn"]["pii/sensitivity"] == "restricted" and tags["ssn"]["pii/action"] == "tokenize"
    assert tags["amount"] == {"pii/sensitivity": "internal", "pii/action": "allow"}
    assert "EMAIL_ADDRESS" in tags["notes"]["pii/contains"]
    assert "client_ip" not in tags
    assert metadata["compliance/findings"].value["columns"]["client_ip"]["entity"] == "IP_ADDRESS"
    assert metadata["compliance/actions"].value["client_ip"]["rule"] == "drop-ip-addresses"
    assert metadata["compliance/pii_columns"].value == 6
    assert metadata["dagster/row_count"].value == 60  # the inner IO manager's own metadata survives

    summary = pl.read_parquet(store / "claims" / "claims_summary.parquet")
    assert summary.row(0) == (60, 60)

    events = read_events(create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"), tenant="default")
    raw_events = [e for e in events if e["asset"] == "claims/claims_raw"]
    assert {e["column"] for e in raw_events if e["action"] == "classify"} == set(original.columns)
    decisions = {e["column"]: e["action"] for e in raw_events if e["action"] != "classify"}
    assert (
        decisions["client_ip"] == "drop" and decisions["ssn"] == "tokenize" and decisions["amount"] == "allow"
    )
    assert all(e["run_id"] == result.run_id and e["actor"] == f"run:{result.run_id}" for e in raw_events)


@pytest.mark.postgres
def test_block_writes_no_table_and_fails_the_step(tmp_path: Path, tenant_key: str, pg_url: str) -> None:
    warehouse = WarehouseResource(url=pg_url)
    io_manager = _io_manager(WarehouseTableIOManager(warehouse=warehouse), tmp_path)
    result = dg.materialize([card_payments], resources={"io_manager": io_manager}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "blocked claims/card_payments; nothing was written" in str(failure.step_failure_data.error)
    assert not sa.inspect(warehouse.engine()).has_table("claims_card_payments")
    events = read_events(create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"))
    assert [(e["column"], e["details"]["rule"]) for e in events if e["action"] == "block"] == [
        ("card", "block-card-numbers")
    ]
    warehouse.engine().dispose()


def test_block_writes_no_file(tmp_path: Path, tenant_key: str) -> None:
    store = tmp_path / "store"
    io_manager = _io_manager(ParquetFrameIOManager(base_dir=str(store)), tmp_path)
    result = dg.materialize([card_payments], resources={"io_manager": io_manager}, raise_on_error=False)
    assert not result.success
    assert not any(store.rglob("*")) if store.exists() else True
    assert result.asset_materializations_for_node("claims__card_payments") == []


def test_residency_violation_writes_nothing(tmp_path: Path, tenant_key: str) -> None:
    store = tmp_path / "store"
    io_manager = _io_manager(ParquetFrameIOManager(base_dir=str(store)), tmp_path, region="us-east-1")
    result = dg.materialize([claims_raw], resources={"io_manager": io_manager}, raise_on_error=False)
    assert not result.success
    assert not (store / "claims" / "claims_raw.parquet").exists()
    events = read_events(create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"))
    violation = next(e for e in events if e["action"] == "residency_violation")
    assert violation["details"] == {
        "destination": "storage",
        "region": "us-east-1",
        "allowed": ["eu-north-1", "eu-west-1", "eu-central-1"],
    }


def test_events_go_to_the_injected_tenant_storage_and_non_frames_are_flagged(
    tmp_path: Path, tenant_key: str
) -> None:
    fs = dg.FilesystemIOManager(base_dir=str(tmp_path / "fs"))
    io_manager = CompliantIOManager(
        inner=fs,
        secrets=SecretsResource(
            tenant_key=dg.EnvVar("KLIKKFLOW_TENANT_KEY"),
            token_public_key=dg.EnvVar("KLIKKFLOW_TOKEN_PUBLIC_KEY"),
        ),
        tenant_id="default",
        policy_path=DEFAULT_POLICY,
        events=TenantEvents("default"),
    )
    result = dg.materialize([claims_raw, not_a_frame], resources={"io_manager": io_manager})
    assert result.success
    assert result.output_for_node("not_a_frame") == {"answer": 42}  # require_governed is off: written
    flagged = result.asset_materializations_for_node("not_a_frame")[0].metadata
    assert flagged["klikkflow/governed"].value is False
    assert "builtins.dict" in flagged["klikkflow/ungoverned_reason"].value
    stored = pd.read_pickle(tmp_path / "fs" / "claims" / "claims_raw")
    assert isinstance(stored, pd.DataFrame) and "client_ip" not in stored.columns  # pandas in, pandas out
    events = read_events(tenant_storage_engine("default"), asset="claims/claims_raw")
    assert len(events) == 2 * 8  # one classification and one decision per column
    (ungoverned,) = read_events(tenant_storage_engine("default"), asset="not_a_frame")
    assert ungoverned["action"] == "ungoverned_output" and ungoverned["details"]["refused"] is False


def test_an_io_manager_without_an_events_table_refuses_to_write(tmp_path: Path, tenant_key: str) -> None:
    """Careless assembly: no events_url and no sink. Events would be lost, so nothing is written."""
    io_manager = CompliantIOManager(
        inner=ParquetFrameIOManager(base_dir=str(tmp_path / "s")),
        secrets=SecretsResource(tenant_key=dg.EnvVar("KLIKKFLOW_TENANT_KEY")),
        tenant_id="default",
        policy_path=DEFAULT_POLICY,
    )
    result = dg.materialize([claims_raw], resources={"io_manager": io_manager}, raise_on_error=False)
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no compliance events table" in str(failure.step_failure_data.error)
    assert not (tmp_path / "s" / "claims" / "claims_raw.parquet").exists()


def test_hash_policy_without_a_tenant_key_fails_with_a_clear_message(tmp_path: Path) -> None:
    io_manager = CompliantIOManager(
        inner=ParquetFrameIOManager(base_dir=str(tmp_path / "s")),
        secrets=SecretsResource(),
        tenant_id="default",
        policy_path=DEFAULT_POLICY,
        events_url=f"sqlite:///{tmp_path / 'events.db'}",
    )
    result = dg.materialize([claims_raw], resources={"io_manager": io_manager}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "tenant key" in str(failure.step_failure_data.error)
    assert not (tmp_path / "s" / "claims" / "claims_raw.parquet").exists()


def test_loading_the_io_manager_and_checks_does_not_import_presidio_spacy_or_gx() -> None:
    code = (
        "import sys, compliance.io_manager, compliance.quality, resources.secrets;"
        "heavy = {m.split('.')[0] for m in sys.modules};"
        "heavy &= {'presidio_analyzer', 'spacy', 'great_expectations'};"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


DROPS = dg.StaticPartitionsDefinition(["drop-a", "drop-b"])


@dg.asset(key_prefix=["claims"], partitions_def=DROPS)
def claims_drop(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """One partition per drop: each holds only its own drop's rows."""
    frame = pl.from_pandas(_claims(10 if context.partition_key == "drop-a" else 20))
    return frame.with_columns(pl.lit(context.partition_key).alias("drop"))


@dg.asset(
    key_prefix=["claims"],
    partitions_def=DROPS,
    ins={"claims_drop": dg.AssetIn(key=["claims", "claims_drop"])},
)
def claims_drop_summary(claims_drop: pl.DataFrame) -> pl.DataFrame:
    """Reads its own partition of the upstream."""
    return claims_drop.group_by("drop").len()


def test_partitions_are_stored_and_read_per_partition_through_the_compliance_layer(
    tmp_path: Path, tenant_key: str
) -> None:
    """Two partitions of one asset never share a file: each run writes, and its downstream reads,
    ``<asset>/<partition>.parquet``, protected by the policy; the events name the partition."""
    store = tmp_path / "store"
    io_manager = _io_manager(ParquetFrameIOManager(base_dir=str(store)), tmp_path)
    for key in ("drop-b", "drop-a"):
        result = dg.materialize(
            [claims_drop, claims_drop_summary], resources={"io_manager": io_manager}, partition_key=key
        )
        assert result.success

    for key, rows in (("drop-a", 10), ("drop-b", 20)):
        stored = pl.read_parquet(store / "claims" / "claims_drop" / f"{key}.parquet")
        assert stored.height == rows and stored["drop"].unique().to_list() == [key]
        assert "client_ip" not in stored.columns  # the policy applied to each partition
        summary = pl.read_parquet(store / "claims" / "claims_drop_summary" / f"{key}.parquet")
        assert summary.rows() == [(key, rows)]
    assert not (store / "claims" / "claims_drop.parquet").exists()

    events = read_events(
        create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"), asset="claims/claims_drop"
    )
    assert {e["details"].get("partition") for e in events} == {"drop-a", "drop-b"}


@dg.asset
def side_effect_only() -> None:
    """Returns nothing: nothing to govern, nothing stored."""


def test_require_governed_refuses_a_dict_output_and_writes_nothing(tmp_path: Path, tenant_key: str) -> None:
    """Attack: tenant code returns its PII in a dict to slip past classification."""
    strict = tmp_path / "strict.yaml"
    strict.write_text(Path(DEFAULT_POLICY).read_text() + "\nrequire_governed: true\n")
    fs = tmp_path / "fs"
    io_manager = _io_manager(dg.FilesystemIOManager(base_dir=str(fs)), tmp_path, policy_path=str(strict))
    result = dg.materialize(
        [not_a_frame, side_effect_only], resources={"io_manager": io_manager}, raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "not_a_frame"
    message = str(failure.step_failure_data.error)
    assert "builtins.dict is not a data frame" in message and "require_governed" in message
    assert "Fix:" in message
    assert not (fs / "not_a_frame").exists()
    assert result.is_node_success("side_effect_only")  # None outputs stay allowed
    events = read_events(create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"))
    (flagged,) = [e for e in events if e["action"] == "ungoverned_output"]
    assert flagged["asset"] == "not_a_frame" and flagged["details"]["refused"] is True
