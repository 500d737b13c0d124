"""SQLAlchemy engines for the databases KlikkFlow stores in (SQLite locally, PostgreSQL in production).

A building block: the warehouse, the compliance events table and the tenant's
KlikkFlow tables all open their engines here.
"""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Engine, create_engine, event

WAL_SWITCH_SECONDS = 30.0  # how long a new connection retries switching a fresh database to WAL


def create_storage_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so daemon and webserver can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (persistent: later connections find it set and skip this).

    Switching the journal mode needs the database to itself, and SQLite answers "database is
    locked" at once instead of waiting out the busy timeout when another process holds it, as
    when two writers open a fresh database together; so the switch is retried.
    """
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
