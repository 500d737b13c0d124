"""Schema upkeep of the platform database: missing tables, and columns added after their table
first shipped.

``MetaData.create_all`` creates missing tables but never alters an existing one, so a
column a later version adds is added here, as ``NOT NULL DEFAULT ''`` text. Both are safe
when two gateways open a new database at the same moment.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, MetaData, Table, inspect
from sqlalchemy.exc import DBAPIError


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """Create the missing tables of ``metadata``; when another process creates them at the same
    time (our ``CREATE`` of a table it just made fails), check again. Each failure means the other
    process made one more table, so one try per table (and a last one) always suffices."""
    for tries_left in range(len(metadata.tables), -1, -1):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError:
            if not tries_left:
                raise


def _has_column(engine: Engine, table: Table, name: str) -> bool:
    return name in {column["name"] for column in inspect(engine).get_columns(table.name)}


def add_missing_columns(engine: Engine, added: Iterable[tuple[Table, str]]) -> None:
    """Add each (table, column name) of ``added`` that a database made by an older version lacks.

    Safe when two gateways start at once: the loser's ``ALTER`` fails and the column is there.
    """
    for table, name in added:
        if _has_column(engine, table, name):
            continue
        column_type = table.c[name].type.compile(engine.dialect)
        ddl = f"ALTER TABLE {table.name} ADD COLUMN {name} {column_type} NOT NULL DEFAULT ''"
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(ddl)
        except DBAPIError:
            if not _has_column(engine, table, name):
                raise
