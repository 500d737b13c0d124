"""PII classification of data frames, one report per column (SQL tables: :mod:`compliance.classify_sql`).

How a column is labelled:

1. A de-duplicated sample of its non-null values (``sample`` distinct values
   from a random row sample) is taken.
2. Cheap vectorized passes run first (:mod:`compliance.value_rates`): the
   full-cell regex of every recognizer — built-in, national identifier
   (:mod:`compliance.identifiers`) or the tenant's custom entity — then its
   validator on the candidates only; phone numbers are checked by region
   (:mod:`compliance.phones`). UUID and hex-hash columns are skipped.
3. Only candidate text columns (letters, no digits, not an enum, or free
   text) go to Presidio, batched, restricted to PERSON and LOCATION, with the
   column name as context; a span counts only when it passes the context
   rules of :mod:`compliance.ner_findings`.
4. A column is labelled by the *share* of sampled values that match, never by
   one hit; a matching column name lowers the share needed, and a name that
   says the column holds something else (``order_id``, ``software_version``:
   :func:`compliance.column_names.counter_signal`) outweighs values that only
   look like PII. Free-text columns get no single entity but per-entity
   "contains" rates of validated spans (:mod:`compliance.text_rates`).
   Every rule is in ENTITIES.md.
5. Nested columns (Struct, List, Map, JSON text) are classified by their
   leaves (:mod:`compliance.nested`); values the classifier cannot read are
   reported ``unclassifiable`` for the policy's ``unclassifiable`` action.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from compliance import patterns
from compliance.column_names import context_words, counter_word, name_evidence, name_tokens
from compliance.entities import ENTITY_SENSITIVITY, NER_ENTITIES, Sensitivity, max_sensitivity
from compliance.frames import to_polars
from compliance.identifiers import IDENTIFIERS
from compliance.name_shapes import FULL_NAME_SHAPE, NAME_SHAPE, given_name_first
from compliance.ner_findings import NerJob, run_ner
from compliance.nested import Unreadable, read_column, unreadable_reason
from compliance.nlp import NlpEngines, build_engines
from compliance.phones import regions_of_column
from compliance.recognizers import Recognizer
from compliance.reports import (
    TEXT_MIN_RATE,
    ColumnReport,
    FrameReport,
    nested_report,
    unclassifiable_report,
)
from compliance.text_rates import text_rates
from compliance.trace import ColumnTrace, decide, record_shape
from compliance.value_rates import BASE_RECOGNIZERS, integer_rates, string_rates

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE = 1000  # distinct values per column
NER_SAMPLE = 200  # distinct values per candidate column sent to Presidio
NER_TEXT_SAMPLE = 100  # ... for free-text columns
NER_MAX_CHARS = 2000  # longer values are cut before NER (spaCy refuses > 1,000,000 characters)
ROW_SAMPLE = 20_000  # rows drawn before de-duplication
THRESHOLD = 0.6  # share of values needed to label a column
SIGNAL_THRESHOLD = 0.3  # ... when the column name points to the entity
NER_THRESHOLD = 0.5
NER_SIGNAL_THRESHOLD = 0.25
NER_MIN_DISTINCT = 10  # fewer distinct values: too little evidence for a NER label the name does not back
NAME_SHAPE_NER_THRESHOLD = 0.3  # ... for PERSON when nearly every value is shaped like a full name
TEXT_MIN_TOKENS = 5.0  # mean words per value for a column to be free text
ENUM_MAX_DISTINCT = 30
ENUM_MIN_ROWS = 500
BUILTIN_RECOGNIZERS: tuple[Recognizer, ...] = (*BASE_RECOGNIZERS, *IDENTIFIERS)
# Entities a counter-signal name (order_id, software_version, product) outweighs.
_WEAK = frozenset({"CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "IP_ADDRESS", "PERSON", "LOCATION"})
_COUNTRY_COLUMN = ("country", "land", "pays", "pais", "paese", "kraj", "maa", "country_code", "nation")
_NO_DIGITS_WORDS = r"^[^\d]*\p{L}{2,}[^\d]*$"


@dataclass(frozen=True)
class _Setup:
    """What every column of one frame is classified with."""

    engines: NlpEngines
    recognizers: tuple[Recognizer, ...]
    sensitivity: dict[str, Sensitivity]
    region_hints: tuple[str, ...]
    sample: int
    row_sample: int
    ner_sample: int
    explain: bool = False


def classify_frame(
    frame: Any,
    *,
    sample: int = DEFAULT_SAMPLE,
    engines: NlpEngines | None = None,
    ner_sample: int = NER_SAMPLE,
    row_sample: int = ROW_SAMPLE,
    rows: int | None = None,
    recognizers: Sequence[Recognizer] = (),
    region: str | None = None,
    explain: bool = False,
) -> FrameReport:
    """Classify every column of a pandas, Polars or Arrow frame.

    ``sample`` bounds the distinct values examined per column (per leaf of a
    nested column); ``engines`` defaults to :func:`compliance.nlp.build_engines`
    for the configured model. ``rows`` overrides the reported row count (used
    when ``frame`` is already a sample). ``recognizers`` adds a tenant's custom
    entities to the built-in ones; ``region`` (ISO 3166 alpha-2, the tenant's
    country) is a hint for reading national phone numbers, after the frame's
    own country column. With ``explain`` every column report carries the
    :class:`compliance.trace.ColumnTrace` of its decision (see :mod:`compliance.explain`).
    """
    df = to_polars(frame)
    every = (*BUILTIN_RECOGNIZERS, *recognizers)
    setup = _Setup(
        engines=build_engines() if engines is None else engines,
        recognizers=every,
        sensitivity={**ENTITY_SENSITIVITY, **{r.entity: r.sensitivity for r in every}},
        region_hints=(*_country_regions(df), *([region.upper()] if region else [])),
        sample=sample,
        row_sample=row_sample,
        ner_sample=ner_sample,
        explain=explain,
    )
    reports: dict[str, ColumnReport] = {}
    nested: dict[str, tuple[dict[str, ColumnReport], bool]] = {}
    pending: list[_Candidate] = []
    for name in df.columns:
        try:
            node, leaf_values = read_column(name, df.get_column(name))
        except Unreadable as exc:
            reports[name] = unclassifiable_report(name, exc.reason)
            continue
        leaves: dict[str, ColumnReport] = {}
        for path, values in leaf_values.items():
            signal_name = name if path == name else _leaf_name(path)
            report, candidate = _classify_column(path, values, setup, signal_name)
            leaves[path] = report
            if candidate is not None:
                pending.append(candidate)
        if node.kind == "leaf":
            reports[name] = leaves[name]
        else:
            nested[name] = (leaves, node.kind == "json")
            reports[name] = nested_report(name, {})  # keeps the column order; completed below
    if pending:
        run_ner([candidate.job for candidate in pending], setup.engines)
        for candidate in pending:
            _finish_ner(candidate, setup)
    for name, (leaves, json) in nested.items():
        reports[name] = nested_report(name, leaves, json)
    return FrameReport(rows=df.height if rows is None else rows, columns=reports)


def _country_regions(df: pl.DataFrame) -> list[str]:
    """Regions named by the frame's country column, if it has one (a phone-number region hint)."""
    for name in df.columns:
        if set(name_tokens(name)) & set(_COUNTRY_COLUMN) and df.schema[name] == pl.String:
            return regions_of_column(df.get_column(name).drop_nulls().head(ROW_SAMPLE).unique().to_list())
    return []


