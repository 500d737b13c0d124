"""The Postgres server that holds one ``klikkflow_<id>`` database per tenant.

Configured by ``KLIKKFLOW_PG_URL`` (``postgresql://user:password@host:port/``) or the
``KLIKKFLOW_PG_HOST``/``PORT``/``USER``/``PASSWORD`` variables the production
``dagster.yaml`` reads, so the server that provisioning creates databases on is the
one the tenant's Dagster instance connects to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql

from klikkflow_pipelines.tenancy.instance import tenant_database_name


@dataclass(frozen=True)
class PostgresServer:
    """Connection settings of the tenants' Postgres server (maintenance database ``postgres``)."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        """Parse ``postgresql://user:password@host:port/``; the path (database) is ignored."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg2"):
            raise ValueError(
                f"{url!r} is not a postgresql:// URL; write it like postgresql://user:pw@host:5432/"
            )
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else "postgres",
            password=unquote(parts.password) if parts.password else None,
        )

    @classmethod
    def from_env(cls) -> PostgresServer:
        """Settings from ``KLIKKFLOW_PG_URL`` or ``KLIKKFLOW_PG_HOST/PORT/USER/PASSWORD``."""
        if url := os.environ.get("KLIKKFLOW_PG_URL"):
            return cls.from_url(url)
        return cls(
            host=os.environ.get("KLIKKFLOW_PG_HOST", "127.0.0.1"),
            port=int(os.environ.get("KLIKKFLOW_PG_PORT", "5432")),
            user=os.environ.get("KLIKKFLOW_PG_USER", "postgres"),
            password=os.environ.get("KLIKKFLOW_PG_PASSWORD") or None,
        )

    def env(self) -> dict[str, str]:
        """The ``KLIKKFLOW_PG_*`` variables the tenant's production ``dagster.yaml`` reads."""
        return {
            "KLIKKFLOW_PG_HOST": self.host,
            "KLIKKFLOW_PG_PORT": str(self.port),
            "KLIKKFLOW_PG_USER": self.user,
            "KLIKKFLOW_PG_PASSWORD": self.password or "",
        }

    def url(self, database: str) -> str:
        """A SQLAlchemy URL of ``database`` on this server."""
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql+psycopg2://{auth}@{self.host}:{self.port}/{database}"

    @contextmanager
    def maintenance_cursor(self) -> Iterator[psycopg2.extensions.cursor]:
        """An autocommit cursor on the maintenance database (CREATE/DROP DATABASE need autocommit)."""
        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname="postgres"
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def database_exists(self, name: str) -> bool:
        """True when the database ``name`` exists."""
        with self.maintenance_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cursor.fetchone() is not None

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE name``."""
        with self.maintenance_cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop the database ``name`` if it exists, closing its connections."""
        with self.maintenance_cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create_tenant_database(self, tenant_id: str) -> tuple[str, bool]:
        """Create ``klikkflow_<id>`` if missing; return (name, created now)."""
        name = tenant_database_name(tenant_id)
        if self.database_exists(name):
            return name, False
        self.create_database(name)
        return name, True

    def drop_tenant_database(self, tenant_id: str) -> tuple[str, bool]:
        """Drop ``klikkflow_<id>`` (only that database), closing its connections; return (name, dropped)."""
        name = tenant_database_name(tenant_id)
        if not self.database_exists(name):
            return name, False
        self.drop_database(name)
        return name, True
