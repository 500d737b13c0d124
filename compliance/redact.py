"""Redaction of entity spans inside free text: validated pattern spans, then names and places.

Pattern spans (built-in, national identifiers, a tenant's custom entities)
are replaced with vectorized Polars expressions; spans of entities with a
validator are replaced only when they pass it, so an order number shaped like
an identifier stays readable. Names and places go through batched NER over
the distinct texts (:func:`redact_names`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from compliance import patterns
from compliance.entities import NER_ENTITIES
from compliance.identifiers import IDENTIFIERS
from compliance.ner_findings import is_company, sentence_start
from compliance.nlp import SPACY_LABELS, NlpEngines, build_engines
from compliance.recognizers import Recognizer
from compliance.value_rates import BASE_RECOGNIZERS

NER_BATCH = 512
NER_CHUNK = 100_000  # characters per NER call; spaCy refuses texts over nlp.max_length
NER_CONTEXT = 3  # words of context kept on each side of a capitalised word
_WORD = re.compile(r"\S+")
# Capitalised words (with name particles between them): the candidates of name_runs.
_CAPITAL = "[A-ZÀ-ÖØ-ÞŁŚŻŹĆŃ]"  # upper-case letters of the tenants' languages (Python re has no \p{Lu})
_WORD_REST = r"[\w'\u2019\-]+"
_CAPITALISED_RUN = re.compile(
    rf"\b{_CAPITAL}{_WORD_REST}(?:\s+(?:(?:van|von|de|der|den|da|di|del|la|le)\s+)?{_CAPITAL}{_WORD_REST})+"
)


_PLACE = re.compile(
    r"\b(?:in|to|from|at|near|i|til|fra|nach|aus|bei|à|au|en|da|di|w|we|z|ze|till|från|naar|uit|"
    rf"para|desde|em|kohti)\s+({_CAPITAL}[\w\-]+)\b(?!\s+{_CAPITAL})"
)
_NOT_PLACES = frozenset(
    {
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "english", "german", "french", "spanish",
    }
)  # fmt: skip


def redact_text(
    series: pl.Series,
    entities: Sequence[str],
    engines: NlpEngines | None,
    recognizers: Sequence[Recognizer] = (),
) -> pl.Series:
    """Replace entity spans inside free text with ``<ENTITY>``.

    ``recognizers`` adds a tenant's custom entities to the built-in ones.
    Pattern entities use vectorized Polars regexes over the whole column; names
    and places (PERSON, LOCATION) use batched NER over the distinct texts when
    a spaCy model is available (``engines`` defaults to the configured model;
    pass ``build_engines("")`` for pattern-only).
    """
    text = series.cast(pl.String, strict=False)
    wanted = set(entities)
    # E-mail addresses first (they hold digits), phone numbers last (they look like everything).
    for recognizer in (*BASE_RECOGNIZERS, *IDENTIFIERS, *recognizers):
        if recognizer.entity in wanted and recognizer.span is not None:
            text = _replace_valid(text, recognizer)
    if "PHONE_NUMBER" in wanted:
        text = text.str.replace_all(patterns.SPAN["PHONE_NUMBER"], "<PHONE_NUMBER>")
    ner_wanted = [e for e in NER_ENTITIES if e in wanted]
    if ner_wanted and engines is None:
        engines = build_engines()
    if ner_wanted and engines is not None and engines.has_ner:
        text = _redact_ner(text, ner_wanted, engines)
    return text.alias(series.name)


def _replace_valid(text: pl.Series, recognizer: Recognizer) -> pl.Series:
    """``text`` with the recognizer's spans that pass its validator replaced by ``<ENTITY>``."""
    label = f"<{recognizer.entity}>"
    if recognizer.validator is None:
        return text.str.replace_all(recognizer.span or "", label)
    spans = text.str.extract_all(recognizer.span or "").explode().drop_nulls().unique().to_list()
    valid = [s for s in spans if recognizer.valid(s)]
    if not valid:
        return text
    if len(valid) == len(spans):
        return text.str.replace_all(recognizer.span or "", label)
    valid.sort(key=len, reverse=True)  # longest first, so no valid span is cut by a shorter one
    return text.str.replace_many(valid, [label] * len(valid))


