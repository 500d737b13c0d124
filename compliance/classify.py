"""PII classification of data frames and SQL tables, one report per column.

How a column is labelled:

1. A de-duplicated sample of its non-null values (``sample`` distinct values
   from a random row sample) is taken; SQL tables are sampled in SQL.
2. Cheap vectorized passes run first: full-cell regexes in Polars for the
   pattern entities, then validators (Luhn, IBAN mod-97, SSN rules, IP
   parsing) on the candidates only. UUID and hex-hash columns are recognised
   and skipped.
3. Only candidate text columns (letters, no digits, not an enum, or free
   text) go to Presidio, batched, restricted to PERSON and LOCATION, with the
   column name as context.
4. A column is labelled by the *share* of sampled values that match, never by
   one hit; a matching column name lowers the share needed. Free-text columns
   get no single entity but per-entity "contains" rates.
5. Nested columns (Struct, List, Map, JSON text) are classified by their
   leaves (:mod:`compliance.nested`); values the classifier cannot read are
   reported ``unclassifiable`` for the policy's ``unclassifiable`` action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from compliance import patterns
from compliance.column_names import context_words, name_signals
from compliance.entities import ENTITY_SENSITIVITY, NER_ENTITIES, max_sensitivity
from compliance.frames import to_polars
from compliance.nested import Unreadable, read_column, unreadable_reason
from compliance.nlp import NlpEngines, build_engines
from compliance.reports import (
    TEXT_MIN_RATE,
    ColumnReport,
    FrameReport,
    nested_report,
    unclassifiable_report,
)
from compliance.validators import iban_valid, ip_valid, luhn_valid, ssn_valid

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
TEXT_MIN_TOKENS = 5.0  # mean words per value for a column to be free text
ENUM_MAX_DISTINCT = 30
ENUM_MIN_ROWS = 500
_VALIDATORS = {
    "CREDIT_CARD": luhn_valid,
    "IBAN_CODE": iban_valid,
    "US_SSN": ssn_valid,
    "IP_ADDRESS": ip_valid,
}
_NAME_SHAPE = r"^\s*\p{L}[\p{L}'.\-]*(?:\s+[\p{L}'.\-]+){0,4}\s*$"
_NO_DIGITS_WORDS = r"^[^\d]*\p{L}{2,}[^\d]*$"


def classify_frame(
    frame: Any,
    *,
    sample: int = DEFAULT_SAMPLE,
    engines: NlpEngines | None = None,
    ner_sample: int = NER_SAMPLE,
    row_sample: int = ROW_SAMPLE,
    rows: int | None = None,
) -> FrameReport:
    """Classify every column of a pandas, Polars or Arrow frame.

    ``sample`` bounds the distinct values examined per column (per leaf of a
    nested column); ``engines`` defaults to :func:`compliance.nlp.build_engines`
    for the configured model. ``rows`` overrides the reported row count (used
    when ``frame`` is already a sample).
    """
    df = to_polars(frame)
    engines = build_engines() if engines is None else engines
    reports: dict[str, ColumnReport] = {}
    nested: dict[str, tuple[dict[str, ColumnReport], bool]] = {}
    ner_jobs: list[_NerJob] = []
    for name in df.columns:
        try:
            node, leaf_values = read_column(name, df.get_column(name))
        except Unreadable as exc:
            reports[name] = unclassifiable_report(name, exc.reason)
            continue
        leaves: dict[str, ColumnReport] = {}
        for path, values in leaf_values.items():
            signal_name = name if path == name else _leaf_name(path)
            report, job = _classify_column(path, values, sample, row_sample, engines, ner_sample, signal_name)
            leaves[path] = report
            if job is not None:
                ner_jobs.append(job)
        if node.kind == "leaf":
            reports[name] = leaves[name]
        else:
            nested[name] = (leaves, node.kind == "json")
            reports[name] = nested_report(name, {})  # keeps the column order; completed below
    if ner_jobs:
        _run_ner(ner_jobs, engines)
        for job in ner_jobs:
            job.finish()  # completes the report in place
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
        sub = classify_frame(pl.DataFrame([series]), sample=sample, engines=engines, row_sample=row_sample)
        reports[name] = sub.columns[name]
    return FrameReport(rows=int(total), columns=reports)


def _sql_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value


@dataclass
class _NerJob:
    """A candidate column waiting for Presidio, and how to finish its report afterwards."""

    report: ColumnReport
    values: list[str]
    context: list[str]
    signals: set[str]
    name_shape_rate: float
    results: list[list[Any]] = field(default_factory=list)

    def finish(self) -> ColumnReport:
        report = self.report
        n = max(len(self.values), 1)
        full = dict.fromkeys(NER_ENTITIES, 0)
        contains = dict.fromkeys(NER_ENTITIES, 0)
        for text, found in zip(self.values, self.results, strict=True):
            chars = len(text.strip()) or 1
            for entity in NER_ENTITIES:
                spans = [r for r in found if r.entity_type == entity]
                if report.free_text and entity == "PERSON":
                    # One capitalised word in prose is usually not a name; two or more words are.
                    spans = [r for r in spans if " " in text[r.start : r.end].strip()]
                if spans:
                    contains[entity] += 1
                    if sum(r.end - r.start for r in spans) >= 0.6 * chars:
                        full[entity] += 1
        if report.free_text:
            for entity in NER_ENTITIES:
                if contains[entity]:
                    report.entities[entity] = contains[entity] / n
            return _finish_text(report)
        best, best_rate = None, 0.0
        for entity in NER_ENTITIES:
            rate = full[entity] / n
            if rate:
                report.entities[entity] = rate
            signalled = entity in self.signals and (entity != "PERSON" or self.name_shape_rate >= 0.8)
            needed = NER_SIGNAL_THRESHOLD if signalled else NER_THRESHOLD
            if rate >= needed and rate > best_rate:
                best, best_rate = entity, rate
        if best:
            _label(report, best, best_rate, best in self.signals)
        return report


def _label(report: ColumnReport, entity: str, rate: float, signalled: bool) -> None:
    report.entity = entity
    report.score = min(1.0, rate + (0.1 if signalled else 0.0))
    report.sensitivity = ENTITY_SENSITIVITY[entity]
    report.entities.setdefault(entity, rate)


def _finish_text(report: ColumnReport) -> ColumnReport:
    carried = [e for e, rate in report.entities.items() if rate >= TEXT_MIN_RATE]
    report.sensitivity = max_sensitivity([ENTITY_SENSITIVITY[e] for e in carried]) if carried else "internal"
    report.score = max((report.entities[e] for e in carried), default=0.0)
    return report


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
    name: str,
    series: pl.Series,
    sample: int,
    row_sample: int,
    engines: NlpEngines,
    ner_sample: int,
    signal_name: str,
) -> tuple[ColumnReport, _NerJob | None]:
    report = ColumnReport(name=name, entity=None, score=0.0, sensitivity="internal")
    dtype = series.dtype
    if series.len() == 0 or series.null_count() == series.len() or dtype == pl.Null:
        report.sensitivity = "public"
        return report, None
    reason = unreadable_reason(series)
    if reason is not None:
        return unclassifiable_report(name, reason), None
    signals = name_signals(signal_name)
    if dtype == pl.Boolean or dtype.is_float() or dtype.is_decimal():
        return report, None
    if dtype.is_temporal():
        if "DATE_OF_BIRTH" in signals and dtype in (pl.Date, pl.Datetime):
            _label(report, "DATE_OF_BIRTH", 1.0, False)
        return report, None
    values, drawn, distinct = _sample_values(_as_text(series), sample, row_sample)
    values = values.str.strip_chars()
    values = values.filter(values != "")
    report.sampled = values.len()
    if report.sampled == 0:
        report.sensitivity = "public"
        return report, None
    if dtype.is_integer():
        return _classify_integers(report, values, signals), None
    return _classify_strings(report, values, signals, drawn, distinct, engines, ner_sample)


def _leaf_name(path: str) -> str:
    """The name that carries a leaf's meaning: ``contacts[].email`` -> ``email``."""
    segments = [s for s in path.replace("[]", "").replace("{}", "").split(".") if s]
    return segments[-1] if segments else path


