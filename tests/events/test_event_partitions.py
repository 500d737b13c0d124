"""Event-triggered runs of partitioned jobs: the partition comes from the payload or the received time.

Real pieces: the default tenant's Definitions (time zone Europe/Oslo), its outbox sensors evaluated
with ``dg.build_sensor_context`` on a persistent Dagster instance, the outbox on SQLite and
Postgres, and the requested runs executed with ``execute_in_process`` for their partition.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.events.resources import EventStoreResource
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.run_tags import tenant_run_tags
from sensors.outbox_events import EVENT_ID_TAG, EVENT_SOURCE_TAG

CLAIMS_SENSOR = "claims_processing_job_outbox_sensor"
ONBOARDING_SENSOR = "customer_onboarding_job_outbox_sensor"
FIELDS = ["customer_ref", "first_name", "last_name", "email", "phone", "country", "signup_date", "channel"]


def _write_drop(path: Path, refs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for ref in refs:
            writer.writerow(
                {
                    "customer_ref": ref,
                    "first_name": "Ola",
                    "last_name": "Nordmann",
                    "email": f"{ref.lower()}@example.no",
                    "phone": "+47 912 34 567",
                    "country": "NO",
                    "signup_date": "2026-11-02",
                    "channel": "web",
                }
            )


def _record(store: EventStoreResource, workflow: str, payload: dict, received_at: float | None = None) -> str:
    return (
        store.outbox()
        .record(
            tenant="default",
            workflow=workflow,
            source="webhook",
            payload=payload,
            dedupe_key=f"test:{workflow}:{os.urandom(8).hex()}",
            received_at=received_at,
        )
        .event_id
    )


def _tick(defs: dg.Definitions, sensor_name: str, instance, store, cursor=None) -> dg.SensorResult:
    sensor = defs.get_repository_def().get_sensor_def(sensor_name)
    context = dg.build_sensor_context(
        instance=instance, definitions=defs, resources={"event_store": store}, cursor=cursor
    )
    return sensor(context)


def _run(defs: dg.Definitions, instance, job: str, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags=request.tags,
    )


@pytest.fixture
def defs() -> dg.Definitions:
    """The default tenant's Definitions (Europe/Oslo, claims and onboarding enabled)."""
    return build_definitions(load_tenant("default"))


def test_claims_event_runs_the_business_date_it_names_or_its_local_arrival_date(defs, store_url) -> None:
    store = EventStoreResource(url=store_url)
    named = _record(store, "claims_processing_job", {"business_date": "2026-03-02"})
    # 23:30 UTC on 2 March is 00:30 on 3 March in Oslo: the tenant's business date is the 3rd.
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC).timestamp()
    unnamed = _record(store, "claims_processing_job", {"note": "no date"}, received_at=late)
    with dg.instance_for_test() as instance:
        result = _tick(defs, CLAIMS_SENSOR, instance, store)
        by_key = {r.run_key: r for r in result.run_requests}
        assert by_key[named].partition_key == "2026-03-02"
        assert by_key[unnamed].partition_key == "2026-03-03"
        for request in result.run_requests:
            run = _run(defs, instance, "claims_processing_job", request)
            assert run.success
            assert run.dagster_run.tags["dagster/partition"] == request.partition_key
            assert run.dagster_run.tags["klikkflow/event_id"] == request.run_key
            keys = {m.partition for m in run.asset_materializations_for_node("routed_claims")}
            assert keys == {request.partition_key}


def test_onboarding_event_naming_a_drop_adds_its_partition_and_the_run_loads_that_drop(
    defs, store_url
) -> None:
    store = EventStoreResource(url=store_url)
    inbox = tenant_home("default") / "inbox" / "onboarding"
    _write_drop(inbox / "customers-a.csv", ["A1", "A2", "A3"])
    _write_drop(inbox / "customers-b.csv", ["B1"])
    event_id = _record(store, "customer_onboarding_job", {"drop_file": "customers-a.csv"})
    mtime_ns = (inbox / "customers-a.csv").stat().st_mtime_ns
    with dg.instance_for_test() as instance:
        result = _tick(defs, ONBOARDING_SENSOR, instance, store)
        [request] = result.run_requests
        assert request.run_key == event_id
        assert request.partition_key == f"customers-a.csv@{mtime_ns}"
        [add] = result.dynamic_partitions_requests
        assert (add.partitions_def_name, list(add.partition_keys)) == (
            "customer_drops",
            [request.partition_key],
        )
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        run = _run(defs, instance, "customer_onboarding_job", request)
        assert run.success
        [raw] = run.asset_materializations_for_node("raw_customer_drops")
        assert raw.partition == request.partition_key
        assert raw.metadata["dagster/row_count"].value == 3  # customers-a only, not customers-b


