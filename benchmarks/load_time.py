"""How long a Dagster run pays to load a tenant's code location.

Each measurement is a fresh Python process (as every run worker is): the
time to import ``klikkflow_pipelines.definitions`` and resolve its
repository, against the baseline of importing ``dagster`` alone in the same
run. Also reports whether Presidio, spaCy or Great Expectations were loaded.

    python benchmarks/load_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

HEAVY = ("presidio_analyzer", "presidio_anonymizer", "spacy", "great_expectations")

PROBES = {
    "baseline: import dagster": "import dagster",
    "klikkflow definitions": (
        "from klikkflow_pipelines.definitions import defs\ndefs.get_repository_def().get_all_jobs()"
    ),
}

TEMPLATE = """
import time, json, sys
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def measure(body: str, runs: int) -> tuple[list[float], list[str]]:
    """Seconds of ``body`` in ``runs`` fresh interpreters, and heavy modules seen loaded."""
    seconds, heavy = [], set()
    code = TEMPLATE.format(body=body, heavy=HEAVY)
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        seconds.append(result["seconds"])
        heavy.update(result["heavy"])
    return seconds, sorted(heavy)


def main() -> None:
    """Run every probe, print a table with medians and the ratio to the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {name: measure(body, args.runs) for name, body in PROBES.items()}
    baseline = statistics.median(results["baseline: import dagster"][0])
    print(f"{'probe':<28} {'median s':>9} {'min s':>7} {'max s':>7} {'x baseline':>10}  heavy modules loaded")
    for name, (seconds, heavy) in results.items():
        median = statistics.median(seconds)
        print(
            f"{name:<28} {median:>9.3f} {min(seconds):>7.3f} {max(seconds):>7.3f} "
            f"{median / baseline:>10.2f}  {', '.join(heavy) or 'none'}"
        )
    definitions = statistics.median(results["klikkflow definitions"][0])
    verdict = "OK" if definitions < 2 else "OVER TARGET"
    print(f"\ndefinitions load: {definitions:.3f} s (target < 2 s): {verdict}")


if __name__ == "__main__":
    main()
