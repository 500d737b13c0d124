"""Pattern entities inside free text: the share of texts that contain each, validated like cells."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from compliance import patterns, phones
from compliance.recognizers import Recognizer
from compliance.trace import MAX_SAMPLES, ColumnTrace, validator_name

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


def _trace_spans(trace: ColumnTrace | None, recognizer: Recognizer, values: pl.Series, hits: int) -> None:
    """Record the texts with a regex span, the ``hits`` counted and a few spans that count."""
    if trace is None:
        return
    found = values.str.extract_all(recognizer.span or "").to_list()
    matched = sum(1 for spans in found if spans)
    counted = [
        s
        for text, spans in zip(values.to_list(), found, strict=True)
        for s in spans or ()
        if recognizer.validator is None or (recognizer.valid(s) and not _in_token(text, s))
    ]
    if matched:
        trace.pattern(recognizer.entity, matched, hits, counted, validator_name(recognizer.validator))


def text_rates(
    values: pl.Series,
    recognizers: Sequence[Recognizer],
    region_hints: Sequence[str] = (),
    trace: ColumnTrace | None = None,
) -> dict[str, float]:
    """Share of texts containing each pattern entity; a span counts only when it passes its validator.

    Phone-number spans must be possible numbers for their region (see :mod:`compliance.phones`).
    ``trace`` records, per entity, the texts with a regex span, the texts counted and spans that count.
    """
    n = values.len()
    rates: dict[str, float] = {}
    for recognizer in recognizers:
        if recognizer.span is None:
            continue
        if recognizer.validator is None:
            hits = int(values.str.contains(recognizer.span).sum())
        else:
            found = values.str.extract_all(recognizer.span)
            hits = sum(
                1
                for text, spans in zip(values, found, strict=True)
                if spans is not None and any(recognizer.valid(s) and not _in_token(text, s) for s in spans)
            )
        _trace_spans(trace, recognizer, values, hits)
        if hits:
            rates[recognizer.entity] = max(hits / n, rates.get(recognizer.entity, 0.0))
    found = values.str.extract_all(patterns.SPAN["PHONE_NUMBER"]).to_list()
    spans = [s for texts in found if texts for s in texts]
    if spans:
        region = phones.infer_region(spans, region_hints)
        hits = sum(1 for texts in found if texts and any(phones.possible(s, region) for s in texts))
        if trace is not None:
            counted = [s for s in spans if phones.possible(s, region)][:MAX_SAMPLES]
            matched = sum(1 for texts in found if texts)
            trace.pattern("PHONE_NUMBER", matched, hits, counted, "phonenumbers (by region)")
        if hits:
            rates["PHONE_NUMBER"] = hits / n
    return rates
