"""SQLAlchemy tables of the audit log, the triggers that make them append-only, and their one-time setup.

:func:`ensure_audit_schema` looks the schema up in the catalog first (one
read, no lock) and runs DDL only when something is missing: on a database
that is set up, constructing an :class:`~compliance.audit.log.AuditLog` (each
sensor tick, each CLI call) issues no DDL and takes no table lock. The setup
(:func:`create_audit_schema`) is safe under concurrent first callers (an advisory
lock on Postgres, ``IF NOT EXISTS`` everywhere).

In production (``KLIKKFLOW_ENV=production``) no running process creates the
schema: the migration (``klikkflow tenant migrate``) creates it as the database's
audit role, which owns the tables and the trigger function, and grants the
writers only :data:`WRITER_PRIVILEGES`; a process that finds the tables missing
stops with :class:`AuditSchemaMissing` instead.
"""

from __future__ import annotations

import logging
import os

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, Text, text
from sqlalchemy.schema import CreateIndex, CreateTable

metadata = MetaData()

audit_log_table = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", String(40), nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("action", String(128), nullable=False),
    Column("target", Text, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("source", String(128), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# The database copy of the signed checkpoints; the witness store holds the authoritative one.
audit_checkpoint_table = Table(
    "audit_signed_checkpoints",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("tenant", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("time", String(40), nullable=False),
    Column("prev", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

# How far the compliance bridge has chained each source table (updated in the append's transaction).
bridge_progress_table = Table(
    "audit_bridge_progress",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("last_id", Integer, nullable=False),
)

APPEND_ONLY_TABLES = ("audit_log", "audit_signed_checkpoints")
# What a writer role (a tenant's login role, the gateway through it) may do; never UPDATE/DELETE/TRUNCATE
# on the log, never ownership (so no ALTER, DROP or trigger changes).
WRITER_PRIVILEGES = {
    "audit_log": ("SELECT", "INSERT"),
    "audit_signed_checkpoints": ("SELECT", "INSERT"),
    "audit_bridge_progress": ("SELECT", "INSERT", "UPDATE"),
}
TRIGGER_FUNCTION = "klikkflow_audit_append_only"
_SETUP_LOCK_ID = 727274
logger = logging.getLogger(__name__)


class AuditSchemaMissing(RuntimeError):
    """In production the audit tables are created by the migration, never by a running process."""


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: % on % rejected', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def _postgres_guards(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER_FUNCTION}()",
    ]


def _sqlite_guards(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE on {table} rejected'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE on {table} rejected'); END",
    ]


def _trigger_names(dialect: str) -> list[str]:
    suffixes = ("no_update_delete", "no_truncate") if dialect == "postgresql" else ("no_update", "no_delete")
    return [f"{table}_{suffix}" for table in APPEND_ONLY_TABLES for suffix in suffixes]


def _schema_state(conn: Connection) -> tuple[bool, bool]:
    """One catalog read: (every table exists, every guard trigger is installed and enabled)."""
    dialect = conn.dialect.name
    names = _trigger_names(dialect)
    tables = [table.name for table in metadata.sorted_tables]
    if dialect == "postgresql":
        triggers, relations = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "        WHERE t.tgname = ANY(:names) AND t.tgenabled <> 'D' AND pg_table_is_visible(c.oid)),"
                "       (SELECT count(*) FROM pg_class WHERE relname = ANY(:tables) AND relkind = 'r' "
                "        AND pg_table_is_visible(oid))"
            ),
            {"names": names, "tables": tables},
        ).one()
        return relations == len(tables), triggers == len(names)
    if dialect == "sqlite":
        found = conn.execute(
            text("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        ).all()
        present = {name for _, name in found}
        return set(tables) <= present, set(names) <= present
    return conn.dialect.has_table(conn, "audit_log"), True


def _schema_complete(conn: Connection) -> bool:
    return all(_schema_state(conn))


def _create_schema(conn: Connection) -> None:
    for table in metadata.sorted_tables:
        conn.execute(CreateTable(table, if_not_exists=True))
        for index in table.indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text(_PG_FUNCTION))
        statements = [s for table in APPEND_ONLY_TABLES for s in _postgres_guards(table)]
    elif dialect == "sqlite":
        statements = [s for table in APPEND_ONLY_TABLES for s in _sqlite_guards(table)]
    else:
        statements = []
    for statement in statements:
        conn.execute(text(statement))


def ensure_audit_schema(engine: Engine, migrate_command: str = "klikkflow tenant migrate <id>") -> bool:
    """Create the audit tables and append-only triggers if any is missing; return True if it ran DDL.

    With ``KLIKKFLOW_ENV=production`` no DDL runs: missing tables are an :class:`AuditSchemaMissing`
    error naming the database and ``migrate_command`` (the fix); missing or disabled triggers
    (someone with the owner's rights removed them) are logged as an error, and the log still
    opens, so that ``verify`` can report what was changed meanwhile.
    """
    with engine.connect() as conn:
        tables, guards = _schema_state(conn)
    if tables and guards:
        return False
    if os.environ.get("KLIKKFLOW_ENV", "local") != "production":
        return create_audit_schema(engine)
    if not tables:
        raise AuditSchemaMissing(
            f"audit tables missing in {engine.url.database}: run `{migrate_command}` "
            "(KLIKKFLOW_ENV=production: the audit tables and their append-only triggers are created by "
            "the migration, as the database's audit role, not by a running process)"
        )
    logger.error(
        "the append-only triggers of the audit log in %s are missing or disabled: run `%s` to restore "
        "them, and `klikkflow audit verify` to see what changed meanwhile",
        engine.url.database,
        migrate_command,
    )
    return False


def create_audit_schema(engine: Engine) -> bool:
    """The migration: create what is missing of the audit tables and triggers; return True if it ran DDL.

    The tables and the trigger function belong to the role ``engine`` acts as (the audit role).
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SETUP_LOCK_ID})
            if _schema_complete(conn):
                return False  # a concurrent first caller set it up while we waited
        _create_schema(conn)
    return True
