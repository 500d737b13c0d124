"""The onboarding file-arrival sensor: one run per file version, cursor kept across ticks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant

HEADER = "customer_ref,first_name,last_name,email,phone,country,signup_date,channel"


def _drop(inbox: Path, name: str, text: str, age_seconds: float = 60) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_text(text)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def _tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None, defs: dg.Definitions
):
    context = dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs
    )
    result = sensor.evaluate_tick(context)
    return result.run_requests or [], result.cursor


def test_same_file_twice_makes_one_run_and_cursor_persists() -> None:
    defs = build_definitions(load_tenant("default"))
    sensor = defs.resolve_sensor_def("customer_drop_arrival")
    inbox = tenant_home("default") / "inbox" / "onboarding"
    first = _drop(inbox, "a.csv", f"{HEADER}\nC1,X,Y,x@example.com,1,NO,2026-01-01,web\n", age_seconds=120)

    with dg.instance_for_test() as instance:
        requests, cursor = _tick(sensor, instance, None, defs)
        assert [r.run_config["ops"]["raw_customer_drops"]["config"]["paths"] for r in requests] == [
            [str(first)]
        ]
        stat = first.stat()
        assert requests[0].run_key == f"{first}:{stat.st_size}:{stat.st_mtime_ns}"
        # Each drop is its own partition, added by the same tick.
        assert requests[0].partition_key == f"a.csv@{stat.st_mtime_ns}"
        context = dg.build_sensor_context(
            instance=instance, instance_ref=instance.get_ref(), definitions=defs
        )
        added = sensor.evaluate_tick(context).dynamic_partitions_requests
        assert [list(r.partition_keys) for r in added] == [[requests[0].partition_key]]
        assert requests[0].job_name in (None, "customer_onboarding_job")

        # The same file on the next tick: nothing new.
        again, cursor2 = _tick(sensor, instance, cursor, defs)
        assert again == [] and cursor2 == cursor
        # Without the cursor the sensor would ask again, but with the same run key,
        # which Dagster's daemon refuses to launch twice.
        replay, _ = _tick(sensor, instance, None, defs)
        assert [r.run_key for r in replay] == [requests[0].run_key]

        # A second file arriving later, one still being written (too new), and an unsupported
        # format, which gets no run: it is rejected (see tests/sensors/test_inbox_hygiene.py).
        second = _drop(inbox, "b.json", '{"email": "y@example.com"}\n', age_seconds=30)
        _drop(inbox, "c.csv", "email\n", age_seconds=0)
        _drop(inbox, "notes.txt", "ignore me", age_seconds=30)
        new, cursor3 = _tick(sensor, instance, cursor2, defs)
        assert [r.run_config["ops"]["raw_customer_drops"]["config"]["paths"] for r in new] == [[str(second)]]
        assert _tick(sensor, instance, cursor3, defs)[0] == []
        assert not (inbox / "notes.txt").exists()


def test_sensor_run_key_deduplicates_on_a_real_instance() -> None:
    """Launching the sensor's requests through the instance: a repeated run key makes no second run."""
    defs = build_definitions(load_tenant("default"))
    sensor = defs.resolve_sensor_def("customer_drop_arrival")
    inbox = tenant_home("default") / "inbox" / "onboarding"
    _drop(inbox, "a.csv", f"{HEADER}\nC1,Ola,Nordmann,ola@example.com,91234567,NO,2026-01-02,web\n")
    job = defs.resolve_job_def("customer_onboarding_job")
    with dg.instance_for_test() as instance:
        for _ in range(2):
            requests, _ = _tick(sensor, instance, None, defs)
            for request in requests:
                existing = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": request.run_key}))
                if not existing:
                    instance.add_dynamic_partitions("customer_drops", [request.partition_key])
                    job.execute_in_process(
                        instance=instance,
                        run_config=request.run_config,
                        partition_key=request.partition_key,
                        tags={**request.tags, "dagster/run_key": request.run_key},
                    )
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].is_success
