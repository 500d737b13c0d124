"""Pattern entities inside free text: the share of texts that contain each, validated like cells."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from compliance import patterns, phones
from compliance.recognizers import Recognizer
from compliance.trace import ColumnTrace, validator_name

_VERSION = re.compile(patterns.VERSION_LIKE)


def _in_token(text: str, span: str) -> bool:
    """True when ``span`` only occurs glued to a word before it (``Chrome/5.0.1.2``, ``rv:1.9.0.20``).

    Only spans that read as versions (every part small) are judged so: an address glued to a label
    (``ip:10.0.0.1``) still counts.
    """
    if not _VERSION.match(span):
        return False
    starts = [m.start() for m in re.finditer(re.escape(span), text)]
    return all(i > 0 and not text[i - 1].isspace() and text[i - 1] not in "([\"'" for i in starts)


def _valid_spans(recognizer: Recognizer, text: str, spans: list[str] | None) -> list[str]:
    """The spans of ``text`` that count: all without a validator, else valid ones not glued to a word."""
    if not spans or recognizer.validator is None:
        return spans or []
    return [s for s in spans if recognizer.valid(s) and not _in_token(text, s)]


def text_rates(
    values: pl.Series,
    recognizers: Sequence[Recognizer],
    region_hints: Sequence[str] = (),
    trace: ColumnTrace | None = None,
) -> dict[str, float]:
    """Share of texts containing each pattern entity; a span counts only when it passes its validator.

    Phone-number spans must be possible numbers for their region (see :mod:`compliance.phones`).
    ``trace`` records, per entity, the texts with a regex span, those with a valid one and valid spans.
    """
    n = values.len()
    rates: dict[str, float] = {}
    for recognizer in recognizers:
        if recognizer.span is None:
            continue
        found = values.str.extract_all(recognizer.span).to_list()
        valid = [_valid_spans(recognizer, text, spans) for text, spans in zip(values, found, strict=True)]
        hits = sum(1 for spans in valid if spans)
        if trace is not None:
            matched = sum(1 for spans in found if spans)
            samples = [s for spans in valid for s in spans]
            if matched:
                trace.pattern(recognizer.entity, matched, hits, samples, validator_name(recognizer.validator))
        if hits:
            rates[recognizer.entity] = max(hits / n, rates.get(recognizer.entity, 0.0))
    found = values.str.extract_all(patterns.SPAN["PHONE_NUMBER"]).to_list()
    spans = [s for texts in found if texts for s in texts]
    if spans:
        region = phones.infer_region(spans, region_hints)
        valid = [[s for s in texts if phones.possible(s, region)] if texts else [] for texts in found]
        hits = sum(1 for texts in valid if texts)
        if trace is not None:
            matched = sum(1 for texts in found if texts)
            samples = [s for texts in valid for s in texts]
            trace.pattern("PHONE_NUMBER", matched, hits, samples, "phonenumbers (by region)")
        if hits:
            rates["PHONE_NUMBER"] = hits / n
    return rates
