"""Attack/defect: warehouse writes bypass the compliance policy.

Before, ``WarehouseResource.write_frame``/``upsert_latest``/``replace_rows_where`` wrote
raw rows: e-mails and SSNs landed in clear text, a table in a forbidden region was
written (the policy's ``warehouse*`` residency rule was never evaluated) and a
``block`` rule did not stop the write. Now each write passes the tenant's guard with
the destination ``warehouse.<table>`` and the warehouse's region. Real Dagster
materializations on the tenant's resources (``build_resources``), a real PostgreSQL
warehouse where it matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from faker import Faker

from compliance.crypto import derive_keys, hash_value
from compliance.detokenize import detokenize_values
from compliance.events import read_events
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine
from klikkflow_pipelines.tenant_resources import build_resources
from resources.warehouse import WarehouseResource, WarehouseTable

TENANT_KEY = "7a" * 32
#: The tenant's detokenize key pair: runs get the public half, the gateway holds the private half.
DETOKENIZE_KEY = X25519PrivateKey.generate()
metadata = sa.MetaData()
PAYMENTS = sa.Table("payments", metadata, sa.Column("ref", sa.Text), sa.Column("card", sa.Text))


def _customers(rows: int = 40) -> pl.DataFrame:
    fake = Faker("en_US")
    Faker.seed(12)
    return pl.DataFrame(
        {
            "customer_ref": [f"C{n:04d}" for n in range(rows)],
            "email": [fake.unique.email() for _ in range(rows)],
            "ssn": [fake.unique.ssn() for _ in range(rows)],
            "amount": [float(n) for n in range(rows)],
        }
    )


@dg.asset
def customer_table(warehouse: WarehouseResource) -> WarehouseTable:
    """Writes through the warehouse and returns the SQL-table handle."""
    return warehouse.write_frame("customer_pii", _customers())


@dg.asset
def card_upsert(warehouse: WarehouseResource) -> None:
    """Upserts card numbers, which the default policy blocks."""
    fake = Faker()
    Faker.seed(3)
    rows = [{"ref": f"P{n}", "card": fake.credit_card_number()} for n in range(30)]
    warehouse.upsert_latest(PAYMENTS, rows, key="ref", rank=["ref"])


@dg.asset
def forged_table() -> WarehouseTable:
    """Asset code builds a handle itself, claiming a governed table with no PII."""
    return WarehouseTable("customer_pii", 40, {"compliance/pii_columns": 0})


@pytest.fixture
def tenant_env(monkeypatch: pytest.MonkeyPatch, fresh_database) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The default tenant on a fresh PostgreSQL warehouse, with its tenant key."""
    monkeypatch.setenv("KLIKKFLOW_TENANT_KEY", TENANT_KEY)
    monkeypatch.setenv("KLIKKFLOW_TOKEN_PUBLIC_KEY", DETOKENIZE_KEY.public_key().public_bytes_raw().hex())
    with fresh_database("kf_wh_governed") as url:
        monkeypatch.setenv("KLIKKFLOW_WAREHOUSE_URL", url)
        yield url


def _materialize(assets: list[dg.AssetsDefinition], **kwargs: object) -> dg.ExecuteInProcessResult:
    resources = build_resources(load_tenant("default"))
    with dg.instance_for_test() as instance:
        return dg.materialize(
            assets,
            resources={**resources, "io_manager": resources["governed_io_manager"]},
            instance=instance,
            raise_on_error=False,
            **kwargs,
        )


def _failure(result: dg.ExecuteInProcessResult) -> str:
    return str(next(e for e in result.all_events if e.is_step_failure).step_failure_data.error)


