"""Nested columns through a real Dagster materialization with the compliant IO manager.

Before leaf classification the Struct came out ``allow`` and the e-mail
addresses were written to the Parquet file in clear; the Object column passed
unexamined.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from faker import Faker

from compliance.crypto import hash_value
from compliance.detokenize import detokenize_values
from compliance.events import read_events
from compliance.io_manager import CompliantIOManager
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.storage import create_storage_engine
from resources.frame_io import ParquetFrameIOManager
from resources.secrets import SecretsResource

DEFAULT_POLICY = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
ROWS = 50

#: The tenant's detokenize key pair: runs get the public half, the gateway holds the private half.
DETOKENIZE_KEY = X25519PrivateKey.generate()
PUBLIC_HEX = DETOKENIZE_KEY.public_key().public_bytes_raw().hex()


def _members() -> pl.DataFrame:
    fake = Faker("en_US")
    Faker.seed(77)
    return pl.DataFrame(
        {
            "member_id": range(ROWS),
            "contact": [
                {"email": fake.unique.email(), "ssn": fake.ssn(), "tier": "gold"} for _ in range(ROWS)
            ],
            "aliases": [[fake.unique.email(), fake.unique.email()] for _ in range(ROWS)],
        }
    )


@dg.asset(key_prefix=["crm"])
def members() -> pl.DataFrame:
    return _members()


@dg.asset(key_prefix=["crm"])
def member_objects() -> pl.DataFrame:
    return pl.DataFrame({"n": [1, 2], "raw": pl.Series([object(), object()], dtype=pl.Object)})


def _io_manager(tmp_path: Path) -> CompliantIOManager:
    return CompliantIOManager(
        inner=ParquetFrameIOManager(base_dir=str(tmp_path / "store")),
        secrets=SecretsResource(tenant_key=dg.EnvVar("KLIKKFLOW_TENANT_KEY"), token_public_key=PUBLIC_HEX),
        tenant_id="default",
        policy_path=DEFAULT_POLICY,
        events_url=f"sqlite:///{tmp_path / 'events.db'}",
    )


def test_struct_and_list_emails_are_protected_on_disk(tmp_path: Path, tenant_key: str) -> None:
    result = dg.materialize([members], resources={"io_manager": _io_manager(tmp_path)})
    assert result.success
    keys = SecretsResource(tenant_key=tenant_key, token_public_key=PUBLIC_HEX).compliance_keys()
    original = _members()

    stored = pl.read_parquet(tmp_path / "store" / "crm" / "members.parquet")
    contact = stored["contact"].struct.unnest()
    emails = original["contact"].struct.field("email").to_list()
    assert contact["email"].to_list() == [hash_value(keys.hash_key, e) for e in emails]  # hash-emails
    ssns = original["contact"].struct.field("ssn").to_list()
    assert detokenize_values(contact["ssn"].to_list(), DETOKENIZE_KEY) == ssns  # tokenize-national-ids
    assert contact["tier"].to_list() == ["gold"] * ROWS
    assert stored["aliases"].to_list() == [
        [hash_value(keys.hash_key, e) for e in a] for a in original["aliases"]
    ]
    text = (tmp_path / "store" / "crm" / "members.parquet").read_bytes()
    assert not any(e.encode() in text for e in emails)

    metadata = result.asset_materializations_for_node("crm__members")[0].metadata
    findings = metadata["compliance/findings"].value["columns"]
    assert findings["contact"]["leaves"]["contact.email"]["entity"] == "EMAIL_ADDRESS"
    assert metadata["compliance/actions"].value["contact"]["leaves"][0]["column"] == "contact.email"

    events = read_events(create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"), asset="crm/members")
    decision = next(e for e in events if e["column"] == "contact" and e["action"] != "classify")
    assert decision["action"] == "tokenize"
    leaves = {leaf["column"]: leaf["action"] for leaf in decision["details"]["leaves"]}
    assert leaves == {"contact.email": "hash", "contact.ssn": "tokenize", "contact.tier": "allow"}


def test_object_column_blocks_the_write_by_default(tmp_path: Path, tenant_key: str) -> None:
    result = dg.materialize(
        [member_objects], resources={"io_manager": _io_manager(tmp_path)}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "raw (Python objects" in str(failure.step_failure_data.error)
    assert not (tmp_path / "store" / "crm" / "member_objects.parquet").exists()
    events = read_events(
        create_storage_engine(f"sqlite:///{tmp_path / 'events.db'}"), asset="crm/member_objects"
    )
    assert [(e["column"], e["details"]["rule"]) for e in events if e["action"] == "block"] == [
        ("raw", "unclassifiable")
    ]
