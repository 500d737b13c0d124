"""SQLAlchemy engines for the databases KlikkFlow stores in (SQLite locally, PostgreSQL in production).

A building block: the warehouse, the compliance events table and the tenant's
KlikkFlow tables all open their engines here.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event


def create_storage_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so daemon and webserver can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
