"""Names and places: batched NER over candidate columns, and the rules a span must pass to count.

A NER span is a claim a policy acts on (a label, a "contains" rate, a
redaction), so it must pass the same kind of checks a checksum gives the
pattern entities. A PERSON span in free text needs at least two words, each
capitalised, none a digit or a company word; a LOCATION span must be
capitalised words. Values that are company names (``Smith, Johnson and
Brown``, ``Müller GmbH``) or machine strings (user agents, paths) carry no
name or place at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from compliance.entities import NER_ENTITIES
from compliance.nlp import NlpEngines

# Legal forms and joiners of company names in the languages KlikkFlow handles.
_COMPANY = re.compile(
    r"(?i)(?:^|[\s,])(?:inc|llc|ltd|plc|corp|co|gmbh|ag|kg|ohg|mbh|e\.?\s?g|se|sa|sas|sarl|sl|slu|spa|s\.?p\.?a|"
    r"srl|s\.?r\.?l|bv|b\.v|nv|n\.v|vof|ab|hb|as|asa|oy|oyj|ky|sp|z\s?o\.?o|s\.?a|lda|group|gruppe|groupe|"
    r"grupo|gruppo|holding|partners?|associates|asociados|associati|associés|figli|hijos|fils|söhne|sons|&|"
    r"and|und|et|og|och|ja)\.?(?:$|[\s,.])"
)
_MACHINE = re.compile(r"[/\\]\d|\w/\w|[{}<>=;]|\d\.\d+\.\d")


def is_company(value: str) -> bool:
    """True when ``value`` reads as a company name: a legal form or a joiner between names."""
    return bool(_COMPANY.search(value))


def is_machine(value: str) -> bool:
    """True when ``value`` is a machine string (a user agent, a path, markup, a version)."""
    return bool(_MACHINE.search(value))


def span_counts(text: str, start: int, end: int, entity: str, free_text: bool) -> bool:
    """True when the NER span ``text[start:end]`` of ``entity`` passes the context rules."""
    span = text[start:end].strip()
    words = span.split()
    if not words or any(ch.isdigit() for ch in span) or "/" in span or "@" in span:
        return False
    if not all(w[0].isupper() for w in words if w[0].isalpha()):
        return False
    if free_text and len(words) < 2 and (entity == "PERSON" or sentence_start(text, start)):
        return False  # one capitalised word in prose is usually not a name, nor the first word of a sentence
    company = _COMPANY.search(f" {span} ") or (end < len(text) and _COMPANY.match(text[end : end + 8]))
    return not (entity == "PERSON" and company)


def sentence_start(text: str, start: int) -> bool:
    """True when position ``start`` of ``text`` opens a sentence (or the text)."""
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:;\n"


@dataclass
class NerJob:
    """A candidate column waiting for NER: its values, context, and the spans found."""

    values: list[str]
    context: list[str]
    free_text: bool
    results: list[list[Any]] = field(default_factory=list)

    def rates(self, samples: dict[str, list[str]] | None = None) -> tuple[dict[str, float], dict[str, float]]:
        """Per entity: share of values that *are* the entity, and share that *contain* one.

        ``samples``, when given, receives per entity the spans that counted (an explanation's samples).
        """
        n = max(len(self.values), 1)
        full = dict.fromkeys(NER_ENTITIES, 0)
        contains = dict.fromkeys(NER_ENTITIES, 0)
        for text, found in zip(self.values, self.results, strict=True):
            if is_machine(text) or (not self.free_text and is_company(text)):
                continue
            chars = len(text.strip()) or 1
            for entity in NER_ENTITIES:
                spans = [
                    r
                    for r in found
                    if r.entity_type == entity and span_counts(text, r.start, r.end, entity, self.free_text)
                ]
                if spans:
                    contains[entity] += 1
                    if samples is not None:
                        samples.setdefault(entity, []).extend(text[r.start : r.end] for r in spans)
                    if sum(r.end - r.start for r in spans) >= 0.6 * chars:
                        full[entity] += 1
        return {e: c / n for e, c in full.items()}, {e: c / n for e, c in contains.items()}


def run_ner(jobs: list[NerJob], engines: NlpEngines) -> None:
    """One batched Presidio pass over the candidate values of all columns."""
    from presidio_analyzer import BatchAnalyzerEngine

    batch = BatchAnalyzerEngine(analyzer_engine=engines.analyzer)
    for job in jobs:
        job.results = batch.analyze_iterator(
            job.values,
            language="en",
            entities=list(NER_ENTITIES),
            context=job.context,
            batch_size=256,
            score_threshold=0.3,
        )
