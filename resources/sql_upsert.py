"""``INSERT`` statements with ``ON CONFLICT`` clauses, for the two databases KlikkFlow stores in."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def conflict_insert(
    engine: sa.Engine, table: sa.Table, *, fix: str = "Fix: use a PostgreSQL or SQLite database"
) -> Any:
    """``insert(table)`` of the engine's dialect, which has ``on_conflict_do_update/nothing``.

    PostgreSQL and SQLite only; any other dialect is an error ending in ``fix``.
    """
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts support PostgreSQL and SQLite, not {engine.dialect.name}. {fix}")
