"""The rehearsal's PostgreSQL: a private cluster with password authentication, or a given server.

By default a private cluster (:mod:`klikkflow_pipelines.devtools.postgres_cluster`) is started, so
every login is password-checked as on a production server and nothing is left behind. With
``--pg-admin-url`` an existing server is used instead: the rehearsal refuses to start if any of the
names it provisions exists there (it would not know their passwords, and must never drop what it
did not create), and drops them at the end (tenants through ``klikkflow tenant delete
--drop-database``, then the platform's database and roles) unless ``--keep``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg2
from psycopg2 import sql

from klikkflow_pipelines.devtools.postgres_cluster import PostgresCluster, start_postgres_cluster
from klikkflow_pipelines.tenancy.db_roles import Platform, tenant_audit_role, tenant_login_role
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

LOG_SETTINGS = {"log_statement": "ddl", "log_connections": "on", "log_line_prefix": "%m [%p] %u@%d "}
"""The private cluster logs every connection and DDL statement with its user and database, so the
rehearsal can show that running processes connect only as their own roles and change no schema."""


class NamesTaken(RuntimeError):
    """The given server already has roles or databases the rehearsal would create."""


@dataclass
class RehearsalDatabase:
    """The server the rehearsal provisions on, and how to clean it up."""

    admin_url: str
    server: PostgresServer
    password_checked: bool
    cluster: PostgresCluster | None = None
    created: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        """One line for the progress output."""
        kind = "private cluster" if self.cluster else "given server"
        auth = "password authentication" if self.password_checked else "trusts TCP: passwords are not checked"
        return f"PostgreSQL {kind} on {self.server.host}:{self.server.port} ({auth})"


def _names(tenant_ids: list[str], platform: Platform) -> tuple[list[str], list[str]]:
    roles = [platform.gateway_role, platform.audit_role]
    roles += [name for t in tenant_ids for name in (tenant_login_role(t), tenant_audit_role(t))]
    databases = [platform.database, *(tenant_database_name(t) for t in tenant_ids)]
    return roles, databases


def _password_checked(server: PostgresServer) -> bool:
    try:
        replace(server, password="not-the-password").connect().close()
    except psycopg2.OperationalError:
        return True
    return False


def open_database(
    admin_url: str | None, tenant_ids: list[str], base_dir: Path | None = None
) -> RehearsalDatabase:
    """Start the private cluster (``admin_url`` ``None``) or check the given server; see the module."""
    if admin_url is None:
        cluster = start_postgres_cluster(base_dir, settings=LOG_SETTINGS)
        return RehearsalDatabase(cluster.admin_url, cluster.admin, True, cluster)
    server = PostgresServer.from_url(admin_url)
    roles, databases = _names(tenant_ids, Platform())
    with server.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (roles,))
        taken = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (databases,))
        taken += [row[0] for row in cursor.fetchall()]
    if taken:
        raise NamesTaken(
            f"{server.host}:{server.port} already has {', '.join(sorted(taken))}, which the rehearsal "
            "provisions (and would drop afterwards). Fix: run without --pg-admin-url (a private cluster), "
            "or against a server without them"
        )
    return RehearsalDatabase(admin_url, server, _password_checked(server), created=roles + databases)


def drop_platform(server: PostgresServer, platform: Platform = Platform()) -> None:
    """Drop the platform database and the gateway's and platform audit roles (given server only)."""
    server.drop_database(platform.database)
    with server.cursor() as cursor:
        for role in (platform.gateway_role, platform.audit_role):
            cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
