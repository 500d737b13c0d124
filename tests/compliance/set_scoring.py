"""Scoring a labelled set of tables with the classifier: outcomes, identifier checks and a printed summary.

Shared by the tuning set's quality test and the two held-out sets' tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from compliance.classify import FrameReport
from compliance.evaluate import ColumnOutcome, Evaluation
from tests.compliance.labelled_set import LabelledTable


def outcomes(classified: Iterable[tuple[LabelledTable, FrameReport]]) -> list[ColumnOutcome]:
    """One outcome per labelled column (``file`` is the table name)."""
    found = []
    for table, report in classified:
        for column, expected in table.labels.items():
            got = report.columns[column]
            found.append(ColumnOutcome(table.name, column, expected, got.entity, got.score, got.free_text))
    return found


def invalid_identifiers(
    tables: Iterable[LabelledTable], checks: dict[str, Callable[[str], bool]]
) -> list[str]:
    """``table.column: samples`` for every labelled identifier column holding a value its check refuses."""
    problems = []
    for table in tables:
        for column, label in table.labels.items():
            if label in checks:
                values = table.frame[column].drop_nulls().to_list()
                invalid = [v for v in values if not checks[label](str(v))]
                if invalid:
                    problems.append(f"{table.name}.{column}: {invalid[:3]}")
    return problems


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary(title: str, result: Evaluation, tables: list[LabelledTable], elapsed: float) -> str:
    """Overall scores, per-locale recall, per-entity recall/precision, every mistake with samples."""
    o = result.overall
    lines = [
        "",
        f"{title}: {len(tables)} tables, {len({t.locale for t in tables})} locales, "
        f"{len(result.columns)} columns ({o.support} PII), classified in {elapsed:.1f} s",
        f"column F1 {o.f1:.3f}  precision {_ratio(o.precision)}  recall {_ratio(o.recall)}  "
        f"(tp {o.tp}, fp {o.fp}, fn {o.fn})",
        "per-locale recall (PII columns labelled right / PII columns):",
    ]
    locale_of = {t.name: t.locale for t in tables}
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in result.columns:
        if c.expected is not None:
            found[locale_of[c.file]][0] += c.ok
            found[locale_of[c.file]][1] += 1
    for locale, (ok, total) in sorted(found.items()):
        lines.append(f"  {locale:6} {ok / total:.3f}  ({ok}/{total})")
    lines.append("per-entity recall / precision (support):")
    for entity, s in sorted(result.entities.items()):
        lines.append(f"  {entity:26} R {_ratio(s.recall):5}  P {_ratio(s.precision):5}  ({s.support})")
    mistakes = [c for c in result.columns if not c.ok]
    lines.append(f"mistakes ({len(mistakes)}):")
    frames = {t.name: t.frame for t in tables}
    for c in mistakes:
        samples = frames[c.file][c.column].drop_nulls().head(3).to_list()
        lines.append(
            f"  {c.file}.{c.column!r}: expected {c.expected}, got {c.predicted} "
            f"(score {c.score:.2f}{', free text' if c.free_text else ''}) e.g. {samples}"
        )
    return "\n".join(lines)
