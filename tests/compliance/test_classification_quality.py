"""Classification quality on the labelled multi-locale set (:mod:`tests.compliance.labelled_set`).

Every table is classified with the default engines and every column's label
compared with the truth, with the metrics of ``klikkflow classify
--evaluate`` (:mod:`compliance.evaluate`): column F1 >= 0.97, no false
positive (a non-PII column labelled, or a PII column labelled with the wrong
entity) and recall >= 0.9 in every locale. The failure message lists every
number. Rates count too: a non-PII column (prose, company and product names,
user agents, country names...) reports no entity in more than 5 % of its
values, because a "contains" rate is a claim a policy acts on.
"""

from __future__ import annotations

import pytest

from compliance.classify import classify_frame
from compliance.evaluate import ColumnOutcome, evaluate
from compliance.nlp import build_engines
from compliance.reports import FrameReport
from tests.compliance import set_scoring
from tests.compliance.labelled_set import LOCALE_OF_TABLE, LabelledTable, labelled_frames

MIN_F1 = 0.97
MIN_LOCALE_RECALL = 0.9
MAX_CLAIM_RATE = 0.05
ROWS = 300


@pytest.fixture(scope="module")
def classified() -> list[tuple[LabelledTable, FrameReport]]:
    """Every table of the set and its classification report."""
    engines = build_engines()
    return [(table, classify_frame(table.frame, engines=engines)) for table in labelled_frames(rows=ROWS)]


@pytest.fixture(scope="module")
def outcomes(classified: list[tuple[LabelledTable, FrameReport]]) -> list[ColumnOutcome]:
    """One outcome per column of the set (``file`` is the table name)."""
    return set_scoring.outcomes(classified)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def test_column_f1_false_positives_and_locale_recall(outcomes: list[ColumnOutcome]) -> None:
    result = evaluate(outcomes)
    o = result.overall
    locales = sorted(set(LOCALE_OF_TABLE.values()))
    locale_recall = {
        loc: evaluate([c for c in outcomes if LOCALE_OF_TABLE[c.file] == loc]).overall.recall
        for loc in locales
    }
    false_positives = [c for c in outcomes if c.predicted is not None and not c.ok]
    missed = [c for c in outcomes if c.expected is not None and not c.ok]
    summary = "\n".join(
        [
            f"column F1 {o.f1:.3f}, precision {_ratio(o.precision)}, recall {_ratio(o.recall)} "
            f"(tp {o.tp}, fp {o.fp}, fn {o.fn}; {len(outcomes)} columns, {o.support} with PII)",
            "per-locale recall: " + ", ".join(f"{loc} {_ratio(r)}" for loc, r in locale_recall.items()),
            "per-entity recall: " + ", ".join(f"{e} {_ratio(s.recall)}" for e, s in result.entities.items()),
            f"false positives ({len(false_positives)}): "
            + "; ".join(f"{c.file}.{c.column}: {c.expected} -> {c.predicted}" for c in false_positives),
            f"missed ({len(missed)}): "
            + "; ".join(f"{c.file}.{c.column}: {c.expected} -> {c.predicted}" for c in missed),
        ]
    )
    print(summary)
    low = [loc for loc, r in locale_recall.items() if r is not None and r < MIN_LOCALE_RECALL]
    assert o.f1 >= MIN_F1 and not false_positives and not low, summary


def test_non_pii_columns_claim_no_entity(classified: list[tuple[LabelledTable, FrameReport]]) -> None:
    claims = [
        f"{table.name}.{column}: {entity} {rate:.0%}"
        for table, report in classified
        for column, expected in table.labels.items()
        if expected is None
        for entity, rate in sorted(report.columns[column].entities.items())
        if rate > MAX_CLAIM_RATE
    ]
    assert not claims, f"{len(claims)} claims above {MAX_CLAIM_RATE:.0%} on non-PII columns: " + "; ".join(
        claims
    )
