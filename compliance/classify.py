"""PII classification of data frames and SQL tables, one report per column.

How a column is labelled:

1. A de-duplicated sample of its non-null values (``sample`` distinct values
   from a random row sample) is taken; SQL tables are sampled in SQL.
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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from compliance import patterns
from compliance.column_names import context_words, counter_signal, name_signals, name_tokens
from compliance.entities import ENTITY_SENSITIVITY, NER_ENTITIES, Sensitivity, max_sensitivity
from compliance.frames import to_polars
from compliance.identifiers import IDENTIFIERS
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
# Names may open with lower-case particles: van de Eerenbeemt, de la Cruz, da Silva.
_NAME_SHAPE = r"^\s*(?:\p{Ll}{1,3}\s+){0,2}\p{Lu}[\p{L}'.\-]*(?:\s+[\p{L}'.\-]+){0,4}\s*$"
_FULL_NAME_SHAPE = r"^\s*\p{Lu}[\p{L}'.\-]+(?:\s+(?:(?:\p{Ll}{1,3}|'t)\s+){0,2}\p{Lu}[\p{L}'.\-]+){1,3}\s*$"
# "Doe, Jane" and "Doe, Jane Ann": a surname, a comma and given names, as many exports write people.
_LAST_COMMA_FIRST = r"^(\p{Lu}[\p{L}'\-]+),\s*(\p{Lu}[\p{L}'\-]+(?:\s\p{Lu}[\p{L}'\-]+)?)$"
# "DOE/JANE MRS": surname, slash, given names and an optional title, upper case (passenger lists).
_LAST_SLASH_FIRST = re.compile(r"^([A-Z][A-Z'\-]+)/([A-Z][A-Z'\- ]*?)(?: (?:MR|MRS|MS|MISS|MSTR|DR))?$")
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
) -> FrameReport:
    """Classify every column of a pandas, Polars or Arrow frame.

    ``sample`` bounds the distinct values examined per column (per leaf of a
    nested column); ``engines`` defaults to :func:`compliance.nlp.build_engines`
    for the configured model. ``rows`` overrides the reported row count (used
    when ``frame`` is already a sample). ``recognizers`` adds a tenant's custom
    entities to the built-in ones; ``region`` (ISO 3166 alpha-2, the tenant's
    country) is a hint for reading national phone numbers, after the frame's
    own country column.
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


def classify_table(
    engine: Any,
    table: str,
    *,
    schema: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    row_sample: int = ROW_SAMPLE,
    engines: NlpEngines | None = None,
    recognizers: Sequence[Recognizer] = (),
    region: str | None = None,
) -> FrameReport:
    """Classify the columns of SQL table ``table`` through SQLAlchemy ``engine``.

    Sampling happens in SQL: per column, up to ``row_sample`` non-null values
    are read with ``LIMIT`` and only those rows leave the database.
    """
    import sqlalchemy as sa

    meta = sa.MetaData()
    tbl = sa.Table(table, meta, schema=schema, autoload_with=engine)
    columns: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar_one()
        for col in tbl.columns:
            query = sa.select(col).where(col.is_not(None)).limit(row_sample)
            columns[col.name] = [_sql_value(v) for v in conn.execute(query).scalars()]
    # Columns have different non-null counts: each is classified as its own one-column frame.
    engines = build_engines() if engines is None else engines
    reports: dict[str, ColumnReport] = {}
    for name, values in columns.items():
        series = pl.Series(name, values, strict=False)
        sub = classify_frame(
            pl.DataFrame([series]),
            sample=sample,
            engines=engines,
            row_sample=row_sample,
            recognizers=recognizers,
            region=region,
        )
        reports[name] = sub.columns[name]
    return FrameReport(rows=int(total), columns=reports)


def _sql_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value


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
    full, contains = candidate.job.rates()
    if report.free_text:
        report.entities.update({e: r for e, r in contains.items() if r})
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
        if rate >= needed and rate > best_rate:
            best, best_rate = entity, rate
    if best is None:
        _label_by_name_and_shape(report, signals, shape, setup)
    else:
        _label(report, best, best_rate, best in signals, setup)


