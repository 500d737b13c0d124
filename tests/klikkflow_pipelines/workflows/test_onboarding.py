"""Customer onboarding: drops in, clean de-duplicated customers in the warehouse."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import dagster as dg
import polars as pl

from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.workflows.onboarding.assets import CUSTOMER_DROPS
from klikkflow_pipelines.workflows.onboarding.sample_data import write_sample_drops
from resources.warehouse import WarehouseResource

FIELDS = ["customer_ref", "first_name", "last_name", "email", "phone", "country", "signup_date", "channel"]


def _inbox() -> Path:
    return tenant_home("default") / "inbox" / "onboarding"


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def _customer(ref: str, email: str, signup: str, **extra: str) -> dict[str, str]:
    row = {
        "customer_ref": ref,
        "first_name": " ola ",
        "last_name": "NORDMANN",
        "email": email,
        "phone": "0047 912 34 567",
        "country": " no",
        "signup_date": signup,
        "channel": "web",
    }
    return {**row, **extra}


def _materialize(
    defs, group_assets, resources, instance, paths, partition="drop"
) -> dg.ExecuteInProcessResult:
    """One run of the onboarding assets for one drop partition, reading ``paths``."""
    instance.add_dynamic_partitions(CUSTOMER_DROPS.name, [partition])
    config = {"ops": {"raw_customer_drops": {"config": {"paths": [str(p) for p in paths]}}}}
    return dg.materialize(
        [*group_assets("customer_onboarding"), *defs.asset_checks],
        resources=resources,
        instance=instance,
        run_config=config,
        partition_key=partition,
        selection=dg.AssetSelection.groups("customer_onboarding"),
    )


def test_every_onboarding_asset_materializes_on_sample_drops(defs, group_assets, resources, instance) -> None:
    files = write_sample_drops(_inbox())
    result = _materialize(defs, group_assets, resources, instance, files)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {
        "raw_customer_drops",
        "clean_customers",
        "customer_rejects",
        "warehouse_customers",
    }

    raw = pl.concat(
        [pl.read_csv(f, infer_schema=False) if f.suffix == ".csv" else pl.read_ndjson(f) for f in files],
        how="diagonal_relaxed",
    )
    clean = result.output_for_node("clean_customers", "clean_customers")
    rejects = result.output_for_node("clean_customers", "customer_rejects")
    # Nothing lost: every raw row is either a clean customer, a rejected row or a duplicate.
    assert clean.height + rejects.height < raw.height
    assert clean["email"].n_unique() == clean.height
    assert clean["email"].str.contains(r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$").all()
    assert clean["country"].is_in(["NO", "SE", "DK", "FI", "DE", "NL", "GB"]).all()
    assert set(rejects["reject_reason"].unique()) == {"missing email", "malformed email", "unknown country"}

    # What reaches the warehouse passed the default policy: e-mails hashed, phones masked, names kept.
    warehouse: WarehouseResource = resources["warehouse"]
    stored = warehouse.read_frame("SELECT customer_ref, email, phone, first_name FROM customers")
    assert stored.height == clean.height
    assert (
        stored["email"].str.contains(r"^[0-9a-f]{64}$").all() and stored["email"].n_unique() == stored.height
    )
    joined = stored.join(clean, on="customer_ref", suffix="_clean")
    assert joined.height == clean.height
    assert (joined["first_name"] == joined["first_name_clean"]).all()
    with_phone = joined.filter(pl.col("phone_clean").is_not_null())
    assert (with_phone["phone"].str.slice(-4) == with_phone["phone_clean"].str.slice(-4)).all()
    assert not (with_phone["phone"] == with_phone["phone_clean"]).any()
    raw_event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "clean_customers"
    )
    schema = raw_event.materialization.metadata["dagster/column_schema"].value
    tags = {c.name: c.tags for c in schema.columns}
    assert "EMAIL_ADDRESS" in str(tags["email"]) and "PHONE_NUMBER" in str(tags["phone"])


def test_cleaning_normalises_and_latest_signup_wins(defs, group_assets, resources, instance) -> None:
    drop = _inbox() / "partner.csv"
    _write_csv(
        drop,
        [
            _customer("C1", "  Ola.Nordmann@Example.COM ", "2026-03-01"),
            _customer(
                "C1b", "ola.nordmann@example.com", "2026-04-15", phone="+47 48 00 00 00", channel="app"
            ),
            _customer("C2", "no-at-sign.example.com", "2026-03-02"),
            _customer("C3", "kari@example.com", "01/03/2026"),
            _customer("C4", "kari2@example.com", "2026-03-03", country="XX"),
        ],
    )
    result = _materialize(defs, group_assets, resources, instance, [drop])
    assert result.success
    clean = result.output_for_node("clean_customers", "clean_customers")
    assert clean.height == 1
    row = clean.row(0, named=True)
    assert row["email"] == "ola.nordmann@example.com"
    assert row["customer_ref"] == "C1b"  # the later signup wins
    assert row["phone"] == "+4748000000"
    assert row["first_name"] == "Ola" and row["last_name"] == "Nordmann" and row["country"] == "NO"
    rejects = result.output_for_node("clean_customers", "customer_rejects")
    assert dict(zip(rejects["customer_ref"], rejects["reject_reason"], strict=True)) == {
        "C2": "malformed email",
        "C3": "missing or malformed signup_date (expected YYYY-MM-DD)",
        "C4": "unknown country",
    }


def test_second_drop_upserts_the_warehouse(defs, group_assets, resources, instance) -> None:
    first, second = _inbox() / "a.csv", _inbox() / "b.json"
    _write_csv(
        first,
        [_customer("C1", "a@example.com", "2026-01-01"), _customer("C2", "b@example.com", "2026-01-01")],
    )
    second.write_text(json.dumps(_customer("C2-new", "b@example.com", "2026-02-01", last_name="berg")) + "\n")
    # The later drop first: a stored customer is only replaced by a later signup, whatever the order.
    assert _materialize(defs, group_assets, resources, instance, [second], "b.json").success
    assert _materialize(defs, group_assets, resources, instance, [first], "a.csv").success
    stored = resources["warehouse"].read_frame(
        "SELECT customer_ref, email, last_name FROM customers ORDER BY customer_ref"
    )
    # E-mails are stored as keyed hashes; deterministic hashing still de-duplicates b@example.com.
    assert stored.select("customer_ref", "last_name").rows() == [("C1", "Nordmann"), ("C2-new", "Berg")]
    assert stored["email"].n_unique() == 2


def test_unreadable_drop_is_reported_and_others_load(defs, group_assets, resources, instance) -> None:
    good, bad = _inbox() / "good.csv", _inbox() / "bad.json"
    _write_csv(good, [_customer("C1", "a@example.com", "2026-01-01")])
    bad.write_text('{"customer_ref": "X", "email": \n broken')
    result = _materialize(defs, group_assets, resources, instance, [good, bad])
    assert result.success
    raw_event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "raw_customer_drops"
    )
    unreadable = raw_event.materialization.metadata["unreadable_files"].value
    assert list(unreadable) == [str(bad)]
    assert resources["warehouse"].read_frame("SELECT count(*) AS n FROM customers").item() == 1


def test_drop_missing_columns_fails_with_file_name(defs, group_assets, resources, instance) -> None:
    bad = _inbox() / "only_email.csv"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("email\na@example.com\n")
    instance.add_dynamic_partitions(CUSTOMER_DROPS.name, ["only_email.csv"])
    result = dg.materialize(
        group_assets("customer_onboarding"),
        resources=resources,
        instance=instance,
        partition_key="only_email.csv",
        raise_on_error=False,
        selection=["raw_customer_drops"],
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "No readable customer drops" in failure.event_specific_data.error.message
