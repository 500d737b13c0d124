"""`run_dev`'s supervisor with real `dagster-daemon run` and `dagster-webserver` processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.instance import tenant_instance
from klikkflow_pipelines.tenancy.supervisor import build_supervisor


class Lines:
    """A thread-safe text sink the supervisor writes its prefixed output to."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        return None

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _webserver_up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "tenants"
    directory.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "tenants" / "globex.yaml", directory / "globex.yaml")
    (directory / "broken.yaml").write_text("id: broken\nname: Broken\ntimezone: Mars/Olympus\n")
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(directory))
    return directory


def test_daemon_and_webserver_per_tenant_restarted_when_killed(
    tenants_dir: Path, klikkflow_home: Path, free_port
) -> None:
    output = Lines()
    port = free_port()
    supervisor = build_supervisor(None, webservers=True, base_port=port, output=output)  # type: ignore[arg-type]

    assert "[broken] NOT STARTED" in output.text and "Mars/Olympus" in output.text
    assert set(supervisor.processes) == {"globex/daemon", "globex/webserver"}
    daemon = supervisor.processes["globex/daemon"]
    assert daemon.spec.env["DAGSTER_HOME"] == str(klikkflow_home / "tenants" / "globex")
    assert daemon.spec.env["KLIKKFLOW_TENANT"] == "globex"
    assert daemon.spec.cwd == klikkflow_home / "tenants" / "globex"

    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        with tenant_instance("globex") as instance:
            _wait_for(
                lambda: bool(instance.get_daemon_heartbeats()),
                120,
                "daemon heartbeats in the tenant instance",
            )
        _wait_for(lambda: _webserver_up(port), 120, "the tenant webserver")
        first_pid = daemon.pids[-1]

        os.killpg(first_pid, signal.SIGKILL)  # crash the daemon (and its code server)
        _wait_for(lambda: daemon.restarts == 1 and _alive(daemon.pids[-1]), 30, "the daemon restart")
        assert daemon.pids[-1] != first_pid
        assert "[globex/daemon] exited with code -9; restarting" in output.text
        assert supervisor.processes["globex/webserver"].restarts == 0
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    all_pids = [pid for process in supervisor.processes.values() for pid in process.pids]
    _wait_for(lambda: not any(_alive(pid) for pid in all_pids), 15, "every supervised process to exit")
    lines = [line for line in output.text.splitlines() if line.startswith("[globex/")]
    assert any(
        "daemon" in line.lower()
        for line in lines
        if line.startswith("[globex/daemon]") and "started" not in line
    )


SIGTERM_SCRIPT = """
import sys
from pathlib import Path
from klikkflow_pipelines.tenancy.supervisor import ProcessSpec, Supervisor

child = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(600)"
Supervisor([ProcessSpec("child", [sys.executable, "-c", child], {}, Path.cwd())]).run()
print("supervisor stopped", flush=True)
"""


def test_sigterm_stops_the_supervisor_and_its_children(tmp_path: Path) -> None:
    script = tmp_path / "supervise.py"
    script.write_text(SIGTERM_SCRIPT)
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    child_pid = 0
    while not child_pid:
        line = parent.stdout.readline()
        assert line, "the supervisor exited before its child started"
        if line.startswith("[child] pid "):
            child_pid = int(line.split()[-1])
    assert _alive(child_pid)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(30) == 0
    assert "supervisor stopped" in parent.stdout.read()
    _wait_for(lambda: not _alive(child_pid), 15, "the supervised child to exit")


def test_a_process_that_inherits_nothing_gets_only_its_own_environment(monkeypatch) -> None:
    """``inherit_env=False`` (a pod's environment): nothing of the supervisor's reaches the child."""
    from klikkflow_pipelines.tenancy.supervisor import ProcessSpec, Supervisor

    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "a-platform-secret-the-child-must-not-see")
    child = "import json, os; print('env', json.dumps(sorted(os.environ)), flush=True)"
    spec = ProcessSpec("child", [sys.executable, "-c", child], {"ONLY": "this"}, inherit_env=False)
    output = Lines()
    supervisor = Supervisor([spec], output=output)
    supervisor.start()
    try:
        _wait_for(lambda: "[child] env " in output.text, 30, "the child's environment")
    finally:
        supervisor.stop()
    names = output.text.split("[child] env ", 1)[1].splitlines()[0]
    assert "KLIKKFLOW_AUDIT_KEY" not in names and "ONLY" in names
    assert spec.environment() == {"ONLY": "this"}
