"""What classification found: one :class:`ColumnReport` per column (with leaf reports for nested ones)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compliance.entities import Sensitivity, max_sensitivity
from compliance.trace import ColumnTrace

TEXT_MIN_RATE = 0.02  # a free-text column "carries" an entity from this rate


@dataclass
class ColumnReport:
    """What one column holds: primary entity (or None), score, sensitivity and per-entity rates.

    A nested column (Struct, List, Map, JSON text) has one report per leaf path
    in ``leaves`` and summarises them: no entity, the leaves' carried entities,
    their highest score and sensitivity. ``unclassifiable`` marks a column or
    leaf the classifier cannot read, with the ``reason``. ``trace`` holds what
    the classifier saw, only when an explanation was asked for (never serialised).
    """

    name: str
    entity: str | None
    score: float
    sensitivity: Sensitivity
    entities: dict[str, float] = field(default_factory=dict)
    free_text: bool = False
    sampled: int = 0
    leaves: dict[str, ColumnReport] = field(default_factory=dict)
    unclassifiable: bool = False
    reason: str | None = None
    json: bool = False
    trace: ColumnTrace | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The column's part of the ``klikkflow classify`` JSON output."""
        out: dict[str, Any] = {
            "entity": self.entity,
            "score": round(self.score, 4),
            "sensitivity": self.sensitivity,
            "entities": {k: round(v, 4) for k, v in sorted(self.entities.items())},
        }
        if self.unclassifiable:
            out["unclassifiable"] = True
            out["reason"] = self.reason
        if self.json:
            out["json"] = True
        if self.leaves:
            out["leaves"] = {path: leaf.to_json() for path, leaf in self.leaves.items()}
        return out

    @property
    def carried(self) -> set[str]:
        """Entities this column holds: its label, those a free-text column carries, or its leaves'."""
        if self.leaves:
            return set().union(*(leaf.carried for leaf in self.leaves.values()))
        if self.entity:
            return {self.entity}
        if self.free_text:
            return {e for e, rate in self.entities.items() if rate >= TEXT_MIN_RATE}
        return set()

    @property
    def has_unclassifiable(self) -> bool:
        """True when the column, or one of its leaves, could not be read."""
        return self.unclassifiable or any(leaf.unclassifiable for leaf in self.leaves.values())


def unclassifiable_report(name: str, reason: str) -> ColumnReport:
    """The report of a column or leaf the classifier cannot read (treated as ``restricted``)."""
    return ColumnReport(name, None, 0.0, "restricted", unclassifiable=True, reason=reason)


def nested_report(name: str, leaves: dict[str, ColumnReport], json: bool = False) -> ColumnReport:
    """The top-level report of a nested column: the summary of its leaf reports."""
    if not leaves:
        return ColumnReport(name, None, 0.0, "public", json=json)
    entities: dict[str, float] = {}
    for leaf in leaves.values():
        for entity in leaf.carried:
            entities[entity] = max(entities.get(entity, 0.0), leaf.entities.get(entity, leaf.score))
    return ColumnReport(
        name,
        None,
        max(leaf.score for leaf in leaves.values()),
        max_sensitivity([leaf.sensitivity for leaf in leaves.values()]),
        entities,
        sampled=max(leaf.sampled for leaf in leaves.values()),
        leaves=leaves,
        json=json,
    )


@dataclass
class FrameReport:
    """Classification of a whole frame or table."""

    rows: int
    columns: dict[str, ColumnReport]

    def to_json(self) -> dict[str, Any]:
        """``{"rows": N, "columns": {name: {...}}}``, the documented CLI shape."""
        return {"rows": self.rows, "columns": {n: c.to_json() for n, c in self.columns.items()}}

    def pii_columns(self) -> dict[str, ColumnReport]:
        """Columns that hold or carry PII."""
        return {n: c for n, c in self.columns.items() if c.carried}
