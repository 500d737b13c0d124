"""What ``klikkflow dev`` costs on a laptop, against plain ``dagster dev`` on one tenant.

Each command starts in its own session with a fresh temporary ``KLIKKFLOW_HOME``
(and ``DAGSTER_HOME`` for the baseline), runs for ``--settle`` seconds and is
measured: seconds until its UI first answers 200, processes in its tree,
memory (RSS, PSS and USS summed over the tree, from ``/proc/<pid>/smaps_rollup``
via psutil), listening TCP ports, and the Dagster daemon's "Checking for new
runs for sensor" lines per minute over the last ``--window`` seconds. Then it
is stopped with SIGINT and any process left over is reported (and killed).

The baseline is ``dagster dev -w workspace.yaml`` from the checkout with
``KLIKKFLOW_TENANT=acme``: the built-in code location of one tenant, an empty
``DAGSTER_HOME`` (Dagster's default SQLite instance), one webserver and one
daemon.

    python benchmarks/dev_footprint.py [--settle 90] [--window 60] [--tenants acme default globex]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CHATTER = "Checking for new runs for sensor"


@dataclass
class Footprint:
    """One command's measurements."""

    name: str
    ready_seconds: float | None = None
    processes: int = 0
    rss_mb: float = 0.0
    pss_mb: float = 0.0
    uss_mb: float = 0.0
    ports: list[int] = field(default_factory=list)
    chatter_per_minute: float = 0.0
    ansi_lines: int = 0
    leftover: int = 0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (those still alive)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def session_members(sid: int) -> list[psutil.Process]:
    """Every live process of session ``sid`` (children that re-parented to init included)."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getsid(proc.pid) == sid:
                members.append(proc)
    return members


def snapshot(pid: int, footprint: Footprint) -> None:
    """Fill process count, memory and listening ports of ``pid``'s tree."""
    procs = tree(pid)
    footprint.processes = len(procs)
    rss = pss = uss = 0
    ports: set[int] = set()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            rss, pss, uss = rss + info.rss, pss + info.pss, uss + info.uss
            for conn in proc.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    ports.add(conn.laddr.port)
    footprint.rss_mb, footprint.pss_mb, footprint.uss_mb = (v / 2**20 for v in (rss, pss, uss))
    footprint.ports = sorted(ports)


def wait_ready(url: str, deadline: float) -> float | None:
    """Seconds until ``url`` first answers 200 (polling), or None by ``deadline``."""
    start = time.monotonic()
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as answer,
        ):
            if answer.status == 200:
                return time.monotonic() - start
        time.sleep(0.25)
    return None


def measure(
    name: str, argv: list[str], env: dict[str, str], ready_url: str, settle: float, window: float
) -> Footprint:
    """Run ``argv`` for ``settle`` seconds and measure it (see the module docstring)."""
    footprint = Footprint(name)
    stamps: list[tuple[float, str]] = []
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stamps.append((time.monotonic(), line))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    footprint.ready_seconds = wait_ready(ready_url, started + settle)
    time.sleep(max(0.0, started + settle - time.monotonic()))
    snapshot(proc.pid, footprint)
    since = time.monotonic() - window
    footprint.chatter_per_minute = (
        sum(1 for t, line in stamps if t >= since and CHATTER in line) * 60 / window
    )
    footprint.ansi_lines = sum(1 for _, line in stamps if "\x1b" in line)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(30)
    time.sleep(1)
    leftover = session_members(proc.pid)
    footprint.leftover = len(leftover)
    for left in leftover:
        with contextlib.suppress(psutil.Error):
            left.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if os.environ.get("DEV_FOOTPRINT_LOG"):
        slug = re.sub(r"\W+", "_", name)
        Path(os.environ["DEV_FOOTPRINT_LOG"], f"{slug}.log").write_text("".join(line for _, line in stamps))
    return footprint


def base_env(home: Path) -> dict[str, str]:
    """This environment with a fresh ``KLIKKFLOW_HOME`` and the checkout on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "KLIKKFLOW_"))}
    env.update(KLIKKFLOW_HOME=str(home), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return env


def main() -> None:
    """Measure the baseline and ``klikkflow dev``; print a table with ratios to the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settle", type=float, default=90.0, help="seconds each command runs before measuring"
    )
    parser.add_argument("--window", type=float, default=60.0, help="seconds of output counted for chatter")
    parser.add_argument("--tenants", nargs="+", default=["acme", "default", "globex"])
    parser.add_argument(
        "--ready-path", default="/healthz", help="path of klikkflow dev's UI that answers 200 when up"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_baseline:
            port = free_port()
            env = base_env(Path(tmp, "baseline"))
            Path(tmp, "baseline-dagster").mkdir()
            env.update(DAGSTER_HOME=str(Path(tmp, "baseline-dagster")), KLIKKFLOW_TENANT="acme")
            argv = [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "-p", str(port)]
            results.append(
                measure(
                    "dagster dev (1 tenant)",
                    argv,
                    env,
                    f"http://127.0.0.1:{port}/server_info",
                    args.settle,
                    args.window,
                )
            )
        port = free_port()
        tenants = [arg for t in args.tenants for arg in ("--tenant", t)]
        argv = [sys.executable, "-m", "klikkflow_pipelines.cli", "dev", *tenants, "--port", str(port)]
        name = f"klikkflow dev ({len(args.tenants)} tenants)"
        ready = f"http://127.0.0.1:{port}{args.ready_path}"
        results.append(measure(name, argv, base_env(Path(tmp, "dev")), ready, args.settle, args.window))
    base = results[0]
    print(
        f"{'command':28} {'ready s':>8} {'procs':>6} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8} "
        f"{'sensor lines/min':>17} {'ANSI lines':>10} {'leftover':>8}  ports"
    )
    for r in results:
        ready = f"{r.ready_seconds:.1f}" if r.ready_seconds is not None else "never"
        print(
            f"{r.name:28} {ready:>8} {r.processes:>6} {r.rss_mb:>8.0f} {r.pss_mb:>8.0f} {r.uss_mb:>8.0f} "
            f"{r.chatter_per_minute:>17.1f} {r.ansi_lines:>10} {r.leftover:>8}  {r.ports}"
        )
    if len(results) > 1:
        r = results[-1]
        print(
            f"ratio to baseline: processes x{r.processes / max(base.processes, 1):.1f}, "
            f"PSS x{r.pss_mb / max(base.pss_mb, 1):.1f}, ports x{len(r.ports) / max(len(base.ports), 1):.1f}"
        )


if __name__ == "__main__":
    main()
