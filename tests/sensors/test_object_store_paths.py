"""Attack: object keys that leave the bucket prefix (``..``, absolute keys, symlinks to another tenant).

The object-arrival sensor must never request a run for an object whose key resolves
outside the store's root, and a run given an object key in its config must refuse it,
naming the config field and the allowed root.
"""

# No `from __future__ import annotations`: Dagster resolves the asset config annotation at definition time.

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from sensors.object_store_arrival import LocalPrefix, ObjectKeyConfig, build_object_arrival_sensor


def _aged(path: Path, seconds: float = 60) -> Path:
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)
    return path


@pytest.fixture
def buckets(tmp_path: Path) -> tuple[Path, Path]:
    """acme's bucket with one genuine object, and the default tenant's bucket with a secret."""
    acme = tmp_path / "tenants" / "acme" / "bucket"
    default = tmp_path / "tenants" / "default" / "bucket"
    (acme / "incoming").mkdir(parents=True)
    (default / "incoming").mkdir(parents=True)
    (acme / "incoming" / "mine.csv").write_text("id\n1\n")
    (default / "incoming" / "secret.csv").write_text("ssn\n010190-12345\n")
    _aged(acme / "incoming" / "mine.csv")
    _aged(default / "incoming" / "secret.csv")
    return acme, default


@dg.op
def _noop() -> None:
    return None


@dg.job
def _intake_job() -> None:
    _noop()


def test_object_sensor_skips_symlinks_out_of_the_bucket(buckets: tuple[Path, Path]) -> None:
    acme, default = buckets
    (acme / "incoming" / "stolen.csv").symlink_to(default / "incoming" / "secret.csv")
    (acme / "incoming" / "linked_dir").symlink_to(default / "incoming", target_is_directory=True)
    (acme / "incoming" / "passwd").symlink_to("/etc/passwd")
    for name in ("stolen.csv", "linked_dir", "passwd"):
        _aged(acme / "incoming" / name)
    store = LocalPrefix(acme)
    sensor = build_object_arrival_sensor(
        "acme_objects", _intake_job, store, "incoming/", lambda o: {"key": o.key}, min_age_seconds=5
    )
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance))
    assert [r.run_config["key"] for r in result.run_requests] == ["incoming/mine.csv"]


def _run_with_key(store: LocalPrefix, key: str) -> dg.ExecuteInProcessResult:
    @dg.asset
    def object_bytes(config: ObjectKeyConfig) -> int:
        return len(store.path_of(config.key, field="ops.object_bytes.config.key").read_bytes())

    return dg.materialize(
        [object_bytes],
        run_config={"ops": {"object_bytes": {"config": {"key": key}}}},
        raise_on_error=False,
    )


@pytest.mark.parametrize(
    "key",
    [
        "../../default/bucket/incoming/secret.csv",
        "incoming/../../../default/bucket/incoming/secret.csv",
        "/etc/passwd",
        "incoming/stolen.csv",
    ],
)
def test_run_config_object_key_outside_the_bucket_is_refused(buckets: tuple[Path, Path], key: str) -> None:
    acme, default = buckets
    (acme / "incoming" / "stolen.csv").symlink_to(default / "incoming" / "secret.csv")
    result = _run_with_key(LocalPrefix(acme), key)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.to_string()  # the refusal is the step error's cause
    assert "ops.object_bytes.config.key" in message
    assert f"allowed root {acme.resolve()}" in message


def test_run_config_object_key_inside_the_bucket_reads(buckets: tuple[Path, Path]) -> None:
    acme, _default = buckets
    result = _run_with_key(LocalPrefix(acme), "incoming/mine.csv")
    assert result.success and result.output_for_node("object_bytes") == len("id\n1\n")
