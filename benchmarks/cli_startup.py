"""How fast the ``klikkflow`` command answers: ``--help`` and a few simple commands.

Each measurement is the wall time of a fresh process (as a person typing the
command sees it), against the baseline of ``dagster --help`` from the same
virtual environment. Commands run on a throwaway ``KLIKKFLOW_HOME`` holding
one small audit log, so the numbers do not depend on local state.

    python benchmarks/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 1.0
BASELINE = "dagster --help"
COMMANDS: dict[str, list[str]] = {
    "klikkflow --help": ["--help"],
    "klikkflow tenant --help": ["tenant", "--help"],
    "klikkflow policy --help": ["policy", "--help"],
    "klikkflow tenant list": ["tenant", "list"],
    "klikkflow audit verify": ["audit", "verify", "--tenant", "acme"],
}

SMALL_LOG = """
from compliance.audit import audit_log_for_tenant
log = audit_log_for_tenant("acme")
for n in range(5):
    log.append(actor="bench", action="probe", target=str(n), outcome="success")
"""


def _klikkflow(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "klikkflow_pipelines.cli", *args]


def _dagster() -> list[str]:
    script = Path(sys.executable).with_name("dagster")
    return [str(script), "--help"] if script.exists() else [sys.executable, "-m", "dagster", "--help"]


def measure(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Wall seconds of ``argv`` in ``runs`` fresh processes (each must exit 0)."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Measure every command and the baseline; print medians, ratios and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "KLIKKFLOW_HOME": home, "COLUMNS": "100"}
        env.pop("KLIKKFLOW_TENANT", None)
        # a small audit log for `audit verify` (made once; not timed)
        subprocess.run([sys.executable, "-c", SMALL_LOG], env=env, capture_output=True, check=True)
        results = {BASELINE: measure(_dagster(), args.runs, env)}
        results.update({name: measure(_klikkflow(argv), args.runs, env) for name, argv in COMMANDS.items()})
    baseline = statistics.median(results[BASELINE])
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'max s':>7} {'x ' + BASELINE:>18}")
    slow = []
    for name, seconds in results.items():
        median = statistics.median(seconds)
        print(
            f"{name:<28} {median:>9.3f} {min(seconds):>7.3f} {max(seconds):>7.3f} {median / baseline:>18.2f}"
        )
        if name != BASELINE and median >= TARGET_SECONDS:
            slow.append(name)
    print(f"\ntarget < {TARGET_SECONDS:g} s: {'OK' if not slow else 'OVER TARGET: ' + ', '.join(slow)}")


if __name__ == "__main__":
    main()
