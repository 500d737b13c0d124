"""Pattern entities inside free text: the share of texts that contain each, validated like cells."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from compliance import patterns, phones
from compliance.recognizers import Recognizer


def _in_path(text: str, span: str) -> bool:
    """True when ``span`` only occurs as part of a path or product token (``Chrome/5.0.1.2``, ``v/1234``)."""
    return f"/{span}" in text and f" {span}" not in text and not text.startswith(span)


def text_rates(
    values: pl.Series, recognizers: Sequence[Recognizer], region_hints: Sequence[str] = ()
) -> dict[str, float]:
    """Share of texts containing each pattern entity; a span counts only when it passes its validator.

    Phone-number spans must be possible numbers for their region (see :mod:`compliance.phones`).
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
                if spans is not None and any(recognizer.valid(s) and not _in_path(text, s) for s in spans)
            )
        if hits:
            rates[recognizer.entity] = max(hits / n, rates.get(recognizer.entity, 0.0))
    found = values.str.extract_all(patterns.SPAN["PHONE_NUMBER"]).to_list()
    spans = [s for texts in found if texts for s in texts]
    if spans:
        region = phones.infer_region(spans, region_hints)
        hits = sum(1 for texts in found if texts and any(phones.possible(s, region) for s in texts))
        if hits:
            rates["PHONE_NUMBER"] = hits / n
    return rates