def _digit_count(values: pl.Series) -> pl.Series:
    return values.str.count_matches(r"\d")


def _validated_rate(entity: str, values: pl.Series, mask: pl.Series) -> float:
    candidates = values.filter(mask)
    if candidates.len() == 0:
        return 0.0
    check = _VALIDATORS.get(entity)
    hits = candidates.len() if check is None else sum(1 for v in candidates if check(v))
    return hits / values.len()


def _classify_integers(report: ColumnReport, values: pl.Series, signals: set[str]) -> ColumnReport:
    """Integer columns: ids and amounts unless Luhn-valid cards, or phone/SSN numbers the name announces."""
    digits = _digit_count(values)
    rates = {"CREDIT_CARD": _validated_rate("CREDIT_CARD", values, (digits >= 12) & (digits <= 19))}
    if "PHONE_NUMBER" in signals:
        rates["PHONE_NUMBER"] = ((digits >= 7) & (digits <= 15)).mean() or 0.0
    if "US_SSN" in signals:
        padded = values.str.zfill(9)
        rates["US_SSN"] = _validated_rate("US_SSN", padded, padded.str.len_chars() == 9)
    _pick_pattern(report, rates, signals)
    return report


def _pick_pattern(report: ColumnReport, rates: dict[str, float], signals: set[str]) -> bool:
    report.entities.update({e: r for e, r in rates.items() if r > 0})
    best = max(rates, key=lambda e: rates[e], default=None)
    if best is None:
        return False
    needed = SIGNAL_THRESHOLD if best in signals else THRESHOLD
    if rates[best] >= needed:
        _label(report, best, rates[best], best in signals)
        return True
    return False


