"""Object arrival under a prefix: one run per new object version, nothing twice, nothing half-written."""

from __future__ import annotations

import os
import time

import dagster as dg

from sensors.object_store_arrival import LocalPrefix, build_object_arrival_sensor

from .event_jobs import intake_job


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_new_objects_under_the_prefix_run_once_and_reuploads_run_again(tmp_path) -> None:
    bucket = tmp_path / "bucket"
    (bucket / "incoming" / "2026").mkdir(parents=True)
    (bucket / "other").mkdir()
    first = bucket / "incoming" / "2026" / "a.csv"
    first.write_text("id\n1\n")
    _age(first, 60)
    outside = bucket / "other" / "b.csv"
    outside.write_text("x")
    _age(outside, 60)
    fresh = bucket / "incoming" / "c.csv"
    fresh.write_text("still uploading")  # too young: not yet complete
    store = LocalPrefix(bucket)
    sensor = build_object_arrival_sensor(
        "incoming_objects", intake_job, store, "incoming/", lambda o: {}, min_age_seconds=5
    )
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance))
        assert [r.tags["klikkflow/source_object"] for r in result.run_requests] == [
            f"{store.uri}/incoming/2026/a.csv"
        ]
        again = sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
        assert again.run_requests == []  # same version: no second run

        _age(fresh, 30)  # upload finished
        first.write_text("id\n1\n2\n")  # re-uploaded: a new version
        _age(first, 20)
        later = sensor(dg.build_sensor_context(instance=instance, cursor=again.cursor))
        keys = [r.run_key for r in later.run_requests]
        assert len(keys) == 2 and len(set(keys) | {result.run_requests[0].run_key}) == 3