def _table_exists(url: str, table: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table(table)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_warehouse_write_stores_hashed_emails_and_tokenized_ssns_and_the_handle_gets_tags(
    tenant_env: str,
) -> None:
    result = _materialize([customer_table])
    assert result.success, _failure(result)
    engine = sa.create_engine(tenant_env)
    with engine.connect() as conn:
        query = sa.text("SELECT * FROM customer_pii ORDER BY customer_ref")
        stored = pl.DataFrame(conn.execute(query).mappings().all())
    engine.dispose()
    original = _customers()
    keys = derive_keys(bytes.fromhex(TENANT_KEY))
    assert stored["email"].to_list() == [hash_value(keys.hash_key, e) for e in original["email"]]
    assert not any(s in stored["ssn"].to_list() for s in original["ssn"])
    assert detokenize_values(stored["ssn"].to_list(), DETOKENIZE_KEY) == original["ssn"].to_list()
    assert stored["amount"].to_list() == original["amount"].to_list()

    meta = result.asset_materializations_for_node("customer_table")[0].metadata
    tags = {c.name: c.tags for c in meta["dagster/column_schema"].value.columns}
    assert tags["email"]["pii/action"] == "hash" and tags["email"]["pii/entity"] == "EMAIL_ADDRESS"
    assert tags["ssn"]["pii/action"] == "tokenize"
    assert meta["compliance/destination"].value == "warehouse.customer_pii"
    assert meta["dagster/row_count"].value == 40
    events = read_events(tenant_storage_engine("default"), asset="warehouse.customer_pii")
    assert {(e["column"], e["action"]) for e in events} >= {("email", "hash"), ("ssn", "tokenize")}
    assert all(e["run_id"] == result.run_id for e in events)


@pytest.mark.postgres
def test_a_warehouse_in_a_region_the_policy_forbids_fails_writes_nothing_and_records_the_violation(
    tenant_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLIKKFLOW_WAREHOUSE_REGION", "us-east-1")
    result = _materialize([customer_table])
    assert not result.success
    message = _failure(result)
    assert "destination 'warehouse.customer_pii' is in region 'us-east-1'" in message
    assert "nothing was written" in message and "Fix:" in message
    assert not _table_exists(tenant_env, "customer_pii")
    (violation,) = [
        e for e in read_events(tenant_storage_engine("default")) if e["action"] == "residency_violation"
    ]
    assert violation["asset"] == "warehouse.customer_pii" and violation["details"]["region"] == "us-east-1"


@pytest.mark.postgres
def test_a_block_rule_stops_an_upsert_before_the_table_exists(tenant_env: str) -> None:
    result = _materialize([card_upsert])
    assert not result.success
    assert "Compliance policy blocked warehouse.payments" in _failure(result)
    assert not _table_exists(tenant_env, "payments")
    blocks = [e for e in read_events(tenant_storage_engine("default")) if e["action"] == "block"]
    assert [(e["asset"], e["column"]) for e in blocks] == [("warehouse.payments", "card")]


def test_a_warehouse_without_a_tenant_policy_refuses_to_write(tmp_path: Path) -> None:
    """A careless engineer builds their own WarehouseResource(url=...): its writes are refused."""
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(dg.Failure, match="no tenant policy, so writes are refused"):
        warehouse.write_frame("customer_pii", _customers())
    assert not warehouse.has_table("customer_pii")
    warehouse.engine().dispose()


def test_a_forged_table_handle_is_flagged_as_ungoverned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asset code cannot claim a governed table by building the handle itself."""
    monkeypatch.setenv("KLIKKFLOW_TENANT_KEY", TENANT_KEY)
    monkeypatch.setenv("KLIKKFLOW_TOKEN_PUBLIC_KEY", DETOKENIZE_KEY.public_key().public_bytes_raw().hex())
    result = _materialize([forged_table])
    assert not result.success  # flagged, then frame storage cannot store a non-frame
    events = read_events(tenant_storage_engine("default"))
    (event,) = [e for e in events if e["action"] == "ungoverned_output"]
    assert event["asset"] == "forged_table" and "WarehouseTable" in event["details"]["type"]
