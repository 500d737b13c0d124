"""The environment scan finds a foreign secret wherever it is: a worker spawned by a tenant process,
a command line, or a process bound to another tenant."""

from __future__ import annotations

import subprocess
import sys
import time

from klikkflow_pipelines.rehearsal.env_scan import EnvScanner

SECRET = "globex-password-7f3a9c1e5b"
# a "code server" that puts the secret into its environment and spawns a "run worker" (as Dagster's
# code server spawns run workers with multiprocessing), which inherits it
SPAWNER = """
import multiprocessing, os, sys, time
os.environ["STOLEN"] = sys.argv[1]
worker = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(30,))
worker.start()
print("spawned", flush=True)
worker.join()
"""


def _spawner(value: str) -> subprocess.Popen:
    """A tenant process that holds ``value`` (command line, then environment) and spawns a worker."""
    root = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, value],
        env={"KLIKKFLOW_TENANT": "acme", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert root.stdout is not None and root.stdout.readline().startswith("spawned")
    return root


def _scan_until(scanner: EnvScanner, done, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scanner.scan_once()
        if done():
            return
        time.sleep(0.2)


def test_a_secret_inherited_by_a_spawned_worker_is_found() -> None:
    root = _spawner(SECRET)
    try:
        scanner = EnvScanner(
            roots=lambda: {root.pid: ("acme", "code-server-acme")},
            forbidden={"acme": {"globex KLIKKFLOW_PG_PASSWORD": SECRET, "short": "x"}},
            tenants=frozenset({"acme"}),
        )
        _scan_until(scanner, lambda: scanner.seen("acme", "run worker") >= 1)
    finally:
        root.kill()
        root.wait()
    roles = {(leak.role, leak.where) for leak in scanner.leaks}
    # the value is in the code server's command line and in the worker's environment (inherited)
    assert ("code-server-acme", "command line") in roles and ("run worker", "environment") in roles
    assert all(leak.secret == "globex KLIKKFLOW_PG_PASSWORD" for leak in scanner.leaks)  # "x" is too short


def test_a_clean_tenant_process_and_its_worker_report_nothing() -> None:
    root = _spawner("a-harmless-value")
    try:
        scanner = EnvScanner(
            roots=lambda: {root.pid: ("acme", "code-server-acme")},
            forbidden={"acme": {"globex KLIKKFLOW_PG_PASSWORD": SECRET}},
            tenants=frozenset({"acme"}),
        )
        _scan_until(scanner, lambda: scanner.seen("acme", "run worker") >= 1)
    finally:
        root.kill()
        root.wait()
    assert scanner.leaks == [] and scanner.seen("acme", "run worker") == 1


def test_a_process_of_one_tenant_bound_to_another_is_reported() -> None:
    """A process under acme's code server that serves globex (KLIKKFLOW_TENANT) is a leak by itself."""
    root = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], env={"KLIKKFLOW_TENANT": "globex"}
    )
    try:
        scanner = EnvScanner(
            roots=lambda: {root.pid: ("acme", "daemon")}, forbidden={}, tenants=frozenset({"acme"})
        )
        _scan_until(scanner, lambda: bool(scanner.processes))
    finally:
        root.kill()
        root.wait()
    (leak,) = scanner.leaks
    assert (leak.owner, leak.role, leak.secret) == ("acme", "daemon", "KLIKKFLOW_TENANT=globex")
