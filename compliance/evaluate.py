"""Measuring the classifier on a tenant's own labelled samples (``klikkflow classify --evaluate``).

A labels file says which entity each column of some data files holds::

    version: 1
    files:
      customers.csv:                 # a DATA path as given, or its file name
        email: EMAIL_ADDRESS
        notes: null                  # no PII expected
        contact.email: EMAIL_ADDRESS # a leaf of a nested column

Scores are per column: a column is a true positive when the classifier's
label is the expected entity; a label on a ``null`` column, or a different
entity than expected, is a false positive (and, in the second case, also a
false negative of the expected entity). Unlabelled columns are not scored.
Free-text columns get no label (only "contains" rates), so they are
expected ``null``. Everything here is a pure function of the labels and the
classification reports, except :func:`load_labels`, which reads the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.entities import ENTITIES
from compliance.reports import FrameReport
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, read_yaml_mapping

LABELS_VERSION = 1


@dataclass(frozen=True)
class Labels:
    """A validated labels file: per file key, the expected entity (or ``None``) of each labelled column."""

    path: Path
    files: dict[str, dict[str, str | None]]

    def for_data(self, data: Path) -> tuple[str, dict[str, str | None]] | None:
        """The key and labels of DATA file ``data``: its path as given, else its file name."""
        for key in (str(data), data.name):
            if key in self.files:
                return key, self.files[key]
        for key, labels in self.files.items():
            if Path(key) == data:
                return key, labels
        return None


@dataclass(frozen=True)
class ColumnOutcome:
    """One labelled column: what was expected, what the classifier said, with which score."""

    file: str
    column: str
    expected: str | None
    predicted: str | None
    score: float
    free_text: bool = False

    @property
    def ok(self) -> bool:
        """True when the classifier's label is the expected one (both ``None`` included)."""
        return self.expected == self.predicted


@dataclass(frozen=True)
class Scores:
    """Counts and precision/recall/F1 of one entity, or of all columns together.

    ``precision`` is ``None`` when nothing was predicted, ``recall`` when
    nothing was expected; ``f1`` is ``2tp / (2tp + fp + fn)``, and 1.0 when
    there was nothing to find and nothing was found.
    """

    tp: int
    fp: int
    fn: int
    support: int  # columns expected to hold the entity (overall: PII columns)

    @property
    def precision(self) -> float | None:
        """Share of predicted labels that are right."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """Share of expected labels that were found."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (see the class docstring for the edge cases)."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0

    def to_json(self) -> dict[str, Any]:
        """The scores as a JSON object (ratios rounded to 4 places, ``None`` as null)."""
        return {
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
            "support": self.support,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True)
