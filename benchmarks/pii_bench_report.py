"""Scores and tables for ``pii_bench.py``: column P/R/F1 against the generated labels, ratios to ours."""

from __future__ import annotations

import argparse
import os
from typing import Any

from pii_bench_data import FREE_TEXT, LABELS

TARGET_WALL_S = 15.0
TARGET_PEAK_MIB = 4096.0
TARGET_SPEEDUP = 20.0
TARGET_F1 = 0.97
TITLES = {
    "ours": "(a) ours: classify + enforce (Polars)",
    "structured": "(b) presidio-structured analyse + anonymise",
    "per-cell": "(c) BatchAnalyzerEngine per cell (extrap.)",
}


def column_scores(labels: dict[str, str | None]) -> tuple[float, float, float, list[str], list[str]]:
    """Precision, recall and F1 over the labelled columns, the false positives and the misses.

    A false positive is a label other than the true one (an entity on a non-PII column, or the
    wrong entity on a PII column, which is a miss as well).
    """
    tp = sum(1 for c, truth in LABELS.items() if truth and labels.get(c) == truth)
    false = [f"{c}={labels[c]}" for c, truth in LABELS.items() if labels.get(c) and labels.get(c) != truth]
    missed = [f"{c}={labels.get(c)}" for c, truth in LABELS.items() if truth and labels.get(c) != truth]
    precision = tp / (tp + len(false)) if tp + len(false) else 0.0
    recall = tp / (tp + len(missed)) if tp + len(missed) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, false, missed


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def print_data(args: argparse.Namespace, generated: dict[str, Any]) -> None:
    """The table's shape, distinct share per column and the valid share of the generated identifiers."""
    pii = sum(1 for t in LABELS.values() if t)
    print(f"\nPII benchmark: {args.rows:,} rows x {len(LABELS) + 1} columns ({pii} PII, {len(LABELS) - pii} "
          f"non-PII, 1 free text), sample {args.sample}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    if args.anonymous_columns:
        print("columns renamed col_01 ... col_20 for every method (no column-name signal)")
    distinct = ", ".join(f"{c} {v:.2f}" for c, v in generated["distinct"].items())
    print(f"generated in {generated['wall']:.0f} s; distinct values / rows: {distinct}")
    valid = ", ".join(f"{c} {v:.4f}" for c, v in generated["valid"].items())
    print(f"valid share of 2,000 values (python-stdnum; phonenumbers; NINO rule regex): {valid}")


def print_table(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """The table benchmark: one line per method, its false positives and misses, and the targets."""
    ours = results["ours"]
    header = (f"{'method':<44} {'wall s':>8} {'cpu s':>8} {'peak MiB':>8} {'rows/s':>10} {'P':>5} {'R':>5} "
              f"{'F1':>5} {'FP':>3} {'vs ours':>8}")  # fmt: skip
    print(f"\n{header}\n{'-' * len(header)}")
    for key, title in TITLES.items():
        r = results[key]
        p, rec, f1, false, _ = column_scores(r["labels"])
        print(f"{title:<44} {r['wall']:>8.1f} {r['cpu']:>8.1f} {r['peak_rss_mib']:>8.0f} "
              f"{args.rows / r['wall']:>10,.0f} {p:>5.2f} {rec:>5.2f} {f1:>5.2f} {len(false):>3} "
              f"{r['wall'] / ours['wall']:>7.1f}x")  # fmt: skip
    print(f"\nours: classify {ours['classify']:.1f} s + enforce {ours['enforce']:.1f} s (not in the policy: "
          f"tokenizing the distinct IBANs would add ~{ours['tokenize_s']:.1f} s, "
          "measured on 20,000 of them)")  # fmt: skip
    if ours["left_out"]:
        print(f"ours: not known to this build's policy schema, so left out of the policy: {ours['left_out']}")
    s, cell = results["structured"], results["per-cell"]
    print(f"presidio-structured: analyse {s['classify']:.1f} s + anonymise {s['enforce']:.1f} s")
    print(f"per-cell: measured {cell['measured']:.1f} s on {cell['slice']:,} rows, scaled to {args.rows:,}")
    mail = "n/a (column dropped)" if ours["mail_left"] is None else f"{ours['mail_left']:.1%}"
    theirs = f"structured {s['labels'].get(FREE_TEXT)}, per-cell {cell['labels'].get(FREE_TEXT)}"
    print(f"{FREE_TEXT} (free text, not scored): ours {ours['notes']}; rows still holding '@' after enforce: "
          f"{mail}; {theirs}")  # fmt: skip
    for key in TITLES:
        _, _, _, false, missed = column_scores(results[key]["labels"])
        print(f"  {key:<10} false positives: {false or 'none'}; missed: {missed or 'none'}")
    _, _, f1, false, _ = column_scores(ours["labels"])
    speedup = s["wall"] / ours["wall"]
    print("\ntargets (issue 13):")
    for name, ok, value in (
        (f"ours wall <= {TARGET_WALL_S:.0f} s", ours["wall"] <= TARGET_WALL_S, f"{ours['wall']:.1f} s"),
        (f"ours peak <= {TARGET_PEAK_MIB:.0f} MiB", ours["peak_rss_mib"] <= TARGET_PEAK_MIB,
         f"{ours['peak_rss_mib']:.0f} MiB"),
        (f">= {TARGET_SPEEDUP:.0f}x presidio-structured", speedup >= TARGET_SPEEDUP, f"{speedup:.1f}x"),
        (f"column F1 >= {TARGET_F1}", f1 >= TARGET_F1, f"{f1:.2f}"),
        ("no false positive", not false, f"{len(false)}"),
    ):  # fmt: skip
        print(f"  {name:<44} {_yes(ok):>4} ({value})")


def print_texts(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """The free-text redaction table: texts/s and name recall, ratio to Presidio."""
    mine, theirs = results["text-ours"], results["text-presidio"]
    rate = {k: results[k]["texts"] / results[k]["wall"] for k in ("text-ours", "text-presidio")}
    title = f"free-text redaction ({mine['texts']:,} texts)"
    header = (
        f"{title:<52} {'wall s':>8} {'cpu s':>8} {'peak MiB':>8} {'texts/s':>9} {'recall':>7} {'speed-up':>9}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    rows = (
        ("ours: redact_text (NER-only nlp.pipe + regex)", mine, rate["text-ours"]),
        ("Presidio BatchAnalyzerEngine + AnonymizerEngine", theirs, rate["text-presidio"]),
    )
    for title, r, per_second in rows:
        print(f"{title:<52} {r['wall']:>8.1f} {r['cpu']:>8.1f} {r['peak_rss_mib']:>8.0f} {per_second:>9,.0f} "
              f"{r['recall']:>7.1%} {per_second / rate['text-presidio']:>8.1f}x")  # fmt: skip
    print("recall: share of texts whose person's name no longer appears after redaction")
    print(
        f"at ours' rate, NER-redacting the names of the table's {args.rows:,} distinct notes (not in its "
        f"policy) would add ~{args.rows / rate['text-ours']:,.0f} s"
    )


def print_report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """Every table of the run; ratios are relative to ours (table) and to Presidio (texts), same run."""
    print_data(args, results["generate"])
    print_table(args, results)
    print_texts(args, results)
