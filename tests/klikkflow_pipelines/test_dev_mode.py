"""``klikkflow dev`` as a real subprocess: one port, the printed dev sign-in, tenant switch, stop.

Each start is ``python -m klikkflow_pipelines.cli dev`` with a temporary ``KLIKKFLOW_HOME`` on
a free port, its output piped (so it must carry no ANSI codes and no per-tick sensor chatter).
Stopping it with SIGINT or SIGTERM must leave none of its processes (daemons, code servers).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from klikkflow_pipelines.paths import PROJECT_ROOT
from tests.gateway.helpers import sign_in

CREDENTIALS = re.compile(r"sign in as (\S+) with password (\S+)")


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DevRun:
    """A running ``klikkflow dev`` and the lines it printed so far."""

    popen: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout: float) -> None:
        """Wait until ``needle`` was printed (fail with the output otherwise)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert self.popen.poll() is None, f"klikkflow dev exited:\n{self.text}"
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout}s:\n{self.text}"
            time.sleep(0.2)

    def descendants(self) -> list[psutil.Process]:
        """Every process started under it (daemons, code servers, checkpointer)."""
        return psutil.Process(self.popen.pid).children(recursive=True)

    def stop(self, sig: signal.Signals) -> list[psutil.Process]:
        """Send ``sig``, wait for it to exit; return its former descendants still alive."""
        children = self.descendants()
        self.popen.send_signal(sig)
        self.popen.wait(45)
        _, alive = psutil.wait_procs(children, timeout=5)
        return alive


def start_dev(home: Path, port: int, *args: str, extra_env: Mapping[str, str] | None = None) -> DevRun:
    """Start ``klikkflow dev`` with ``home`` as ``KLIKKFLOW_HOME`` (and ``extra_env``), output piped
    and collected."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "KLIKKFLOW_"))}
    env.update(KLIKKFLOW_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT), PYTHONUNBUFFERED="1")
    env.update(extra_env or {})
    argv = [sys.executable, "-m", "klikkflow_pipelines.cli", "dev", "--port", str(port), *args]
    popen = subprocess.Popen(
        argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    run = DevRun(popen, port)

    def pump() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            run.lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return run


@contextlib.contextmanager
def running_dev(
    home: Path, port: int, *args: str, extra_env: Mapping[str, str] | None = None
) -> Iterator[DevRun]:
    """A started dev whose gateway answers; killed (whole tree) if the test did not stop it."""
    run = start_dev(home, port, *args, extra_env=extra_env)
    try:
        run.wait_for("[gateway] ready on", 150)
        yield run
    finally:
        if run.popen.poll() is None:
            for proc in [*run.descendants(), psutil.Process(run.popen.pid)]:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            run.popen.wait(10)


def test_three_tenants_on_one_port_sign_in_switch_and_sigint(tmp_path: Path) -> None:
    port = free_port()
    with running_dev(tmp_path / "home", port) as run:
        match = CREDENTIALS.search(run.text)
        assert match, run.text
        username, password = match.groups()
        credentials = tmp_path / "home" / "dev-credentials"
        assert credentials.stat().st_mode & 0o777 == 0o600
        assert password in credentials.read_text()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as anonymous:
            assert anonymous.get("/t/acme/").status_code != 200  # no session, no UI
        with httpx.Client(base_url=base, timeout=30) as client:
            assert sign_in(client, username, "wrong password!").status_code != 303
            assert sign_in(client, username, password).status_code == 303
            home = client.get("/")
            assert home.status_code == 200
            for tenant in ("acme", "default", "globex"):
                assert f"/t/{tenant}/" in home.text, home.text
            for tenant in ("acme", "globex"):  # switching tenant: same port, same session
                page = client.get(f"/t/{tenant}/")
                assert page.status_code == 200, page.text[:500]
                assert "<html" in page.text.lower()
        time.sleep(12)  # a few sensor ticks of each daemon
        leftover = run.stop(signal.SIGINT)
        assert run.popen.returncode == 0, run.text[-2000:]
        assert leftover == [], [p.pid for p in leftover]
        output = run.text
        assert "\x1b" not in output
        assert "Checking for new runs for sensor" not in output
        assert "[acme/daemon]" in output and "[globex/daemon]" in output


def test_one_tenant_same_port_known_account_and_sigterm(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    home.mkdir()
    with socket.socket() as busy:  # a taken port: clear message, non-zero exit, quickly
        busy.bind(("127.0.0.1", port))
        busy.listen()
        started = time.monotonic()
        taken = start_dev(home, port, "--tenant", "acme")
        assert taken.popen.wait(30) == 1
        assert time.monotonic() - started < 30
        time.sleep(0.2)
        assert f"port {port}" in taken.text and "--port" in taken.text, taken.text
        assert not (home / "tenants").exists()  # nothing started
    first = start_dev(home, port, "--host", "0.0.0.0", "--tenant", "acme")
    assert first.popen.wait(30) == 2
    time.sleep(0.2)
    assert "--allow-remote" in first.text, first.text
    (home / "dev-credentials").write_text("user: dev\npassword: a-known-password-123\n")
    with running_dev(home, port, "--tenant", "acme") as run:
        assert f"http://127.0.0.1:{port}/" in run.text  # --tenant does not move the port
        assert "password is in" in run.text and CREDENTIALS.search(run.text) is None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert sign_in(client, "dev", "a-known-password-123").status_code == 303
            assert client.get("/t/acme/").status_code == 200
            assert client.get("/t/globex/").status_code != 200  # not served by this run
        leftover = run.stop(signal.SIGTERM)
        assert run.popen.returncode == 0, run.text[-2000:]
        assert leftover == [], [p.pid for p in leftover]
    assert "checkpoint" in run.text  # the audit checkpointer ran, for the served tenant only:
    assert sorted(path.name for path in (home / "tenants").iterdir()) == ["acme"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    from klikkflow_pipelines.tenancy.dev_server import is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
