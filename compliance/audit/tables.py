"""SQLAlchemy tables of the audit log and the triggers that make them append-only."""

from __future__ import annotations

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, text

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

audit_checkpoint_table = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("time", String(40), nullable=False),
    Column("signature", String(64), nullable=False),
)

APPEND_ONLY_TABLES = ("audit_log", "audit_checkpoints")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION klikkflow_audit_append_only() RETURNS trigger AS $$
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
        "FOR EACH ROW EXECUTE FUNCTION klikkflow_audit_append_only()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION klikkflow_audit_append_only()",
    ]


def _sqlite_guards(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE on {table} rejected'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE on {table} rejected'); END",
    ]


def create_audit_tables(engine: Engine) -> None:
    """Create the audit tables (idempotent) and install the append-only triggers."""
    metadata.create_all(engine)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            conn.execute(text(_PG_FUNCTION))
            statements = [s for table in APPEND_ONLY_TABLES for s in _postgres_guards(table)]
        elif dialect == "sqlite":
            statements = [s for table in APPEND_ONLY_TABLES for s in _sqlite_guards(table)]
        else:
            statements = []
        for statement in statements:
            conn.execute(text(statement))