def test_hostile_payloads_are_dead_lettered_without_stopping_the_valid_events_of_the_tick(
    defs, store_url, tmp_path
) -> None:
    store = EventStoreResource(url=store_url)
    inbox = tenant_home("default") / "inbox" / "onboarding"
    _write_drop(inbox / "good.csv", ["G1"])
    other = tenant_home("acme") / "inbox" / "onboarding" / "theirs.csv"
    _write_drop(other, ["X1"])
    (inbox / "link.csv").symlink_to(other)
    (inbox / "notes.txt").write_text("not a drop")
    hostile_drops = {
        "../../../acme/inbox/onboarding/theirs.csv": "outside the allowed root",
        "../../default/inbox/onboarding/good.csv": "outside the allowed root",
        str(inbox / "good.csv"): "absolute path",
        "/etc/passwd": "absolute path",
        "link.csv": "outside the allowed root",
        "missing.csv": "not a .csv/.json/.jsonl file",
        "notes.txt": "not a .csv/.json/.jsonl file",
        "": "missing or not a file name",
    }
    hostile_dates = {
        "2026-02-30": "not a partition of the job",
        "garbage": "not a partition of the job",
        "2099-01-01": "not a partition of the job",
        "'; DROP TABLE claims; --": "not a partition of the job",
    }
    refused = {}
    good_drop = _record(store, "customer_onboarding_job", {"drop_file": "good.csv"})
    for drop, reason in hostile_drops.items():
        refused[_record(store, "customer_onboarding_job", {"drop_file": drop})] = reason
    refused[_record(store, "customer_onboarding_job", {"drop_file": ["good.csv"]})] = "not a file name"
    refused[_record(store, "customer_onboarding_job", {})] = "missing or not a file name"
    good_date = _record(store, "claims_processing_job", {"partition_key": "2026-03-02"})
    for date, reason in hostile_dates.items():
        refused[_record(store, "claims_processing_job", {"business_date": date})] = reason
    refused[_record(store, "claims_processing_job", {"business_date": 20260302})] = "not a partition key"
    mixed = {"business_date": "2026-03-02", "partition_key": "2026-03-03"}
    refused[_record(store, "claims_processing_job", mixed)] = "disagree"
    with dg.instance_for_test() as instance:
        onboarding = _tick(defs, ONBOARDING_SENSOR, instance, store)
        claims = _tick(defs, CLAIMS_SENSOR, instance, store)
        assert [r.run_key for r in onboarding.run_requests] == [good_drop]
        assert [r.run_key for r in claims.run_requests] == [good_date]
        assert claims.run_requests[0].partition_key == "2026-03-02"
        letters = {d.event_id: d for d in store.dead_letters().list()}
        assert set(letters) == set(refused)
        for event_id, reason in refused.items():
            assert reason in letters[event_id].reason, letters[event_id].reason
            assert letters[event_id].failed_run_id == f"refused:{event_id}"  # no run was ever made
            assert letters[event_id].attempts == 0
        # The cursor moved past the refused events: the next ticks neither run nor refuse them again.
        assert not _tick(defs, ONBOARDING_SENSOR, instance, store, onboarding.cursor).run_requests
        assert not _tick(defs, CLAIMS_SENSOR, instance, store, claims.cursor).run_requests
        assert len(store.dead_letters().list()) == len(refused)
        [add] = onboarding.dynamic_partitions_requests
        instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        assert _run(defs, instance, "customer_onboarding_job", onboarding.run_requests[0]).success


def test_unpartitioned_job_event_keeps_its_run_key_tags_and_no_partition(defs, store_url) -> None:
    store = EventStoreResource(url=store_url)
    event_id = _record(store, "operations_report_job", {"business_date": "garbage", "drop_file": "../x"})
    with dg.instance_for_test() as instance:
        result = _tick(defs, "operations_report_job_outbox_sensor", instance, store)
        [request] = result.run_requests
        assert (request.run_key, request.partition_key) == (event_id, None)
        expected = {
            **tenant_run_tags(load_tenant("default")),
            EVENT_ID_TAG: event_id,
            EVENT_SOURCE_TAG: "webhook",
        }
        assert request.tags == expected
        assert not result.dynamic_partitions_requests
        assert not store.dead_letters().list()
