"""Inbox hygiene on the real onboarding sensors, a real instance and real runs.

* a drop whose run succeeded moves to ``processed/<run id>/`` and never runs again;
* a drop whose run failed stays in the inbox for its retry, unless the run could not read it;
* an old partition materializes again from ``processed/``;
* invalid drops go to ``rejected/`` with a reason file and a dead letter, without holding up the
  valid drop of the same tick; a dead letter's replay puts the fixed file back into the inbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._serdes import serialize_value
from typer.testing import CliRunner

from klikkflow_pipelines.cli.dlq import dlq_app
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.events.dead_letters import DeadLetters
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine

HEADER = "customer_ref,first_name,last_name,email,phone,country,signup_date,channel"
ROW = "C{n},Ola,Nordmann,ola{n}@example.com,91234567,NO,2026-01-02,web"


def _inbox() -> Path:
    return tenant_home("default") / "inbox" / "onboarding"


def _drop(name: str, text: str, age_seconds: float = 60) -> Path:
    path = _inbox() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def _csv(rows: int) -> str:
    return "\n".join([HEADER, *(ROW.format(n=n) for n in range(rows))]) + "\n"


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    sensor = defs.resolve_sensor_def("customer_drop_arrival")
    context = dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs
    )
    return sensor.evaluate_tick(context)


def _run(
    defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("customer_drops", [request.partition_key])
    return defs.resolve_job_def("customer_onboarding_job").execute_in_process(
        instance=instance,
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags={**request.tags, "dagster/run_key": request.run_key},
        raise_on_error=False,
    )


def _after_run(defs: dg.Definitions, instance: dg.DagsterInstance, run_id: str) -> None:
    """Evaluate the processed-drop sensor on the finished run, as the daemon does."""
    sensor = defs.resolve_sensor_def("customer_drop_processed")
    run = instance.get_run_by_id(run_id)
    event_type = dg.DagsterEventType.RUN_SUCCESS if run.is_success else dg.DagsterEventType.RUN_FAILURE
    (record,) = instance.all_logs(run_id, of_type=event_type)
    sensor(
        dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=record.dagster_event,
            dagster_instance=instance,
            dagster_run=run,
        )
    )


def _after_failure(defs: dg.Definitions, instance: dg.DagsterInstance, run_id: str) -> None:
    """Evaluate the failed-drop sensor on the failed run, as the daemon does."""
    sensor = defs.resolve_sensor_def("customer_drop_failed")
    (record,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    sensor(
        dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=record.dagster_event,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run_id),
        ).for_run_failure()
    )


def _rows_read(instance: dg.DagsterInstance, partition: str) -> int:
    event = instance.get_latest_materialization_event(dg.AssetKey("raw_customer_drops"))
    materialization = event.asset_materialization
    assert materialization.partition == partition
    return materialization.metadata["dagster/row_count"].value


def test_processed_drop_moves_once_and_old_partition_materializes_again() -> None:
    defs = build_definitions(load_tenant("default"))
    drop = _drop("a.csv", _csv(2))
    mtime = drop.stat().st_mtime_ns
    with dg.instance_for_test() as instance:
        tick = _tick(defs, instance)
        (request,) = tick.run_requests
        result = _run(defs, instance, request)
        assert result.success
        _after_run(defs, instance, result.run_id)
        moved = _inbox() / "processed" / result.run_id / "a.csv"
        assert not drop.exists() and moved.stat().st_mtime_ns == mtime
        _after_run(defs, instance, result.run_id)  # a second evaluation (restart, second daemon)
        assert moved.exists() and sorted(p.name for p in _inbox().rglob("a.csv")) == ["a.csv"]

        # The moved file is no new arrival, neither with the cursor nor from scratch.
        assert not _tick(defs, instance, tick.cursor).run_requests
        assert not _tick(defs, instance).run_requests

        # A newer a.csv (3 rows) arrives; the old partition still reads its own version (2 rows),
        # with the old run's config (path in the inbox) as with none.
        _drop("a.csv", _csv(3), age_seconds=30)
        for run_config in (request.run_config, {}):
            again = defs.resolve_job_def("customer_onboarding_job").execute_in_process(
                instance=instance, partition_key=request.partition_key, run_config=run_config
            )
            assert again.success and _rows_read(instance, request.partition_key) == 2
            _after_run(defs, instance, again.run_id)  # its file is no longer in the inbox: stays put
        assert moved.exists() and (_inbox() / "a.csv").read_text() == _csv(3)
        (newer,) = _tick(defs, instance, tick.cursor).run_requests
        assert newer.partition_key != request.partition_key


def test_failed_run_keeps_its_drop_for_the_retry_unless_its_content_is_unreadable() -> None:
    defs = build_definitions(load_tenant("default"))
    drop = _drop("a.csv", _csv(2))
    warehouse = tenant_home("default") / "warehouse.db"
    warehouse.mkdir(parents=True)  # the warehouse cannot be opened: a failure a retry can fix
    with dg.instance_for_test() as instance:
        (request,) = _tick(defs, instance).run_requests
        result = _run(defs, instance, request)
        assert not result.success
        _after_run(defs, instance, result.run_id)
        _after_failure(defs, instance, result.run_id)
        assert drop.exists() and sorted(p.name for p in _inbox().iterdir()) == ["a.csv"]

        warehouse.rmdir()  # fixed: the retry of the same partition reads the same file
        retry = _run(defs, instance, request)
        assert retry.success
        _after_run(defs, instance, retry.run_id)
        assert (_inbox() / "processed" / retry.run_id / "a.csv").exists() and not drop.exists()

        # A JSON Lines file whose first line is fine but a later one is broken passes the
        # sensor's header check; the run cannot read it, so its file is rejected after the run.
        good = json.dumps(dict(zip(HEADER.split(","), ROW.format(n=1).split(","), strict=True)))
        broken = _drop("b.jsonl", f"{good}\n{{broken\n", age_seconds=30)
        (request,) = _tick(defs, instance).run_requests[-1:]
        assert request.partition_key.startswith("b.jsonl@")
        result = _run(defs, instance, request)
        assert not result.success
        _after_run(defs, instance, result.run_id)
        _after_failure(defs, instance, result.run_id)
        assert not broken.exists()
        (rejected,) = (_inbox() / "rejected").glob("b.jsonl@*/b.jsonl")
        reason = json.loads((rejected.parent / "b.jsonl.reason.json").read_text())
        assert result.run_id in reason["problem"] and "b.jsonl" in reason["problem"]
        assert not instance.has_dynamic_partition("customer_drops", request.partition_key)
        (entry,) = DeadLetters(tenant_storage_engine("default")).list()
        assert entry.payload["drop_file"] == "b.jsonl" and entry.failed_run_id.startswith("rejected:")


def test_invalid_drops_are_rejected_with_reason_and_dead_letter_and_replayed() -> None:
    defs = build_definitions(load_tenant("default"))
    _drop("good.csv", _csv(1))
    _drop("empty.csv", "")
    _drop("short.csv", "email\nx@example.com\n")
    _drop("notes.txt", "not a drop")
    _drop("broken.json", "{not json\n")
    link = _inbox() / "passwd.csv"
    link.symlink_to("/etc/passwd")
    os.utime(link, (time.time() - 60,) * 2, follow_symlinks=False)
    _drop(".upload.csv", "hidden: ignored")
    _drop("big.csv.part", "upload in progress: ignored")
    problems = {
        "empty.csv": "empty",
        "short.csv": "lacks the required column(s) customer_ref",
        "notes.txt": "unsupported format '.txt'",
        "broken.json": "not JSON",
        "passwd.csv": "outside the inbox",
    }
    with dg.instance_for_test() as instance:
        tick = _tick(defs, instance)
        (request,) = tick.run_requests
        assert request.partition_key.startswith("good.csv@")
        assert _run(defs, instance, request).success  # the rejects held up nothing

        remaining = sorted(p.name for p in _inbox().iterdir())
        assert remaining == [".klikkflow-inbox.lock", ".upload.csv", "big.csv.part", "good.csv", "rejected"]
        for name, problem in problems.items():
            (rejected,) = (_inbox() / "rejected").glob(f"{name}@*/{name}")
            reason = json.loads((rejected.parent / f"{name}.reason.json").read_text())
            assert reason["file"] == name and problem in reason["problem"] and reason["fix"]
        assert Path("/etc/passwd").is_file()  # the link moved, its target untouched

        letters = DeadLetters(tenant_storage_engine("default"))
        entries = {e.payload["drop_file"]: e for e in letters.list()}
        assert set(entries) == set(problems)
        assert all(e.failed_run_id.startswith("rejected:") for e in entries.values())
        listed = CliRunner(env={"COLUMNS": "300"}).invoke(dlq_app, ["list", "--tenant", "default"])
        assert listed.exit_code == 0 and "5 dead letter(s)" in listed.output
        assert "rejected drop short.csv" in listed.output

        # The same files seen again (no cursor): nothing rejected twice, no second dead letter.
        assert [r.partition_key for r in _tick(defs, instance).run_requests] == [request.partition_key]
        assert len(letters.list()) == 5

        # Fix short.csv where it lies, replay: back in the inbox as a new version, which runs.
        entry = entries["short.csv"]
        Path(entry.payload["rejected_file"]).write_text(_csv(1))
        cli = CliRunner(env={"COLUMNS": "300"})
        replayed = cli.invoke(dlq_app, ["replay", str(entry.id), "--tenant", "default"])
        assert replayed.exit_code == 0, replayed.output
        assert "short.csv is back in" in replayed.output
        assert (_inbox() / "short.csv").read_text() == _csv(1)
        assert not list((_inbox() / "rejected").glob("short.csv@*"))
        time.sleep(2.1)  # the sensor waits until a file is min_file_age_seconds old
        (rerun,) = _tick(defs, instance, tick.cursor).run_requests
        assert rerun.partition_key.startswith("short.csv@") and _run(defs, instance, rerun).success
        assert "4 dead letter(s)" in cli.invoke(dlq_app, ["list", "--tenant", "default"]).output
        assert entry.id not in [e.id for e in letters.list()]

        # The rejected symlink is never followed back: its replay refuses, /etc/passwd untouched.
        passwd_mtime = Path("/etc/passwd").stat().st_mtime_ns
        refused = cli.invoke(dlq_app, ["replay", str(entries["passwd.csv"].id), "--tenant", "default"])
        assert refused.exit_code == 1 and "is a symlink" in refused.output
        assert Path("/etc/passwd").stat().st_mtime_ns == passwd_mtime

        # Replaying a rejected file whose name is taken in the inbox refuses, naming the file.
        _drop("empty.csv", _csv(1))
        refused = cli.invoke(dlq_app, ["replay", str(entries["empty.csv"].id), "--tenant", "default"])
        assert refused.exit_code == 1 and "empty.csv exists" in refused.output


TWIN = """
import json, sys, time
import dagster as dg
from dagster._serdes import deserialize_value
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import load_tenant
ref, run_id, start = deserialize_value(sys.argv[1]), sys.argv[2], float(sys.argv[3])
defs = build_definitions(load_tenant("default"))
instance = dg.DagsterInstance.from_ref(ref)
processed = defs.resolve_sensor_def("customer_drop_processed")
arrival = defs.resolve_sensor_def("customer_drop_arrival")
run = instance.get_run_by_id(run_id)
(record,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
while time.time() < start:
    pass
processed(dg.build_run_status_sensor_context(
    sensor_name=processed.name, dagster_event=record.dagster_event, dagster_instance=instance, dagster_run=run
))
tick = arrival.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
print(json.dumps([r.partition_key for r in tick.run_requests]))
"""


def test_two_sensor_processes_at_once_move_and_reject_each_file_once() -> None:
    """Two daemons evaluating the real sensors on the same inbox and run at the same moment."""
    defs = build_definitions(load_tenant("default"))
    _drop("good.csv", _csv(1))
    bad = {f"bad{n}.csv": "email\nx@example.com\n" for n in range(6)} | {"empty.csv": "", "x.txt": "?"}
    with dg.instance_for_test() as instance:
        (request,) = _tick(defs, instance).run_requests
        result = _run(defs, instance, request)
        assert result.success
        for name, text in bad.items():
            _drop(name, text, age_seconds=30)
        start = time.time() + 8  # both loaded their definitions well before
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        argv = [sys.executable, "-c", TWIN, serialize_value(instance.get_ref()), result.run_id, str(start)]
        twins = [subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, text=True) for _ in range(2)]
        outputs = [json.loads(t.communicate(timeout=120)[0].strip().splitlines()[-1]) for t in twins]
    assert [t.returncode for t in twins] == [0, 0]
    assert outputs == [[], []]  # no run for the moved file nor for the rejected ones
    assert [p.relative_to(_inbox()).as_posix() for p in _inbox().rglob("good.csv")] == [
        f"processed/{result.run_id}/good.csv"
    ]
    for name in bad:
        (rejected,) = _inbox().rglob(name)
        assert rejected.parent.parent.name == "rejected"
        assert rejected.with_name(f"{name}.reason.json").exists()
    letters = DeadLetters(tenant_storage_engine("default")).list()
    assert sorted(e.payload["drop_file"] for e in letters) == sorted(bad)
