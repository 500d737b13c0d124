"""The inbox movers (``klikkflow_pipelines.events.drop_inbox``): validation, and moves that two
processes at once neither lose nor duplicate, nor apply to a newer file of the same name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.events.dead_letters import DeadLetters
from klikkflow_pipelines.events.drop_inbox import (
    DropProblem,
    check_drop,
    find_drop_version,
    move_to_processed,
    reject_drop,
    rejected_path,
    restore_rejected,
)
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine

COLUMNS = ("customer_ref", "email")
MOVER = """
import json, sys, time
from pathlib import Path
from klikkflow_pipelines.events.drop_inbox import DropProblem, move_to_processed, reject_drop
inbox, start, jobs = Path(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
while time.time() < start:
    pass
done = {}
for name, mtime_ns in jobs:
    if name.startswith("bad"):
        moved = reject_drop(inbox, name, mtime_ns, DropProblem("bad", "fix it"), "wf")
    else:
        moved = move_to_processed(inbox, name, mtime_ns, f"run-{name}")
    done[name] = str(moved)
print(json.dumps(done))
"""


def test_check_drop_names_each_problem_and_its_fix(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cases = {
        "ok.csv": ("customer_ref,email\nC1,a@b.example\n", None),
        "ok.jsonl": ('{"customer_ref": "C1"}\n', None),
        "big.csv": ("customer_ref,email\n" + "C1,a@b.example\n" * 20, "more than the limit of 100"),
        "latin1.csv": (b"customer_ref,e\xf8mail\n", "not UTF-8"),
        "list.json": ("[1, 2]\n", "not a JSON object"),
        "tab\tname.csv": ("customer_ref,email\n", "control characters"),
        "noheader.csv": ("C1,a@b.example\n", "lacks the required column(s) customer_ref, email"),
    }
    for name, (content, expected) in cases.items():
        path = inbox / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        problem = check_drop(path, inbox, (".csv", ".json", ".jsonl"), COLUMNS, max_bytes=100)
        if expected is None:
            assert problem is None, name
        else:
            assert problem is not None and expected in problem.problem and problem.fix, name


def test_two_processes_moving_the_same_drops_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jobs = []
    for n in range(200):
        name = f"{'bad' if n % 4 == 0 else 'drop'}{n:02d}.csv"
        (inbox / name).write_text(f"content {n}\n")
        jobs.append((name, (inbox / name).stat().st_mtime_ns))
    start = time.time() + 3  # both processes are up and importing well before
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    movers = [
        subprocess.Popen(
            [sys.executable, "-c", MOVER, str(inbox), str(start), json.dumps(jobs)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    results = [json.loads(m.communicate(timeout=60)[0]) for m in movers]
    assert [m.returncode for m in movers] == [0, 0]
    for n, (name, mtime_ns) in enumerate(jobs):
        if name.startswith("bad"):
            expected = rejected_path(inbox, name, mtime_ns)
            assert json.loads(expected.with_name(f"{name}.reason.json").read_text())["problem"] == "bad"
        else:
            expected = inbox / "processed" / f"run-{name}" / name
        # Both processes report the one place the file is now; it is there once, intact.
        assert results[0][name] == results[1][name] == str(expected)
        assert expected.read_text() == f"content {n}\n" and expected.stat().st_mtime_ns == mtime_ns
        assert [p for p in inbox.rglob(name)] == [expected]
    assert sorted(p.name for p in inbox.iterdir()) == [".klikkflow-inbox.lock", "processed", "rejected"]


def test_a_stale_mover_leaves_a_newer_file_of_the_same_name(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "a.csv"
    path.write_text("old\n")
    old = path.stat().st_mtime_ns
    path.write_text("new\n")
    os.utime(path, ns=(old + 10**9, old + 10**9))
    assert move_to_processed(inbox, "a.csv", old, "run-1") is None
    assert reject_drop(inbox, "a.csv", old, DropProblem("p", "f"), "wf") is None
    assert path.read_text() == "new\n" and sorted(p.name for p in inbox.iterdir()) == [
        ".klikkflow-inbox.lock",
        "a.csv",
    ]
    assert find_drop_version(inbox, "a.csv", old) is None
    assert find_drop_version(inbox, "a.csv", old + 10**9) == path


def test_a_crash_between_dead_letter_and_move_is_finished_by_the_next_tick() -> None:
    """The rejecter writes the dead letter first; a tick that died right after leaves the file in the
    inbox and its entry in the table. The next tick (same cursor) moves the file, adding no entry."""
    inbox = tenant_home("default") / "inbox" / "onboarding"
    inbox.mkdir(parents=True)
    path = inbox / "short.csv"
    path.write_text("email\nx@example.com\n")
    os.utime(path, (time.time() - 60,) * 2)
    mtime_ns = path.stat().st_mtime_ns
    letters = DeadLetters(tenant_storage_engine("default"))
    problem = DropProblem("CSV header lacks the required column(s)", "give the header")
    letters.add_rejected_drop(
        tenant="default",
        workflow="customer_onboarding_job",
        inbox=inbox,
        name="short.csv",
        mtime_ns=mtime_ns,
        rejected_file=rejected_path(inbox, "short.csv", mtime_ns),
        problem=problem,
    )
    defs = build_definitions(load_tenant("default"))
    sensor = defs.resolve_sensor_def("customer_drop_arrival")
    with dg.instance_for_test() as instance:
        result = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(), definitions=defs)
        )
    assert not result.run_requests and not path.exists()
    assert rejected_path(inbox, "short.csv", mtime_ns).read_text() == "email\nx@example.com\n"
    (entry,) = letters.list()
    assert entry.payload["rejected_file"] == str(rejected_path(inbox, "short.csv", mtime_ns))


def test_restore_refuses_a_path_outside_rejected(tmp_path: Path) -> None:
    """A dead letter's stored path is only ever a file under the inbox's ``rejected/``."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x\n")
    with pytest.raises(PermissionError, match="not a rejected drop"):
        restore_rejected(inbox, outside)
    assert outside.exists() and not (inbox / "elsewhere.csv").exists()