def _label(report: ColumnReport, entity: str, rate: float, signalled: bool, setup: _Setup) -> None:
    report.entity = entity
    report.score = min(1.0, rate + (0.1 if signalled else 0.0))
    report.sensitivity = setup.sensitivity[entity]
    report.entities.setdefault(entity, rate)


def _finish_text(report: ColumnReport, setup: _Setup) -> ColumnReport:
    carried = [e for e, rate in report.entities.items() if rate >= TEXT_MIN_RATE]
    report.sensitivity = max_sensitivity([setup.sensitivity[e] for e in carried]) if carried else "internal"
    report.score = max((report.entities[e] for e in carried), default=0.0)
    return report


@dataclass(frozen=True)
class _Candidate:
    """A column waiting for NER, with what its name and value shapes said."""

    report: ColumnReport
    job: NerJob
    signals: set[str]
    countered: bool
    shape: float  # share of values shaped like a name or a place (capitalised words, no digits)
    full_shape: float  # share shaped like a full name (two to four capitalised words)


def _finish_ner(candidate: _Candidate, setup: _Setup) -> None:
    """Label a candidate column from its NER rates, its value shapes and its name."""
    report, signals, shape = candidate.report, candidate.signals, candidate.shape
    trace = report.trace
    full, contains = candidate.job.rates(None if trace is None else trace.ner_samples)
    if trace is not None:
        trace.ner, trace.ner_contains = full, contains
    if report.free_text:
        report.entities.update({e: r for e, r in contains.items() if r})
        decide(trace, f"free text: carries entities found in {TEXT_MIN_RATE:.0%}+ of values")
        _finish_text(report, setup)
        return
    best, best_rate = None, 0.0
    few = len(candidate.job.values) < NER_MIN_DISTINCT
    for entity in NER_ENTITIES:
        if (candidate.countered or few) and entity not in signals:
            continue
        rate = full[entity]
        needed = NER_SIGNAL_THRESHOLD if entity in signals and shape >= 0.8 else NER_THRESHOLD
        if entity == "PERSON" and candidate.full_shape >= 0.9:
            needed = min(needed, NAME_SHAPE_NER_THRESHOLD)
        if trace is not None:
            trace.thresholds[f"{entity} NER share"] = needed
        if rate >= needed and rate > best_rate:
            best, best_rate = entity, rate
    if best is None:
        _label_by_name_and_shape(report, signals, shape, setup)
        decide(trace, "NER shares below their thresholds")
    else:
        decide(trace, f"NER: {best_rate:.0%} of values are {best} spans", evidence="ner")
        _label(report, best, best_rate, best in signals, setup)