def _label_by_name_and_shape(report: ColumnReport, signals: set[str], shape: float, setup: _Setup) -> None:
    """A name or place column the model does not know (first names, small towns): name + shape decide."""
    for entity in ("PERSON", "LOCATION"):
        if entity in signals and shape >= 0.8:
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
    dtype = series.dtype
    if series.len() == 0 or series.null_count() == series.len() or dtype == pl.Null:
        report.sensitivity = "public"
        return report, None
    reason = unreadable_reason(series)
    if reason is not None:
        return unclassifiable_report(name, reason), None
    signals = name_signals(signal_name, setup.recognizers)
    countered = counter_signal(signal_name)
    if dtype == pl.Boolean or dtype.is_float() or dtype.is_decimal():
        return report, None
    if dtype.is_temporal():
        if "DATE_OF_BIRTH" in signals and dtype in (pl.Date, pl.Datetime):
            _label(report, "DATE_OF_BIRTH", 1.0, False, setup)
        return report, None
    values, drawn, distinct = _sample_values(_as_text(series), setup.sample, setup.row_sample)
    values = values.str.strip_chars()
    values = values.filter(values != "")
    report.sampled = values.len()
    if report.sampled == 0:
        report.sensitivity = "public"
        return report, None
    if dtype.is_integer():
        _pick_pattern(report, integer_rates(values, signals, setup.recognizers), signals, countered, setup)
        return report, None
    return _classify_strings(report, values, signals, countered, drawn, distinct, setup)


def _slash_name(value: str) -> str:
    match = _LAST_SLASH_FIRST.match(value)
    return f"{match.group(2).title()} {match.group(1).title()}" if match else value


def _leaf_name(path: str) -> str:
    """The name that carries a leaf's meaning: ``contacts[].email`` -> ``email``."""
    segments = [s for s in path.replace("[]", "").replace("{}", "").split(".") if s]
    return segments[-1] if segments else path


def _pick_pattern(
    report: ColumnReport, rates: dict[str, float], signals: set[str], countered: bool, setup: _Setup
) -> bool:
    if countered:
        rates = {e: r for e, r in rates.items() if e in signals or e not in _WEAK}
    report.entities.update(rates)
    best = max(rates, key=lambda e: (rates[e], e in signals), default=None)
    if best is None:
        return False
    needed = SIGNAL_THRESHOLD if best in signals else THRESHOLD
    if rates[best] >= needed:
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
        return report, None
    rates = string_rates(values, signals, setup.recognizers, setup.region_hints)
    if _pick_pattern(report, rates, signals, countered, setup):
        return report, None
    report.entities.clear()
    if "DATE_OF_BIRTH" in signals:
        dates = values.str.contains(patterns.DATE_LIKE).sum() / n
        if dates >= THRESHOLD:
            _label(report, "DATE_OF_BIRTH", dates, False, setup)
            return report, None
    tokens = values.str.count_matches(r"\S+").mean() or 0.0
    address = values.str.contains(patterns.ADDRESS).sum() / n
    if (not countered or "LOCATION" in signals) and address >= (
        SIGNAL_THRESHOLD if "LOCATION" in signals else THRESHOLD
    ):
        _label(report, "LOCATION", address, "LOCATION" in signals, setup)
        return report, None
    report.free_text = tokens >= TEXT_MIN_TOKENS
    if report.free_text:
        report.entities.update(text_rates(values, setup.recognizers, setup.region_hints))
    # Few distinct values over many rows is a code list, unless the name says names or places.
    enum_like = (
        drawn >= ENUM_MIN_ROWS and distinct <= ENUM_MAX_DISTINCT and not signals & {"PERSON", "LOCATION"}
    )
    wordy = values.str.contains(_NO_DIGITS_WORDS).sum() / n >= 0.5
    if not report.free_text:
        values = values.str.replace(_LAST_COMMA_FIRST, "$2 $1")  # "Doe, Jane" reads as "Jane Doe"
        # "DOE/JANE MRS" (travel and airline systems) reads as "Jane Doe"
        values = pl.Series(values.name, [_slash_name(v) for v in values], dtype=pl.String)
    shape = values.str.contains(_NAME_SHAPE).sum() / n
    full_shape = values.str.contains(_FULL_NAME_SHAPE).sum() / n
    if not report.free_text and (enum_like or not wordy):
        return report, None
    if setup.engines.analyzer is None:
        if not report.free_text and not countered:
            _label_by_name_and_shape(report, signals, shape, setup)
        return (_finish_text(report, setup) if report.free_text else report), None
    limit = min(setup.ner_sample, NER_TEXT_SAMPLE) if report.free_text else setup.ner_sample
    ner_values = values.head(limit).str.slice(0, NER_MAX_CHARS).to_list()
    job = NerJob(ner_values, context_words(report.name), report.free_text)
    return report, _Candidate(report, job, signals, countered, shape, full_shape)
