"""Reading what the rehearsal's processes wrote, with the gateway's Postgres login (``kf_gateway``).

The gateway's role is a member of every tenant role, so one login reads each tenant's Dagster
instance (runs, their events) and audit log, exactly as the gateway does. Credentials are passed
as values, never put into this process's environment.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

from compliance.audit.log import AuditLog
from klikkflow_pipelines.rehearsal.processes import rehearsal_instance_config
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from resources.sql_engine import create_storage_engine


@contextmanager
def tenant_instance_as(tenant: TenantConfig, login: PostgresServer) -> Iterator[DagsterInstance]:
    """The tenant's production instance opened as ``login`` (its storage, run queue and events)."""
    config = rehearsal_instance_config(tenant)
    storage = config["storage"]["custom"]["config"]
    storage["postgres_db"].update(
        username=login.user, password=login.password, hostname=login.host, port=login.port
    )
    storage.update(pool_size=2, max_overflow=2)
    with (
        tempfile.TemporaryDirectory(prefix="klikkflow-rehearsal-instance-") as directory,
        DagsterInstance.from_ref(InstanceRef.from_dir(directory, overrides=config)) as instance,
    ):
        yield instance


@contextmanager
def audit_log_as(log_name: str, login: PostgresServer, database: str | None = None) -> Iterator[AuditLog]:
    """An audit log read as ``login``: a tenant's in its database, or ``platform`` in ``database``
    (reading entries needs no writer key)."""
    engine = create_storage_engine(login.url(database or tenant_database_name(log_name)))
    try:
        yield AuditLog(engine, log_name)
    finally:
        engine.dispose()


def audit_settled(tenant_id: str, login: PostgresServer, witness_dir: Path) -> str | None:
    """``None`` when every compliance event is chained into the tenant's audit log and the newest
    witnessed checkpoint covers the log's head; otherwise what is still missing."""
    from sqlalchemy import func, select

    from compliance.audit.tables import audit_log_table, bridge_progress_table
    from compliance.audit.witness import FileWitness
    from compliance.events import compliance_events_table

    with audit_log_as(tenant_id, login) as log, log.engine.connect() as conn:
        newest = conn.execute(select(func.max(compliance_events_table.c.id))).scalar() or 0
        chained = conn.execute(select(bridge_progress_table.c.last_id)).scalar() or 0
        head = conn.execute(select(func.max(audit_log_table.c.seq))).scalar() or 0
    if chained < newest:
        return f"{tenant_id}: compliance events {chained + 1}..{newest} not chained yet"
    checkpoints = FileWitness(tenant_id, witness_dir).checkpoints()
    covered = checkpoints[-1].seq if checkpoints else 0
    if covered < head:
        return f"{tenant_id}: entries {covered + 1}..{head} not in a witnessed checkpoint yet"
    return None


def warehouse_tables(tenant_id: str, login: PostgresServer) -> set[str]:
    """Tables of the tenant's ``warehouse`` schema (the workflows' data) whose names no other schema
    of its database uses: DDL on these is the tenants' own data, not its platform tables."""
    from sqlalchemy import text

    engine = create_storage_engine(login.url(tenant_database_name(tenant_id)))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT table_schema, table_name FROM information_schema.tables")).all()
    finally:
        engine.dispose()
    warehouse = {name for schema, name in rows if schema == "warehouse"}
    return warehouse - {name for schema, name in rows if schema != "warehouse"}