def _label_by_name_and_shape(report: ColumnReport, signals: set[str], shape: float, setup: _Setup) -> None:
    """A name or place column the model does not know (first names, small towns): name + shape decide."""
    for entity in ("PERSON", "LOCATION"):
        if entity in signals and shape >= 0.8:
            if report.trace is not None:
                report.trace.thresholds["name-shape share"] = 0.8
            decide(
                report.trace,
                f"column name says {entity} and {shape:.0%} of values are shaped like one",
                evidence="shape",
            )
            _label(report, entity, 0.5 * shape, True, setup)
            return


def _sample_values(series: pl.Series, sample: int, row_sample: int) -> tuple[pl.Series, int, int]:
    """Distinct non-null values (at most ``sample``), the rows drawn and the distinct count among them."""
    non_null = series.drop_nulls()
    if non_null.len() > row_sample:
        non_null = non_null.sample(row_sample, seed=0)
    distinct = non_null.unique(maintain_order=True)
    return distinct.head(sample), non_null.len(), distinct.len()


def _as_text(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if dtype == pl.String:
        return series
    if dtype == pl.Binary:
        return pl.Series(series.name, [b.decode("utf-8", errors="replace") for b in series], dtype=pl.String)
    if dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return series.cast(pl.String)
    return series.cast(pl.String, strict=False)


def _classify_column(
    name: str, series: pl.Series, setup: _Setup, signal_name: str
) -> tuple[ColumnReport, _Candidate | None]:
    report = ColumnReport(name=name, entity=None, score=0.0, sensitivity="internal")
    series = series.alias("value")  # a name like ``^[a-z]{2}$`` is a column regex to Polars
    trace = report.trace = ColumnTrace() if setup.explain else None
    dtype = series.dtype
    if series.len() == 0 or series.null_count() == series.len() or dtype == pl.Null:
        report.sensitivity = "public"
        decide(trace, "no values")
        return report, None
    reason = unreadable_reason(series)
    if reason is not None:
        return unclassifiable_report(name, reason), None
    evidence = name_evidence(signal_name, setup.recognizers)
    signals, counter = set(evidence), counter_word(signal_name)
    countered = counter is not None
    if trace is not None:
        trace.names, trace.counter = evidence, counter
    if dtype == pl.Boolean or dtype.is_float() or dtype.is_decimal():
        decide(trace, f"{dtype} values are not examined")
        return report, None
    if dtype.is_temporal():
        if "DATE_OF_BIRTH" in signals and dtype in (pl.Date, pl.Datetime):
            decide(trace, "a date column whose name says birth", evidence="type")
            _label(report, "DATE_OF_BIRTH", 1.0, False, setup)
        decide(trace, "dates, and the name does not say birth")
        return report, None
    values, drawn, distinct = _sample_values(_as_text(series), setup.sample, setup.row_sample)
    values = values.str.strip_chars()
    values = values.filter(values != "")
    report.sampled = values.len()
    if trace is not None:
        trace.values = report.sampled
    if report.sampled == 0:
        report.sensitivity = "public"
        decide(trace, "no non-empty values")
        return report, None
    if dtype.is_integer():
        rates = integer_rates(values, signals, setup.recognizers, trace)
        if not _pick_pattern(report, rates, signals, countered, setup):
            decide(trace, "integers: no identifier pattern reaches its threshold")
        return report, None
    return _classify_strings(report, values, signals, countered, drawn, distinct, setup)


def _leaf_name(path: str) -> str:
    """The name that carries a leaf's meaning: ``contacts[].email`` -> ``email``."""
    segments = [s for s in path.replace("[]", "").replace("{}", "").split(".") if s]
    return segments[-1] if segments else path


def _pick_pattern(
    report: ColumnReport, rates: dict[str, float], signals: set[str], countered: bool, setup: _Setup
) -> bool:
    trace = report.trace
    if countered:
        kept = {e: r for e, r in rates.items() if e in signals or e not in _WEAK}
        if trace is not None and rates.keys() - kept.keys():
            trace.set_aside = sorted(rates.keys() - kept.keys())
            trace.decide(
                f"counter-signal '{trace.counter}' in the name: {', '.join(trace.set_aside)} set aside"
            )
        rates = kept
    report.entities.update(rates)
    best = max(rates, key=lambda e: (rates[e], e in signals), default=None)
    if best is None:
        return False
    needed = SIGNAL_THRESHOLD if best in signals else THRESHOLD
    if trace is not None:
        trace.thresholds[f"{best} pattern share"] = needed
    if rates[best] >= needed:
        share = f"{rates[best]:.0%} of values are valid {best} (needed {needed:.0%})"
        decide(trace, f"pattern: {share}", evidence="pattern")
        _label(report, best, rates[best], best in signals, setup)
        return True
    return False


def _classify_strings(
    report: ColumnReport,
    values: pl.Series,
    signals: set[str],
    countered: bool,
    drawn: int,
    distinct: int,
    setup: _Setup,
) -> tuple[ColumnReport, _Candidate | None]:
    n = values.len()
    machine = (values.str.contains(patterns.UUID) | values.str.contains(patterns.HEX_HASH)).sum() / n
    if machine >= 0.8:
        decide(report.trace, f"{machine:.0%} of values are UUIDs or hex hashes (machine ids)")
        return report, None
    trace = report.trace
    rates = string_rates(values, signals, setup.recognizers, setup.region_hints, trace)
    if _pick_pattern(report, rates, signals, countered, setup):
        return report, None
    report.entities.clear()
    if "DATE_OF_BIRTH" in signals:
        dates = values.str.contains(patterns.DATE_LIKE).sum() / n
        if trace is not None:
            trace.measures["date share"], trace.thresholds["DATE_OF_BIRTH date share"] = dates, THRESHOLD
        if dates >= THRESHOLD:
            decide(trace, f"the name says birth and {dates:.0%} of values are dates", evidence="shape")
            record_shape(trace, "DATE_OF_BIRTH", values, patterns.DATE_LIKE)
            _label(report, "DATE_OF_BIRTH", dates, False, setup)
            return report, None
    tokens = values.str.count_matches(r"\S+").mean() or 0.0
    address = values.str.contains(patterns.ADDRESS).sum() / n
    address_needed = SIGNAL_THRESHOLD if "LOCATION" in signals else THRESHOLD
    if trace is not None:
        trace.measures["address share"], trace.measures["words per value"] = address, tokens
        trace.thresholds["LOCATION address share"] = address_needed
        trace.thresholds["free text words per value"] = TEXT_MIN_TOKENS
    if (not countered or "LOCATION" in signals) and address >= address_needed:
        decide(trace, f"{address:.0%} of values are street addresses", evidence="shape")
        record_shape(trace, "LOCATION", values, patterns.ADDRESS)
        _label(report, "LOCATION", address, "LOCATION" in signals, setup)
        return report, None
    report.free_text = tokens >= TEXT_MIN_TOKENS
    if report.free_text:
        report.entities.update(text_rates(values, setup.recognizers, setup.region_hints, trace))
    # Few distinct values over many rows is a code list, unless the name says names or places.
    enum_like = (
        drawn >= ENUM_MIN_ROWS and distinct <= ENUM_MAX_DISTINCT and not signals & {"PERSON", "LOCATION"}
    )
    wordy = values.str.contains(_NO_DIGITS_WORDS).sum() / n >= 0.5
    if not report.free_text:
        values = given_name_first(values)
    shape = values.str.contains(NAME_SHAPE).sum() / n
    full_shape = values.str.contains(FULL_NAME_SHAPE).sum() / n
    if trace is not None:
        trace.measures["name-shape share"], trace.measures["full-name-shape share"] = shape, full_shape
        for entity in signals & {"PERSON", "LOCATION"}:
            record_shape(trace, entity, values, NAME_SHAPE)
    if not report.free_text and (enum_like or not wordy):
        decide(trace, "a code list (few distinct values)" if enum_like else "no pattern, and not words")
        return report, None
    if setup.engines.analyzer is None:
        if not report.free_text and not countered:
            _label_by_name_and_shape(report, signals, shape, setup)
        decide(trace, "free text without NER (no spaCy model)" if report.free_text else "no pattern; no NER")
        return (_finish_text(report, setup) if report.free_text else report), None
    limit = min(setup.ner_sample, NER_TEXT_SAMPLE) if report.free_text else setup.ner_sample
    ner_values = values.head(limit).str.slice(0, NER_MAX_CHARS).to_list()
    job = NerJob(ner_values, context_words(report.name), report.free_text)
    return report, _Candidate(report, job, signals, countered, shape, full_shape)