def _pattern_rates(values: pl.Series, signals: set[str]) -> dict[str, float]:
    """Share of values that fully match each pattern entity, after validation."""
    frame = pl.DataFrame({"v": values})
    masks = frame.select(
        **{e: pl.col("v").str.contains(p) for e, p in patterns.FULL.items()},
        date_like=pl.col("v").str.contains(patterns.DATE_LIKE),
        phone_shape=pl.col("v").str.contains(patterns.PHONE_SHAPE),
        digits=pl.col("v").str.count_matches(r"\d"),
    )
    phone = masks["PHONE_NUMBER"] & ~masks["date_like"] & ~masks["IP_ADDRESS"] & ~masks["US_SSN"]
    phone = phone & (masks["digits"] >= 7) & (masks["digits"] <= 15)
    if "PHONE_NUMBER" not in signals:
        phone = phone & masks["phone_shape"]
    rates = {e: _validated_rate(e, values, masks[e]) for e in patterns.FULL if e != "PHONE_NUMBER"}
    rates["PHONE_NUMBER"] = phone.sum() / values.len()
    return rates


def _classify_strings(
    report: ColumnReport,
    values: pl.Series,
    signals: set[str],
    drawn: int,
    distinct: int,
    engines: NlpEngines,
    ner_sample: int,
) -> tuple[ColumnReport, _NerJob | None]:
    n = values.len()
    machine = (values.str.contains(patterns.UUID) | values.str.contains(patterns.HEX_HASH)).sum() / n
    if machine >= 0.8:
        return report, None
    if _pick_pattern(report, _pattern_rates(values, signals), signals):
        return report, None
    report.entities.clear()
    if "DATE_OF_BIRTH" in signals:
        dates = values.str.contains(patterns.DATE_LIKE).sum() / n
        if dates >= THRESHOLD:
            _label(report, "DATE_OF_BIRTH", dates, False)
            return report, None
    tokens = values.str.count_matches(r"\S+").mean() or 0.0
    address = values.str.contains(patterns.ADDRESS).sum() / n
    if address >= (SIGNAL_THRESHOLD if "LOCATION" in signals else THRESHOLD):
        _label(report, "LOCATION", address, "LOCATION" in signals)
        return report, None
    report.free_text = tokens >= TEXT_MIN_TOKENS
    if report.free_text:
        report.entities.update(_text_rates(values))
    # Few distinct values over many rows is a code list, unless the name says names or places.
    enum_like = (
        drawn >= ENUM_MIN_ROWS and distinct <= ENUM_MAX_DISTINCT and not signals & {"PERSON", "LOCATION"}
    )
    wordy = values.str.contains(_NO_DIGITS_WORDS).sum() / n >= 0.5
    name_shape_rate = values.str.contains(_NAME_SHAPE).sum() / n
    if not report.free_text and (enum_like or not wordy):
        return report, None
    if engines.analyzer is None:
        if not report.free_text and "PERSON" in signals and name_shape_rate >= 0.8:
            _label(report, "PERSON", 0.5 * name_shape_rate, True)
        return (_finish_text(report) if report.free_text else report), None
    limit = min(ner_sample, NER_TEXT_SAMPLE) if report.free_text else ner_sample
    ner_values = values.head(limit).str.slice(0, NER_MAX_CHARS).to_list()
    return report, _NerJob(report, ner_values, context_words(report.name), signals, name_shape_rate)


def _text_rates(values: pl.Series) -> dict[str, float]:
    """Share of texts containing each pattern entity; checksummed entities must pass their validator."""
    rates = {}
    for entity, pattern in patterns.SPAN.items():
        check = _VALIDATORS.get(entity)
        if check is None:
            hits = int(values.str.contains(pattern).sum())
        else:
            found = values.str.extract_all(pattern)
            hits = sum(1 for spans in found if spans is not None and any(check(s) for s in spans))
        if hits:
            rates[entity] = hits / values.len()
    return rates


def _run_ner(jobs: list[_NerJob], engines: NlpEngines) -> None:
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
