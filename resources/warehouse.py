"""The warehouse resource: any SQLAlchemy database, SQLite under KLIKKFLOW_HOME by default.

Every write is governed (:class:`compliance.guard.FrameGuard`): the rows are
classified and protected under the tenant policy before they reach the
database, with the destination ``warehouse.<table>`` in the warehouse's
``region``, so the policy's ``warehouse*`` residency rules apply. A ``block``
rule or a residency violation fails the write with ``dg.Failure`` and writes
nothing; a warehouse without a tenant policy refuses to write at all.

Workflows write with statements that are safe under concurrent runs: a keyed
upsert (``INSERT ... ON CONFLICT (key) DO UPDATE``, on SQLite and Postgres) that
only replaces a row when the incoming one ranks higher, and a transactional
replace of one partition's rows. Neither reads the table into memory and
writes it back, so two runs never overwrite each other's rows.
"""

# No `from __future__ import annotations`: Dagster reads the resource field annotations at runtime.

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import dagster as dg
import polars as pl
import sqlalchemy as sa
from pydantic import Field, PrivateAttr
from sqlalchemy import Engine, inspect, text
from sqlalchemy.schema import CreateIndex, CreateTable

from compliance.guard import EventSink, FrameGuard, GuardedFrame, event_sink
from resources.secrets import SecretsResource
from resources.sql_engine import create_storage_engine
from resources.sql_upsert import conflict_insert

BATCH_ROWS = 500
"""Rows per INSERT statement (SQLite allows 32,766 bound parameters per statement)."""


@cache
def _engine_for(url: str) -> Engine:
    return create_storage_engine(url)


WAREHOUSE_FIX = "Fix: point KLIKKFLOW_WAREHOUSE_URL at a PostgreSQL database"


@dataclass(frozen=True, eq=False)
class WarehouseTable:
    """What a governed warehouse write returns: the table, the rows written, the guard's metadata.

    An asset may return it: the compliant IO manager records its column schema and PII tags
    (``metadata``) instead of classifying again, and stores nothing (the rows are in the table).
    """

    table: str
    rows: int
    metadata: Mapping[str, Any] = field(default_factory=dict)


_ISSUED: "weakref.WeakSet[WarehouseTable]" = weakref.WeakSet()


def issued_by_warehouse(handle: WarehouseTable) -> bool:
    """True when ``handle`` came from a governed write in this process (not built by asset code)."""
    return handle in _ISSUED


class WarehouseResource(dg.ConfigurableResource):
    """Where workflows load their results.

    ``url`` is a SQLAlchemy URL. Configure it per environment with
    ``dg.EnvVar("KLIKKFLOW_WAREHOUSE_URL")``; the embedded default is a SQLite
    file in the tenant's home.
    """

    url: str
    region: str = Field(default="", description="Region of the database (residency rules); '' skips.")
    tenant_id: str = Field(default="", description="Tenant whose policy governs writes ('' refuses them).")
    policy_path: str = Field(default="", description="The tenant's compliance policy YAML.")
    secrets: SecretsResource | None = None
    events_url: str | None = Field(default=None, description="SQLAlchemy URL of the compliance events.")
    events: dg.ResourceDependency[EventSink | None] = None
    spacy_model: str | None = Field(default=None, description="spaCy package or path; '' for pattern-only.")
    sample: int = Field(default=1000, ge=10, description="Distinct values per column to classify.")
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember the run, so compliance events name it."""
        self._run_id = context.dagster_run.run_id if context.dagster_run else None

    def guard(self) -> FrameGuard:
        """The tenant's compliance guard; ``dg.Failure`` when this warehouse has no tenant policy."""
        if not (self.tenant_id and self.policy_path):
            raise dg.Failure(
                description=f"warehouse {sa.make_url(self.url).render_as_string()}: no tenant policy, so "
                "writes are refused (nothing was written). Fix: use the tenant's warehouse resource "
                "(build_resources), or give tenant_id and policy_path"
            )
        secrets = self.secrets
        return FrameGuard(
            tenant_id=self.tenant_id,
            policy_path=self.policy_path,
            events=event_sink(self.events_url, self.events, f"warehouse of tenant {self.tenant_id!r}"),
            keys=lambda: secrets.compliance_keys() if secrets and secrets.has_tenant_key() else None,
            spacy_model=self.spacy_model,
            sample=self.sample,
        )

    def protect(self, table: str, frame: Any, required: Sequence[str] = ()) -> GuardedFrame:
        """``frame`` protected for ``warehouse.<table>``; ``required`` columns (keys) must survive."""
        destination = f"warehouse.{table}"
        guarded = self.guard().protect(
            frame, asset=destination, destination=destination, region=self.region, run_id=self._run_id
        )
        lost = [c for c in required if c not in guarded.frame.columns]
        if lost:
            raise dg.Failure(
                description=f"{destination}: the policy drops the key column(s) {', '.join(lost)}; "
                "nothing was written. Fix: hash or tokenize key columns instead of dropping them"
            )
        return guarded

    def _protect_rows(
        self, table: sa.Table, rows: Sequence[Mapping[str, Any]], required: Sequence[str]
    ) -> list[dict[str, Any]]:
        if not rows:
            return []
        frame = pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)
        return self.protect(table.name, frame, required).frame.to_dicts()

    def engine(self) -> Engine:
        """The (process-wide, cached) SQLAlchemy engine for ``url``."""
        return _engine_for(self.url)

    def write_frame(
        self, table: str, frame: Any, if_exists: Literal["replace", "append"] = "replace"
    ) -> WarehouseTable:
        """Write a (pandas or Polars) frame, protected by the policy, to ``table``.

        Returns the :class:`WarehouseTable` handle (rows written, column schema with PII tags).
        """
        guarded = self.protect(table, frame)
        guarded.frame.write_database(
            table, connection=self.engine(), if_table_exists=if_exists, engine="sqlalchemy"
        )
        handle = WarehouseTable(
            table, guarded.frame.height, {**guarded.metadata(), "dagster/row_count": guarded.frame.height}
        )
        _ISSUED.add(handle)
        return handle

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
        order (no deadlock on Postgres). The rows are protected by the policy first (a hashed
        ``key`` stays a stable key: hashing is deterministic). Returns the number of rows offered.
        """
        rows = self._protect_rows(table, rows, [key, *rank])
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
        same ``value`` at once leave one copy of each row. The rows are protected by the policy
        first. Returns the number of rows written.
        """
        rows = self._protect_rows(table, rows, [key, column])
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
