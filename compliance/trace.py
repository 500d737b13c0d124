"""What the classifier saw while it labelled one column, recorded only when an explanation is asked for.

The classifier (:mod:`compliance.classify`) fills a :class:`ColumnTrace` at
the points where it decides, from the very numbers it decides with, so an
explanation (:mod:`compliance.explain`) cannot disagree with the label. The
samples held here are raw values: they are masked before anything shows them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

MAX_SAMPLES = 3  # matching values kept per signal


@dataclass
class PatternTrace:
    """One recognizer on one column: values its regex matched and values its validator passed."""

    entity: str
    matched: int
    passed: int
    validator: str | None
    samples: list[str] = field(default_factory=list)


@dataclass
class ColumnTrace:
    """The signals, thresholds and samples behind one column's label.

    ``values`` is the number of distinct non-empty values examined;
    ``patterns`` the recognizers whose regex matched any of them (by entity,
    the best one); ``measures`` the value-shape shares (and words per value) a rule looked at
    (``date share``, ``address share``, ``name-shape share``); ``ner`` and
    ``ner_contains`` the NER shares (only when NER ran); ``thresholds`` the
    shares the deciding rules required; ``set_aside`` the entities the
    counter-signal outweighed; ``decided_by`` one sentence saying which rule
    gave the label (or why there is none) and ``evidence`` the kind of signal
    it rests on; ``notes`` what else a rule set aside.
    """

    values: int = 0
    names: dict[str, str] = field(default_factory=dict)
    counter: str | None = None
    patterns: dict[str, PatternTrace] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)
    ner: dict[str, float] | None = None
    ner_contains: dict[str, float] | None = None
    ner_samples: dict[str, list[str]] = field(default_factory=dict)
    shape_samples: dict[str, list[str]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)
    decided_by: str = ""
    evidence: str | None = None
    notes: list[str] = field(default_factory=list)

    def pattern(
        self, entity: str, matched: int, passed: int, samples: list[str], validator: str | None
    ) -> None:
        """Record a recognizer's regex matches and validator passes (the better of two for one entity)."""
        known = self.patterns.get(entity)
        if known is None or passed > known.passed:
            self.patterns[entity] = PatternTrace(entity, matched, passed, validator, samples[:MAX_SAMPLES])

    def decide(self, sentence: str, evidence: str | None = None) -> None:
        """Say which rule labelled the column, on which ``evidence`` (pattern, ner, shape, type), or why
        it has no label. The first reason wins, except that a label's reason replaces a reason for none.
        """
        if not self.decided_by or (evidence and not self.evidence):
            self.decided_by, self.evidence = sentence, evidence


def record_pattern(
    trace: ColumnTrace | None, entity: str, matched: int, passed: list[str], validator: str | None
) -> None:
    """:meth:`ColumnTrace.pattern` for cells, when a trace is being recorded: ``passed`` are the values."""
    if trace is not None and matched:
        trace.pattern(entity, matched, len(passed), passed, validator)


def record_shape(trace: ColumnTrace | None, entity: str, values: pl.Series, shape: str) -> None:
    """Keep a few values of the shape (a name, a date, an address) that labelled the column ``entity``."""
    if trace is not None:
        trace.shape_samples[entity] = values.filter(values.str.contains(shape)).head(MAX_SAMPLES).to_list()


def note(trace: ColumnTrace | None, sentence: str) -> None:
    """Add a note (a candidate a rule set aside) when a trace is being recorded."""
    if trace is not None:
        trace.notes.append(sentence)


def decide(trace: ColumnTrace | None, sentence: str, evidence: str | None = None) -> None:
    """:meth:`ColumnTrace.decide` when a trace is being recorded."""
    if trace is not None:
        trace.decide(sentence, evidence)


_CHECKS = {
    "card_valid": "card prefix + Luhn",
    "luhn_valid": "Luhn",
    "iban_valid": "IBAN mod-97",
    "ssn_valid": "SSA rules",
    "ip_valid": "IP address",
}
_STDNUM = re.compile(r"stdnum ``([\w.]+)``")


def validator_name(validator: Callable[[str], bool] | None) -> str | None:
    """A short name of a recognizer's validator (``Luhn``, ``stdnum pl.pesel``), or None without one."""
    if validator is None:
        return None
    name = getattr(validator, "__name__", type(validator).__name__)
    if name in _CHECKS:
        return _CHECKS[name]
    found = _STDNUM.search(" ".join((validator.__doc__ or "").split()))
    return f"stdnum {found.group(1)}" if found else name
