"""The warehouse resource: any SQLAlchemy database, SQLite under KLIKKFLOW_HOME by default."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import dagster as dg
import polars as pl
from sqlalchemy import Engine, inspect, text

from klikkflow_pipelines.tenancy.storage import create_storage_engine


@cache
def _engine_for(url: str) -> Engine:
    return create_storage_engine(url)


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
