"""The warehouse resource: any SQLAlchemy database, SQLite under KLIKKFLOW_HOME by default.

Workflows write with statements that are safe under concurrent runs: a keyed
upsert (``INSERT ... ON CONFLICT (key) DO UPDATE``, on SQLite and Postgres) that
only replaces a row when the incoming one ranks higher, and a transactional
replace of one partition's rows. Neither reads the table into memory and
writes it back, so two runs never overwrite each other's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Literal

import dagster as dg
import polars as pl
import sqlalchemy as sa
from sqlalchemy import Engine, inspect, text
from sqlalchemy.schema import CreateIndex, CreateTable

from klikkflow_pipelines.tenancy.storage import create_storage_engine
from resources.sql_upsert import conflict_insert

BATCH_ROWS = 500
"""Rows per INSERT statement (SQLite allows 32,766 bound parameters per statement)."""


@cache
def _engine_for(url: str) -> Engine:
    return create_storage_engine(url)


WAREHOUSE_FIX = "Fix: point KLIKKFLOW_WAREHOUSE_URL at a PostgreSQL database"


class WarehouseResource(dg.ConfigurableResource):
    """Where workflows load their results.

    ``url`` is a SQLAlchemy URL. Configure it per environment with
    ``dg.EnvVar("KLIKKFLOW_WAREHOUSE_URL")``; the embedded default is a SQLite
    file in the tenant's home.
    """

    url: str

    def engine(self) -> Engine:
        """The (process-wide, cached) SQLAlchemy engine for ``url``."""
        return _engine_for(self.url)

    def write_frame(
        self, table: str, frame: pl.DataFrame, if_exists: Literal["replace", "append"] = "replace"
    ) -> int:
        """Write a Polars frame to ``table``; returns the number of rows written."""
        frame.write_database(table, connection=self.engine(), if_table_exists=if_exists, engine="sqlalchemy")
        return frame.height

    def read_frame(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a query and return its result as a Polars frame."""
        with self.engine().connect() as connection:
            result = connection.execute(text(sql), params or {})
            columns = list(result.keys())
            rows = result.fetchall()
        return pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row", infer_schema_length=None)

    def has_table(self, table: str) -> bool:
        """True when ``table`` exists in the warehouse."""
        return inspect(self.engine()).has_table(table)

    def ensure_table(self, table: sa.Table) -> None:
        """Create ``table`` and its indexes unless they exist (safe when two runs do it at once).

        ``CREATE TABLE IF NOT EXISTS`` alone races on Postgres (both sessions see no table and the
        second fails on ``pg_type``), so there the creation holds a transaction-level advisory lock.
        """
        with self.engine().begin() as connection:
            if connection.dialect.name == "postgresql":
                lock = sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"klikkflow.warehouse.{table.name}"))
                connection.execute(sa.select(lock))
            connection.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                connection.execute(CreateIndex(index, if_not_exists=True))

    def upsert_latest(
        self, table: sa.Table, rows: Sequence[Mapping[str, Any]], key: str, rank: Sequence[str]
    ) -> int:
        """Insert ``rows``, or update the stored row with the same ``key`` when the incoming row ranks
        higher by the columns ``rank`` (compared as a tuple), all in one transaction.

        The outcome does not depend on the order concurrent writers commit in: the highest-ranked
        row per key wins. Rows are written in key order so concurrent writers lock rows in the same
        order (no deadlock on Postgres). Returns the number of rows offered.
        """
        self.ensure_table(table)
        engine = self.engine()
        insert = conflict_insert(engine, table, fix=WAREHOUSE_FIX)
        updated = {c.name: insert.excluded[c.name] for c in table.columns if c.name != key}
        newer = sa.tuple_(*(insert.excluded[c] for c in rank)) > sa.tuple_(*(table.c[c] for c in rank))
        statement = insert.on_conflict_do_update(index_elements=[key], set_=updated, where=newer)
        ordered = sorted(rows, key=lambda r: r[key])
        with engine.begin() as connection:
            for start in range(0, len(ordered), BATCH_ROWS):
                connection.execute(statement, list(ordered[start : start + BATCH_ROWS]))
        return len(ordered)

    def replace_rows_where(
        self, table: sa.Table, column: str, value: Any, rows: Sequence[Mapping[str, Any]], key: str
    ) -> int:
        """Replace the rows whose ``column`` equals ``value`` by ``rows``, in one transaction.

        Other rows are untouched. Incoming rows upsert on ``key``, so two runs replacing the
        same ``value`` at once leave one copy of each row. Returns the number of rows written.
        """
        self.ensure_table(table)
        engine = self.engine()
        insert = conflict_insert(engine, table, fix=WAREHOUSE_FIX)
        updated = {c.name: insert.excluded[c.name] for c in table.columns if c.name != key}
        statement = insert.on_conflict_do_update(index_elements=[key], set_=updated)
        ordered = sorted(rows, key=lambda r: r[key])
        with engine.begin() as connection:
            connection.execute(sa.delete(table).where(table.c[column] == value))
            for start in range(0, len(ordered), BATCH_ROWS):
                connection.execute(statement, list(ordered[start : start + BATCH_ROWS]))
        return len(ordered)

    def count_rows(self, table: sa.Table) -> int:
        """Number of rows in ``table`` (0 when it does not exist yet)."""
        if not self.has_table(table.name):
            return 0
        with self.engine().connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
