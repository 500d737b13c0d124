"""The decision of the policy for every column of a frame, leaf by leaf for nested columns.

:func:`plan` decides from the classification report alone; :func:`plan_frame`
decides for the columns of the frame that is about to be written, so a
column, or a nested leaf, the report does not know gets the policy's
``unclassifiable`` action instead of passing unexamined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from compliance.entities import max_sensitivity
from compliance.nested import Node, Unreadable, container_paths, read_column
from compliance.policy import Policy
from compliance.reports import ColumnReport, FrameReport

_NESTED = (pl.Struct, pl.List, pl.Array, pl.Map)
# A nested column's own action is its most protective leaf's.
STRENGTH = ("allow", "mask", "redact", "hash", "tokenize", "drop", "block")
UNCLASSIFIABLE = "unclassifiable"  # the rule name of decisions taken by the policy's unclassifiable action


@dataclass(frozen=True)
class ColumnDecision:
    """The action chosen for one column (or leaf path) and why.

    A nested column's decision holds one decision per leaf in ``leaves`` and,
    as its own action, the most protective of theirs.
    """

    column: str
    action: str
    rule: str | None
    entities: tuple[str, ...]
    sensitivity: str
    keep_last: int | None = None
    redact_entities: tuple[str, ...] = ()
    leaves: tuple[ColumnDecision, ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain-data form for metadata and events."""
        out: dict[str, Any] = {
            "column": self.column,
            "action": self.action,
            "rule": self.rule,
            "entities": list(self.entities),
            "sensitivity": self.sensitivity,
        }
        if self.keep_last is not None:
            out["keep_last"] = self.keep_last
        if self.redact_entities:
            out["redact_entities"] = list(self.redact_entities)
        if self.reason:
            out["reason"] = self.reason
        if self.leaves:
            out["leaves"] = [leaf.to_json() for leaf in self.leaves]
        return out

    def flat(self) -> tuple[ColumnDecision, ...]:
        """The leaf decisions of a nested column, or this decision itself."""
        return self.leaves or (self,)


def plan(policy: Policy, report: FrameReport, asset: str) -> list[ColumnDecision]:
    """Decide the action of every column of ``report`` under ``policy`` (first matching rule wins)."""
    return [_decide_column(policy, asset, name, col) for name, col in report.columns.items()]


def _decide_column(policy: Policy, asset: str, name: str, col: ColumnReport) -> ColumnDecision:
    if not col.leaves:
        return _decide(policy, asset, name, col)
    leaves = [_decide(policy, asset, p, leaf, container_paths(p)) for p, leaf in col.leaves.items()]
    return nested_decision(name, leaves)


def nested_decision(name: str, leaves: list[ColumnDecision]) -> ColumnDecision:
    """A nested column's decision: its leaves', the most protective as its own action."""
    worst = max(leaves, key=lambda d: STRENGTH.index(d.action))
    entities = tuple(sorted({e for d in leaves for e in d.entities}))
    sensitivity = max_sensitivity([d.sensitivity for d in leaves])  # type: ignore[misc]
    return ColumnDecision(name, worst.action, worst.rule, entities, sensitivity, leaves=tuple(leaves))


def unclassifiable_decision(policy: Policy, name: str, reason: str | None) -> ColumnDecision:
    """The policy's ``unclassifiable`` action for a column or leaf the classifier could not read."""
    return ColumnDecision(name, policy.unclassifiable, UNCLASSIFIABLE, (), "restricted", reason=reason)


def _decide(
    policy: Policy, asset: str, name: str, col: ColumnReport, parents: tuple[str, ...] = ()
) -> ColumnDecision:
    if col.unclassifiable:
        return unclassifiable_decision(policy, name, col.reason)
    carried = col.carried if col.score >= policy.min_score else set()
    entities = tuple(sorted(carried))
    sensitivity = col.sensitivity if carried else ("public" if col.sensitivity == "public" else "internal")
    rule = policy.rule_for(asset, name, carried, sensitivity, col.free_text, parents)
    if rule is None:
        action = policy.default_action if carried else "allow"
        return ColumnDecision(name, action, None, entities, sensitivity)
    redact: tuple[str, ...] = ()
    if rule.action == "redact":
        wanted = rule.redact_entities if rule.redact_entities is not None else policy.default_redact
        redact = tuple(e for e in wanted if e in carried or col.free_text)
    keep = rule.mask_keep_last if rule.action == "mask" else None
    return ColumnDecision(name, rule.action, rule.name, entities, sensitivity, keep, redact)


def plan_frame(
    df: pl.DataFrame, policy: Policy, report: FrameReport, asset: str
) -> tuple[list[ColumnDecision], dict[str, tuple[Node, dict[str, pl.Series]]]]:
    """One decision per column of ``df`` (not of the report) and the leaves of its nested columns.

    A column the report does not know, a nested column that cannot be read
    again, or a leaf path the report does not list gets the policy's
    ``unclassifiable`` action: nothing passes unexamined.
    """
    decisions: list[ColumnDecision] = []
    shapes: dict[str, tuple[Node, dict[str, pl.Series]]] = {}
    for name in df.columns:
        col = report.columns.get(name)
        if col is None:
            decisions.append(unclassifiable_decision(policy, name, "not in the classification report"))
            continue
        decision = _decide_column(policy, asset, name, col)
        if col.leaves or (not col.unclassifiable and isinstance(df.schema[name], _NESTED)):
            try:
                node, values = read_column(name, df.get_column(name))
            except Unreadable as exc:
                decisions.append(unclassifiable_decision(policy, name, exc.reason))
                continue
            known = [d for d in decision.leaves if d.column in values]
            listed = {d.column for d in known}
            extra = [
                unclassifiable_decision(policy, p, "not in the classification report")
                for p in values
                if p not in listed
            ]
            if len(known) != len(decision.leaves) or extra:
                leaves = [*known, *extra]
                decision = (
                    nested_decision(name, leaves)
                    if leaves
                    else ColumnDecision(name, "allow", None, (), "public")
                )
            shapes[name] = (node, values)
        decisions.append(decision)
    return decisions, shapes
