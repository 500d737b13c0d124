"""PII classification of SQL tables: sampled in SQL, each column classified like a frame's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from compliance.classify import DEFAULT_SAMPLE, ROW_SAMPLE, classify_frame
from compliance.nlp import NlpEngines, build_engines
from compliance.recognizers import Recognizer
from compliance.reports import ColumnReport, FrameReport


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
