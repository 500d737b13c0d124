"""Migrations: every table of a tenant (and of the platform) database, created once by an admin.

Production processes do no DDL (``should_autocreate_tables: false`` in
``deploy/dagster.production.yaml``; the audit log refuses to create its tables). What they
would otherwise create on first use is made here, on the admin connection acting as the role
that must own it (libpq ``options=-c role=...``):

- as the tenant login role: Dagster's run, event-log and schedule tables (the tenant's
  production instance opened with ``should_autocreate_tables: true``, then
  ``instance.upgrade()``, so a later Dagster version migrates them), KlikkFlow's tables
  (compliance events, the event outbox, dead letters, alert incidents, notification
  deliveries), and the ``warehouse`` schema;
- as the audit role: the audit tables, their append-only triggers and trigger function,
  and the grants that let the login role only read and append (:data:`WRITER_PRIVILEGES`).

Run with ``klikkflow tenant migrate <id>`` (and by ``klikkflow tenant create --storage postgres``).
Re-running changes nothing that is in place.
"""

from __future__ import annotations

import copy
import tempfile
from typing import Any

from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from psycopg2 import sql
from sqlalchemy import MetaData

from compliance.audit.tables import WRITER_PRIVILEGES, create_audit_schema
from compliance.events import metadata as compliance_events_metadata
from klikkflow_pipelines.events.tables import metadata as event_tables_metadata
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.db_roles import (
    WAREHOUSE_SCHEMA,
    Platform,
    tenant_audit_role,
    tenant_login_role,
)
from klikkflow_pipelines.tenancy.instance import render_instance_config, tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from resources.sql_engine import create_storage_engine

TENANT_TABLES: tuple[MetaData, ...] = (compliance_events_metadata, event_tables_metadata)
"""KlikkFlow's own tables in a tenant database (besides the audit tables)."""


def upgrade_dagster_storage(instance_config: dict[str, Any]) -> None:
    """Create or upgrade Dagster's tables of the instance that ``instance_config`` (a ``dagster.yaml``
    mapping) describes, with table creation switched on whatever the mapping says."""
    config = copy.deepcopy(instance_config)
    storage = config["storage"]["custom"]["config"]
    storage.update(should_autocreate_tables=True, pool_size=1, max_overflow=0)
    with tempfile.TemporaryDirectory() as directory:  # the config stays in memory: it holds a password
        ref = InstanceRef.from_dir(directory, overrides=config)
        with DagsterInstance.from_ref(ref) as instance:
            instance.upgrade()


def _migrate_dagster(server: PostgresServer, tenant: TenantConfig) -> None:
    config = render_instance_config(tenant, production=True)
    postgres_db = config["storage"]["custom"]["config"]["postgres_db"]
    postgres_db.update(
        username=server.user,
        password=server.password or "",
        hostname=server.host,
        port=server.port,
        params={"options": f"-c role={tenant_login_role(tenant.id)}"},
    )
    upgrade_dagster_storage(config)


def _create_tables(url: str, schemas: tuple[MetaData, ...]) -> None:
    engine = create_storage_engine(url)
    try:
        for metadata in schemas:
            metadata.create_all(engine, checkfirst=True)
    finally:
        engine.dispose()


def migrate_audit(server: PostgresServer, database: str, owner: str, writer: str) -> bool:
    """Create the audit tables in ``database`` as ``owner`` and grant ``writer`` read and append only;
    return whether any DDL ran."""
    engine = create_storage_engine(server.url(database, role=owner))
    try:
        created = create_audit_schema(engine)
    finally:
        engine.dispose()
    with server.cursor(database, role=owner) as cursor:
        for table, privileges in WRITER_PRIVILEGES.items():
            cursor.execute(
                sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    sql.SQL(", ").join(map(sql.SQL, privileges)),
                    sql.Identifier(table),
                    sql.Identifier(writer),
                )
            )
    return created


def migrate_tenant(server: PostgresServer, tenant: TenantConfig) -> list[str]:
    """Create or upgrade every table of the tenant's database (see the module docstring); return
    what was done, for the CLI."""
    database, login = tenant_database_name(tenant.id), tenant_login_role(tenant.id)
    _migrate_dagster(server, tenant)
    _create_tables(server.url(database, role=login), TENANT_TABLES)
    with server.cursor(database) as cursor:
        cursor.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(login)
            )
        )
    audit = tenant_audit_role(tenant.id)
    migrate_audit(server, database, audit, login)
    return [
        f"migrated {database}: Dagster storage, KlikkFlow tables and schema {WAREHOUSE_SCHEMA} "
        f"owned by {login}; audit tables owned by {audit} ({login} may read and append only)"
    ]


def migrate_platform(server: PostgresServer, platform: Platform = Platform()) -> list[str]:
    """Create the platform database's tables: the gateway's own (as the gateway role) and the
    platform audit log's (as the platform audit role)."""
    from klikkflow_pipelines.gateway.store import GatewayStore

    GatewayStore(server.url(platform.database, role=platform.gateway_role)).engine.dispose()
    migrate_audit(server, platform.database, platform.audit_role, platform.gateway_role)
    return [
        f"migrated {platform.database}: gateway tables owned by {platform.gateway_role}; audit tables "
        f"owned by {platform.audit_role} ({platform.gateway_role} may read and append only)"
    ]
