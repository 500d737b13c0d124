"""Classification quality on the labelled multi-locale set (:mod:`tests.compliance.labelled_set`).

Every table is classified with the default engines and every column's label
compared with the truth: column F1 >= 0.97, no false positive (a non-PII
column labelled, or a PII column labelled with the wrong entity) and recall
>= 0.9 in every locale. The failure message lists every number.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from compliance.classify import classify_frame
from compliance.nlp import build_engines
from compliance.reports import FrameReport
from tests.compliance.labelled_set import LabelledTable, labelled_frames

MIN_F1 = 0.97
MIN_LOCALE_RECALL = 0.9
ROWS = 300


@pytest.fixture(scope="module")
def classified() -> list[tuple[LabelledTable, FrameReport]]:
    engines = build_engines()
    return [(t, classify_frame(t.frame, engines=engines)) for t in labelled_frames(rows=ROWS)]


def _ratio(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def test_column_f1_false_positives_and_locale_recall(
    classified: list[tuple[LabelledTable, FrameReport]],
) -> None:
    tp = fp = fn = 0
    false_positives: list[str] = []
    by_locale: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [found, PII columns]
    by_entity: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: list[str] = []
    for table, report in classified:
        for column, expected in table.labels.items():
            predicted = report.columns[column].entity
            where = f"{table.name}.{column}"
            if predicted is not None and predicted != expected:
                fp += 1
                false_positives.append(f"{where}: {expected} -> {predicted}")
            if expected is None:
                continue
            ok = predicted == expected
            tp += ok
            fn += not ok
            by_locale[table.locale][0] += ok
            by_locale[table.locale][1] += 1
            by_entity[expected][0] += ok
            by_entity[expected][1] += 1
            if not ok:
                missed.append(f"{where}: {expected} -> {predicted}")
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    locale_recall = {loc: _ratio(*counts) for loc, counts in sorted(by_locale.items())}
    entity_recall = {e: _ratio(*counts) for e, counts in sorted(by_entity.items())}
    summary = "\n".join(
        [
            f"column F1 {f1:.3f}, precision {precision:.3f}, recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn})",
            "per-locale recall: " + ", ".join(f"{loc} {r:.2f}" for loc, r in locale_recall.items()),
            "per-entity recall: " + ", ".join(f"{e} {r:.2f}" for e, r in entity_recall.items()),
            f"false positives ({len(false_positives)}): " + "; ".join(false_positives),
            f"missed ({len(missed)}): " + "; ".join(missed),
        ]
    )
    print(summary)
    low = {loc: r for loc, r in locale_recall.items() if r < MIN_LOCALE_RECALL}
    assert f1 >= MIN_F1 and not false_positives and not low, summary
