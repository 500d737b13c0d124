"""Vectorized enforcement of a policy on a Polars frame (pandas frames are converted).

:func:`compliance.decisions.plan_frame` decides one action per column of the
frame from the classification report (per leaf for nested columns, the
policy's ``unclassifiable`` action for columns the classifier could not read
or the report does not list); :func:`enforce` applies the plan.
``block`` raises :class:`PolicyBlocked` before any column is touched, so
callers that write after enforcing write nothing. Every action except the NER
part of ``redact`` is a Polars expression or a per-distinct-value map joined
back to the rows; nested columns are rebuilt by one expression each
(:func:`compliance.nested.rebuild`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import polars.selectors as cs

from compliance.crypto import (
    KeyMaterialError,
    Keys,
    hash_distinct,
    hash_series,
    tokenize_distinct,
    tokenize_series,
)
from compliance.decisions import ColumnDecision, plan_frame
from compliance.decisions import plan as plan  # callers keep planning through compliance.enforce
from compliance.frames import to_polars
from compliance.nested import DROP, LeafExpr, Node, rebuild
from compliance.nlp import NlpEngines
from compliance.policy import Policy
from compliance.recognizers import Recognizer
from compliance.redact import redact_text
from compliance.reports import ColumnReport, FrameReport


class PolicyBlocked(Exception):
    """A ``block`` rule matched: the data must not be written anywhere."""

    def __init__(self, asset: str, decisions: list[ColumnDecision]):
        self.asset = asset
        self.decisions = decisions
        cols = ", ".join(
            f"{d.column} ({'/'.join(d.entities) or d.reason or d.sensitivity}, rule {d.rule})"
            for decision in decisions
            for d in decision.flat()
            if d.action == "block"
        )
        super().__init__(f"policy blocks writing {asset}: {cols}")


class ResidencyViolation(Exception):
    """The destination's region is not allowed for this data by the policy's residency rules."""

    def __init__(self, destination: str, region: str, allowed: list[str]):
        self.destination, self.region, self.allowed = destination, region, allowed
        super().__init__(
            f"data residency: destination {destination!r} is in region {region!r}, "
            f"the policy allows only {', '.join(allowed)}"
        )


@dataclass
class EnforcementResult:
    """The protected frame and the decision taken for every column."""

    frame: pl.DataFrame
    decisions: list[ColumnDecision] = field(default_factory=list)

    def actions(self) -> dict[str, str]:
        """Column -> action, for columns where something other than ``allow`` happened."""
        return {d.column: d.action for d in self.decisions if d.action != "allow"}


def check_residency(policy: Policy, destination: str, region: str, report: FrameReport) -> None:
    """Raise :class:`ResidencyViolation` when ``region`` is not allowed for ``destination``.

    Columns the classifier could not read count as PII: nobody knows they hold none.
    """
    unreadable = any(c.has_unclassifiable for c in report.columns.values())
    allowed = policy.allowed_regions(destination, has_pii=bool(report.pii_columns()) or unreadable)
    if allowed is not None and region not in allowed:
        raise ResidencyViolation(destination, region, allowed)


def enforce(
    frame: Any,
    policy: Policy,
    report: FrameReport,
    *,
    asset: str,
    keys: Keys | None,
    engines: NlpEngines | None = None,
) -> EnforcementResult:
    """Apply ``policy`` to ``frame`` and return the protected Polars frame with the decisions.

    Raises :class:`PolicyBlocked` (before changing anything) when a ``block``
    rule matches, and :class:`KeyMaterialError` when hash/tokenize is needed without keys.
    """
    df = to_polars(frame)
    decisions, shapes = plan_frame(df, policy, report, asset)
    blocked = [d for d in decisions if d.action == "block"]
    if blocked:
        raise PolicyBlocked(asset, blocked)
    if keys is None and any(leaf.action in ("hash", "tokenize") for d in decisions for leaf in d.flat()):
        raise KeyMaterialError(
            "hash/tokenize rules need the tenant key; set KLIKKFLOW_TENANT_KEY for the secrets resource"
        )
    expressions: list[pl.Expr] = []
    texts: list[ColumnDecision] = []
    crypto: list[ColumnDecision] = []
    dropped: list[str] = []
    for d in decisions:
        if d.leaves:
            node, values = shapes[d.column]
            leaf_reports = report.columns[d.column].leaves
            new = _rebuild_nested(d, node, values, leaf_reports, keys, engines, policy.recognizers)
            if isinstance(new, pl.Expr):
                expressions.append(new.alias(d.column))
            elif new is DROP:
                dropped.append(d.column)
        elif d.action == "drop":
            dropped.append(d.column)
        elif d.action == "mask":
            expressions.append(mask_expr(d.column, d.keep_last or 0))
        elif d.action in ("hash", "tokenize"):
            crypto.append(d)
        elif d.action == "redact" and report.columns[d.column].free_text:
            texts.append(d)
        elif d.action == "redact":
            label = _redact_label(report.columns[d.column], d)
            expressions.append(
                pl.when(literal_column(d.column).is_null())
                .then(None)
                .otherwise(pl.lit(label))
                .alias(d.column)
            )

    def values(d: ColumnDecision) -> pl.Series:
        # Series methods read a name like ``^[a-z]{2}$`` as a column regex: work under a plain one.
        return df.get_column(d.column).alias("value")

    def _polars_work() -> list[pl.Series]:
        """Masking and text redaction: Polars releases the GIL, so this overlaps the per-value crypto."""
        out = [
            redact_text(values(d), d.redact_entities, engines, policy.recognizers).alias(d.column)
            for d in texts
        ]
        return out + (df.select(expressions).get_columns() if expressions else [])

    with ThreadPoolExecutor(max_workers=1) as pool:
        polars_result = pool.submit(_polars_work)
        replaced = [
            (
                hash_series(values(d), keys.hash_key)  # type: ignore[union-attr]
                if d.action == "hash"
                else tokenize_series(values(d), keys.token_key, keys.token_public_key)  # type: ignore[union-attr]
            ).alias(d.column)
            for d in crypto
        ]
        replaced += polars_result.result()
    if replaced:
        df = df.with_columns(replaced)
    if dropped:
        df = df.drop(cs.by_name(dropped))
    return EnforcementResult(frame=df, decisions=decisions)


def _redact_label(col: ColumnReport, d: ColumnDecision) -> str:
    return f"<{col.entity or (d.entities[0] if d.entities else 'REDACTED')}>"


def _rebuild_nested(
    decision: ColumnDecision,
    node: Node,
    values: dict[str, pl.Series],
    reports: dict[str, ColumnReport],
    keys: Keys | None,
    engines: NlpEngines | None,
    recognizers: tuple[Recognizer, ...],
) -> pl.Expr | object | None:
    """The expression rebuilding a nested column with its protected leaves, :data:`DROP`, or ``None``."""
    leaf_exprs: dict[str, LeafExpr] = {}
    dropped: set[str] = set()
    for d in decision.leaves:
        if d.action == "drop":
            dropped.add(d.column)
        elif d.action == "mask":
            leaf_exprs[d.column] = lambda e, keep=d.keep_last or 0: mask_values(e, keep)
        elif d.action == "redact" and not reports[d.column].free_text:
            label = _redact_label(reports[d.column], d)
            leaf_exprs[d.column] = lambda e, label=label: (
                pl.when(e.is_null()).then(None).otherwise(pl.lit(label))
            )
        elif d.action in ("hash", "tokenize", "redact"):
            distinct = values[d.column].cast(pl.String, strict=False).drop_nulls().unique()
            if d.action == "hash":
                mapped = hash_distinct(distinct, keys.hash_key)  # type: ignore[union-attr]
            elif d.action == "tokenize":
                mapped = tokenize_distinct(distinct, keys.token_key, keys.token_public_key)  # type: ignore[union-attr]
            else:
                mapped = redact_text(distinct, d.redact_entities, engines, recognizers)
            leaf_exprs[d.column] = lambda e, old=distinct, new=mapped: e.cast(
                pl.String, strict=False
            ).replace_strict(old, new, default=None, return_dtype=pl.String)
    return rebuild(literal_column(decision.column), node, leaf_exprs, dropped)


def mask_expr(column: str, keep_last: int) -> pl.Expr:
    """Letters and digits replaced by ``*`` except the last ``keep_last`` characters; separators stay."""
    return mask_values(literal_column(column), keep_last).alias(column)


def literal_column(name: str) -> pl.Expr:
    """The column called ``name`` (``pl.col`` would read ``^...$`` as a pattern of names)."""
    return cs.by_name(name).as_expr()


def mask_values(expr: pl.Expr, keep_last: int) -> pl.Expr:
    """:func:`mask_expr` on any expression (a leaf inside a nested column)."""
    text = expr.cast(pl.String, strict=False)
    length = text.str.len_chars().cast(pl.Int64)
    cut = (length - keep_last).clip(lower_bound=0)
    head = text.str.slice(0, cut).str.replace_all(r"[\p{L}\p{N}]", "*")
    tail = text.str.slice(cut)
    return pl.concat_str([head, tail])
