"""Nested vs flat: classify + enforce one Struct column of 3 leaves against the same data as 3 flat columns.

    python benchmarks/nested_bench.py              # 100,000 rows, best of 5
    python benchmarks/nested_bench.py --rows 1000000 --repeat 3

Leaves: e-mail (hash), SSN (tokenize), phone (mask, last 4), every value
distinct, so the per-distinct-value crypto does the most work it can. Pattern
classification only (no spaCy model), the same for both shapes.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import polars as pl

from compliance.classify import classify_frame
from compliance.crypto import derive_keys
from compliance.enforce import enforce
from compliance.nlp import build_engines
from compliance.policy import policy_from_mapping

POLICY = {
    "rules": [
        {"name": "tokenize-ssn", "match": {"entities": ["US_SSN"]}, "action": "tokenize"},
        {"name": "hash-emails", "match": {"entities": ["EMAIL_ADDRESS"]}, "action": "hash"},
        {"name": "mask-phones", "match": {"entities": ["PHONE_NUMBER"]}, "action": "mask", "keep_last": 4},
    ]
}


def flat_frame(rows: int) -> pl.DataFrame:
    """``rows`` distinct e-mails, SSNs and phone numbers as three String columns."""
    rng = random.Random(3)
    return pl.DataFrame(
        {
            "email": [f"user{i}.{rng.randrange(10**6)}@example.com" for i in range(rows)],
            "ssn": [
                f"{rng.randrange(1, 899):03d}-{rng.randrange(1, 99):02d}-{rng.randrange(1, 9999):04d}"
                for _ in range(rows)
            ],
            "phone": [f"+47 {rng.randrange(10**7, 10**8)}" for _ in range(rows)],
        }
    )


def _run(frame: pl.DataFrame) -> tuple[float, float]:
    """Seconds to classify ``frame``, and to classify and enforce it."""
    engines, keys, policy = build_engines(""), derive_keys(b"k" * 32), policy_from_mapping(POLICY)
    start = time.perf_counter()
    report = classify_frame(frame, engines=engines)
    classified = time.perf_counter()
    enforce(frame, policy, report, asset="bench", keys=keys, engines=engines)
    return classified - start, time.perf_counter() - start


def main() -> None:
    """Print the best-of-N classify and classify+enforce times of both shapes and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    flat = flat_frame(args.rows)
    nested = flat.select(pl.struct("email", "ssn", "phone").alias("contact"))
    runs: dict[str, list[tuple[float, float]]] = {"flat": [], "nested": []}
    for _ in range(args.repeat):  # interleaved, so load from other processes hits both alike
        runs["flat"].append(_run(flat))
        runs["nested"].append(_run(nested))
    flat_classify, flat_total = (min(r[i] for r in runs["flat"]) for i in (0, 1))
    nested_classify, nested_total = (min(r[i] for r in runs["nested"]) for i in (0, 1))
    print(
        json.dumps(
            {
                "rows": args.rows,
                "flat_s": {"classify": round(flat_classify, 3), "classify_enforce": round(flat_total, 3)},
                "nested_s": {
                    "classify": round(nested_classify, 3),
                    "classify_enforce": round(nested_total, 3),
                },
                "ratio_classify_enforce": round(nested_total / flat_total, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