class Evaluation:
    """Column outcomes and the scores computed from them."""

    columns: list[ColumnOutcome]
    overall: Scores
    entities: dict[str, Scores]
    confusions: list[tuple[str | None, str | None, int]]  # (expected, predicted, count), most frequent first
    unlabelled: dict[str, list[str]]  # per file, the columns no label covers (not scored)

    def to_json(self) -> dict[str, Any]:
        """The ``klikkflow classify --evaluate --format json`` document."""
        return {
            "overall": self.overall.to_json(),
            "entities": {entity: scores.to_json() for entity, scores in self.entities.items()},
            "columns": [
                {
                    "file": c.file,
                    "column": c.column,
                    "expected": c.expected,
                    "predicted": c.predicted,
                    "score": round(c.score, 4),
                    "ok": c.ok,
                }
                for c in self.columns
            ],
            "confusions": [
                {"expected": expected, "predicted": predicted, "count": count}
                for expected, predicted, count in self.confusions
            ],
            "unlabelled": self.unlabelled,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _problem(file: Path, field: str, message: str, fix: str) -> ConfigProblem:
    return ConfigProblem(str(file), field, message, fix)


def _entity_problem(path: Path, field: str, value: object, known: tuple[str, ...]) -> ConfigProblem | None:
    if value is None or (isinstance(value, str) and value in known):
        return None
    if not isinstance(value, str):
        return _problem(path, field, f"expected an entity name or null, got {value!r}", "give an entity name")
    fix = f"write {value.upper()!r}" if value.upper() in known else "use a known entity, or null for no PII"
    return _problem(path, field, f"unknown entity {value!r}; known entities: {', '.join(known)}", fix)


def load_labels(path: Path, known: Iterable[str] = ENTITIES) -> Labels:
    """Read and validate a labels file; every problem is reported with file and field.

    ``known`` are the entity names a label may use (the built-in entities,
    plus a policy's custom ones when the caller adds them).
    """
    known = tuple(known)
    data = read_yaml_mapping(path)
    problems: list[ConfigProblem] = []
    for key in sorted(set(data) - {"version", "files"}, key=str):
        problems.append(
            _problem(path, str(key), "unknown field", "remove it; a labels file has version and files")
        )
    if data.get("version") != LABELS_VERSION:
        problems.append(
            _problem(
                path, "version", f"expected {LABELS_VERSION}, got {data.get('version')!r}", "write version: 1"
            )
        )
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        problems.append(
            _problem(
                path,
                "files",
                "expected a mapping of data files to column labels",
                "see compliance/evaluate.py",
            )
        )
        raise ConfigError(problems)
    labels: dict[str, dict[str, str | None]] = {}
    for file_key, columns in files.items():
        where = f"files.{file_key}"
        if not isinstance(columns, dict) or not columns:
            problems.append(
                _problem(path, where, "expected a mapping of column: entity", "add `column: ENTITY` lines")
            )
            continue
        labels[str(file_key)] = {}
        for column, entity in columns.items():
            problem = _entity_problem(path, f"{where}.{column}", entity, known)
            if problem is not None:
                problems.append(problem)
            labels[str(file_key)][str(column)] = entity
    if problems:
        raise ConfigError(problems)
    return Labels(path, labels)


def _targets(report: FrameReport) -> dict[str, Any]:
    """Every labellable column of a report: flat columns by name, nested ones by leaf path."""
    targets: dict[str, Any] = {}
    for name, column in report.columns.items():
        if column.leaves:
            targets.update(column.leaves)
        else:
            targets[name] = column
    return targets


def column_outcomes(
    labels: Labels, file_key: str, data: Path, report: FrameReport
) -> tuple[list[ColumnOutcome], list[str]]:
    """The outcome of each labelled column of one file, and the columns left unlabelled.

    Raises :class:`ConfigError` (naming the labels file and field) for a
    labelled column the data does not have, or a nested column labelled as a
    whole instead of by its leaves.
    """
    expected = labels.files[file_key]
    targets = _targets(report)
    problems = []
    for column in expected:
        if column in targets:
            continue
        nested = report.columns.get(column)
        if nested is not None and nested.leaves:
            message = f"{column} is a nested column of {data}"
            fix = f"label its leaves instead: {', '.join(nested.leaves)}"
        else:
            shown = ", ".join(list(targets)[:30]) + (", ..." if len(targets) > 30 else "")
            message = f"no column {column!r} in {data} (columns: {shown})"
            fix = "correct the column name or remove the label"
        problems.append(_problem(labels.path, f"files.{file_key}.{column}", message, fix))
    if problems:
        raise ConfigError(problems)
    outcomes = [
        ColumnOutcome(
            str(data),
            column,
            entity,
            targets[column].entity,
            targets[column].score,
            targets[column].free_text,
        )
        for column, entity in expected.items()
    ]
    return outcomes, [c for c in targets if c not in expected]


def evaluate(outcomes: list[ColumnOutcome], unlabelled: dict[str, list[str]] | None = None) -> Evaluation:
    """Per-entity and overall column precision/recall/F1 and the confusion pairs of ``outcomes``."""
    entities = sorted({e for c in outcomes for e in (c.expected, c.predicted) if e is not None})
    per_entity = {
        entity: Scores(
            tp=sum(1 for c in outcomes if c.expected == entity and c.predicted == entity),
            fp=sum(1 for c in outcomes if c.predicted == entity and c.expected != entity),
            fn=sum(1 for c in outcomes if c.expected == entity and c.predicted != entity),
            support=sum(1 for c in outcomes if c.expected == entity),
        )
        for entity in entities
    }
    overall = Scores(
        tp=sum(s.tp for s in per_entity.values()),
        fp=sum(s.fp for s in per_entity.values()),
        fn=sum(s.fn for s in per_entity.values()),
        support=sum(1 for c in outcomes if c.expected is not None),
    )
    pairs = Counter((c.expected, c.predicted) for c in outcomes if not c.ok)
    confusions = [(e, p, n) for (e, p), n in sorted(pairs.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return Evaluation(outcomes, overall, per_entity, confusions, unlabelled or {})
