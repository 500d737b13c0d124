"""Why a column got its label: the signals, thresholds and masked samples behind each decision.

:func:`explain_frame` classifies a frame with :func:`compliance.classify.classify_frame`
while it records the :class:`compliance.trace.ColumnTrace` of every decision,
and turns each into a :class:`ColumnExplanation`. The entity, confidence and
every share come from the classifier's own computation, so an explanation
cannot disagree with the label. Samples are masked
(:func:`compliance.sample_masks.mask_sample`): an explanation shows no value.
With a policy, each column also gets the action the policy would take
(:func:`compliance.decisions.plan`), as ``klikkflow policy apply`` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from compliance.classify import DEFAULT_SAMPLE, classify_frame
from compliance.column_names import name_word_languages
from compliance.decisions import ColumnDecision, plan
from compliance.nlp import NlpEngines
from compliance.policy import Policy
from compliance.recognizers import Recognizer
from compliance.reports import ColumnReport, FrameReport
from compliance.sample_masks import mask_sample
from compliance.trace import MAX_SAMPLES, ColumnTrace


@dataclass(frozen=True)
class NameSignal:
    """A column-name word pointing to an entity, and the languages it belongs to."""

    entity: str
    word: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class PatternSignal:
    """One recognizer on one column: shares of the values its regex matched and its validator passed."""

    entity: str
    matched: float
    validator: str | None
    passed: float


@dataclass(frozen=True)
class ColumnExplanation:
    """The decision on one column (or nested leaf) and the evidence behind it.

    Shares are of the ``values`` distinct non-empty values examined (for free
    text: of the texts containing a span). ``samples`` are masked values that
    matched ``samples_entity``: the label, else the strongest candidate.
    ``action`` and ``rule`` are the policy's preview (``None`` without one).
    """

    column: str
    entity: str | None
    confidence: float
    sensitivity: str
    free_text: bool
    values: int
    decided_by: str
    entities: dict[str, float]
    names: tuple[NameSignal, ...] = ()
    counter_signal: str | None = None
    patterns: tuple[PatternSignal, ...] = ()
    ner: dict[str, float] | None = None
    ner_contains: dict[str, float] | None = None
    measures: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    set_aside: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    samples_entity: str | None = None
    samples: tuple[str, ...] = ()
    action: str | None = None
    rule: str | None = None
    unclassifiable: str | None = None
    leaves: tuple[ColumnExplanation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The column's part of ``klikkflow classify --explain --format json``; every key always present."""
        return {
            "entity": self.entity,
            "confidence": round(self.confidence, 4),
            "sensitivity": self.sensitivity,
            "free_text": self.free_text,
            "values": self.values,
            "decided_by": self.decided_by,
            "entities": {e: round(r, 4) for e, r in sorted(self.entities.items())},
            "name_signals": [
                {"entity": n.entity, "word": n.word, "languages": list(n.languages)} for n in self.names
            ],
            "counter_signal": self.counter_signal,
            "patterns": [
                {
                    "entity": p.entity,
                    "matched": round(p.matched, 4),
                    "validator": p.validator,
                    "passed": round(p.passed, 4),
                }
                for p in self.patterns
            ],
            "ner": _rounded(self.ner),
            "ner_contains": _rounded(self.ner_contains),
            "measures": _rounded(self.measures),
            "thresholds": _rounded(self.thresholds),
            "set_aside": list(self.set_aside),
            "notes": list(self.notes),
            "samples": {"entity": self.samples_entity, "values": list(self.samples)},
            "action": self.action,
            "rule": self.rule,
            "unclassifiable": self.unclassifiable,
            "leaves": {leaf.column: leaf.to_json() for leaf in self.leaves},
        }


@dataclass(frozen=True)
class FrameExplanation:
    """The explanations of every column of a frame, with the report they explain."""

    report: FrameReport
    columns: dict[str, ColumnExplanation]

    def to_json(self) -> dict[str, Any]:
        """``{"rows": N, "columns": {name: {...}}}``, like ``klikkflow classify --format json``."""
        return {"rows": self.report.rows, "columns": {n: c.to_json() for n, c in self.columns.items()}}


def _rounded(values: dict[str, float] | None) -> dict[str, float] | None:
    return None if values is None else {k: round(v, 4) for k, v in values.items()}