def name_runs(text: str, ner_spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Runs of two or more capitalised words the model did not call a person or a place: PERSON spans.

    The small English model calls many European names a product or an
    organisation (``Nils Bakke``); those runs count. A run that opens a
    sentence loses its first word (``Called Nils Bakke``) and then needs two
    more; runs that read as company names are skipped.
    """
    found = []
    for match in _CAPITALISED_RUN.finditer(text):
        start, end = match.span()
        if any(a < end and start < b for a, b, label in ner_spans if label in NER_ENTITIES):
            continue
        if sentence_start(text, start):
            words = match.group().split()
            if len(words) < 3:
                continue
            start += len(words[0]) + 1
        if not is_company(text[start:end]):
            found.append((start, end, "PERSON"))
    return found


def places_after_prepositions(text: str, taken: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A lone capitalised word after a place preposition (``moved to Bergen``): a LOCATION span.

    The English model knows few European towns; a preposition of place in any of
    the tenants' languages before a capitalised word is the tell. Month and day
    names are skipped; spans already taken by a name or place are left alone.
    """
    found = []
    for match in _PLACE.finditer(text):
        start, end = match.span(1)
        if match.group(1).lower() in _NOT_PLACES or any(a < end and start < b for a, b, _ in taken):
            continue
        found.append((start, end, "LOCATION"))
    return found


def _widen_person(text: str, span: tuple[int, int, str]) -> tuple[int, int, str]:
    """``span`` widened to the capitalised word right before it (a first name the model left out)."""
    start, end, label = span
    before = text[:start]
    word = re.search(rf"({_CAPITAL}{_WORD_REST})\s+$", before)
    if word and not sentence_start(text, word.start(1)):
        start = word.start(1)
    return start, end, label


def _chunks(text: str, size: int = NER_CHUNK) -> list[str]:
    """Split ``text`` into pieces of at most ``size`` characters, at whitespace where possible."""
    pieces, start = [], 0
    while len(text) - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = start + size if cut == -1 else cut + 1
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def ner_windows(text: str, context: int = NER_CONTEXT) -> list[tuple[int, int]]:
    """Character ranges worth sending to NER: each capitalised word with ``context`` words around it.

    Names and places in the languages we handle start with a capital letter, so
    text without one needs no NER at all, and lower-case stretches far from any
    capital cannot hold an entity; skipping them is most of the speed-up over
    running the model on every character. Overlapping ranges are merged.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    ranges: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(words):
        word = text[start:end].lstrip("(\"'[")
        if not word or not word[0].isupper() or word.startswith("<"):
            continue
        low = words[max(0, index - context)][0]
        high = words[min(len(words) - 1, index + context)][1]
        if ranges and low <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(high, ranges[-1][1]))
        else:
            ranges.append((low, high))
    return ranges


def redact_names(texts: list[str], entities: list[str], engines: NlpEngines) -> list[str]:
    """Replace PERSON/LOCATION spans found by the NER pipeline (``nlp.pipe``, batched).

    Only :func:`ner_windows` of each text go through the model, each distinct
    window once, in pieces of at most :data:`NER_CHUNK` characters. A PERSON
    span is widened to the capitalised words right before it (``Matti`` of
    ``Matti Virtanen``), and runs of capitalised words the model tagged as
    nothing are names too (:func:`name_runs`): the English model misses many
    European names, and a redaction errs on the side of the data subject.
    """
    pieces: dict[str, int] = {}
    placements: list[tuple[int, int, str]] = []  # (text index, offset in text, piece)
    for index, text in enumerate(texts):
        for low, high in ner_windows(text):
            offset = low
            for piece in _chunks(text[low:high]):
                pieces.setdefault(piece, len(pieces))
                placements.append((index, offset, piece))
                offset += len(piece)
    found: list[list[tuple[int, int, str]]] = []
    for doc in engines.ner.pipe(list(pieces), batch_size=NER_BATCH):
        found.append([(e.start_char, e.end_char, SPACY_LABELS.get(e.label_, e.label_)) for e in doc.ents])
    per_text: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    for index, offset, piece in placements:
        per_text[index].extend((offset + a, offset + b, label) for a, b, label in found[pieces[piece]])
    out = []
    for text, all_spans in zip(texts, per_text, strict=True):
        spans = [s for s in all_spans if s[2] in entities]
        if "PERSON" in entities:
            spans = [_widen_person(text, s) if s[2] == "PERSON" else s for s in spans]
            spans += name_runs(text, all_spans)
        if "LOCATION" in entities:
            named = [s for s in all_spans if s[2] in NER_ENTITIES]
            spans += places_after_prepositions(text, [*named, *spans])
        parts, last = [], 0
        for start, end, label in sorted(spans):
            if start < last:
                continue
            parts.append(text[last:start])
            parts.append(f"<{label}>")
            last = end
        parts.append(text[last:])
        out.append("".join(parts))
    return out


def _redact_ner(text: pl.Series, entities: list[str], engines: NlpEngines) -> pl.Series:
    distinct = text.drop_nulls().unique()
    redacted = pl.Series(redact_names(distinct.to_list(), entities, engines), dtype=pl.String)
    return text.replace_strict(distinct, redacted, default=None, return_dtype=pl.String)