def explain_frame(
    frame: Any,
    *,
    sample: int = DEFAULT_SAMPLE,
    engines: NlpEngines | None = None,
    recognizers: Sequence[Recognizer] = (),
    region: str | None = None,
    policy: Policy | None = None,
    asset: str = "",
) -> FrameExplanation:
    """Classify ``frame`` and explain every column; with ``policy``, preview each column's action."""
    report = classify_frame(
        frame, sample=sample, engines=engines, recognizers=recognizers, region=region, explain=True
    )
    decisions = preview_actions(policy, report, asset) if policy is not None else {}
    return FrameExplanation(
        report, {name: explain_column(col, decisions.get(name)) for name, col in report.columns.items()}
    )


def preview_actions(policy: Policy, report: FrameReport, asset: str) -> dict[str, ColumnDecision]:
    """The action ``policy`` would take on each column of ``report`` for ``asset``, by column name."""
    return {d.column: d for d in plan(policy, report, asset)}


def explain_column(report: ColumnReport, decision: ColumnDecision | None = None) -> ColumnExplanation:
    """The explanation of one column report classified with ``explain=True`` (and its policy decision)."""
    action = (decision.action, decision.rule) if decision is not None else (None, None)
    if report.leaves:
        by_path = {d.column: d for d in decision.leaves} if decision is not None else {}
        leaves = tuple(explain_column(leaf, by_path.get(path)) for path, leaf in report.leaves.items())
        return _explanation(report, ColumnTrace(decided_by="nested: see its leaves"), action, leaves)
    if report.unclassifiable or report.trace is None:
        trace = ColumnTrace(decided_by=f"unclassifiable: {report.reason}")
        return _explanation(report, trace, action, unclassifiable=report.reason or "not classified")
    return _explanation(report, report.trace, action)


def _explanation(
    report: ColumnReport,
    trace: ColumnTrace,
    action: tuple[str | None, str | None],
    leaves: tuple[ColumnExplanation, ...] = (),
    unclassifiable: str | None = None,
) -> ColumnExplanation:
    total = max(trace.values, 1)
    patterns = tuple(
        PatternSignal(p.entity, p.matched / total, p.validator, p.passed / total)
        for p in sorted(trace.patterns.values(), key=lambda p: (-p.passed, p.entity))
    )
    entity, samples = _samples(report, trace)
    return ColumnExplanation(
        column=report.name,
        entity=report.entity,
        confidence=report.score,
        sensitivity=report.sensitivity,
        free_text=report.free_text,
        values=trace.values,
        decided_by=trace.decided_by or ("a label" if report.entity else "no signal reached a threshold"),
        entities=dict(report.entities),
        names=tuple(
            NameSignal(e, w, name_word_languages(w) or ("policy",)) for e, w in sorted(trace.names.items())
        ),
        counter_signal=trace.counter,
        patterns=patterns,
        ner=trace.ner,
        ner_contains=trace.ner_contains,
        measures=dict(trace.measures),
        thresholds=dict(trace.thresholds),
        set_aside=tuple(trace.set_aside),
        notes=tuple(trace.notes),
        samples_entity=entity,
        samples=tuple(dict.fromkeys(mask_sample(v) for v in samples[:MAX_SAMPLES])),
        action=action[0],
        rule=action[1],
        unclassifiable=unclassifiable,
        leaves=leaves,
    )


def _samples(report: ColumnReport, trace: ColumnTrace) -> tuple[str | None, list[str]]:
    """The entity the samples show and its raw matching values: the label's, from the evidence that
    gave it, else those of the candidate with the highest rate."""
    sources = {
        "pattern": {e: p.samples for e, p in trace.patterns.items()},
        "ner": trace.ner_samples,
        "shape": trace.shape_samples,
    }
    if report.entity is not None:
        return report.entity, sources.get(trace.evidence or "", {}).get(report.entity, [])
    found: dict[str, list[str]] = {}
    for by_entity in sources.values():
        for entity, values in by_entity.items():
            if values:
                found.setdefault(entity, values)
    ranked = sorted(found, key=lambda e: -report.entities.get(e, 0.0))
    return (ranked[0], found[ranked[0]]) if ranked else (None, [])
