"""The Postgres server that holds one ``klikkflow_<id>`` database per tenant, on its admin connection.

Configured by ``KLIKKFLOW_PG_ADMIN_URL`` (``postgresql://user:password@host:port/``: a
superuser, or a role with CREATEROLE and CREATEDB), else ``KLIKKFLOW_PG_URL``, else the
``KLIKKFLOW_PG_HOST``/``PORT``/``USER``/``PASSWORD`` variables the production
``dagster.yaml`` reads. Only the provisioning commands (``klikkflow platform init``,
``klikkflow tenant create|migrate|delete``) use it; running processes connect as their
own login role.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg2
from psycopg2 import sql
from sqlalchemy import URL


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
        """Settings from ``KLIKKFLOW_PG_ADMIN_URL``, else ``KLIKKFLOW_PG_URL``, else
        ``KLIKKFLOW_PG_HOST/PORT/USER/PASSWORD``."""
        if url := os.environ.get("KLIKKFLOW_PG_ADMIN_URL") or os.environ.get("KLIKKFLOW_PG_URL"):
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

    def url(self, database: str, role: str | None = None, search_path: str | None = None) -> str:
        """A SQLAlchemy URL of ``database`` on this server (user and password percent-encoded).

        With ``role`` its sessions act as that role (libpq ``options=-c role=...``: what they create,
        that role owns); with ``search_path`` they resolve unqualified names in that schema.
        """
        options = _options(role, search_path)
        return URL.create(
            "postgresql+psycopg2",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
            query={"options": options} if options else {},
        ).render_as_string(hide_password=False)

    def connect(
        self, database: str = "postgres", role: str | None = None, **settings: object
    ) -> psycopg2.extensions.connection:
        """A psycopg2 connection to ``database`` as this login, acting as ``role``; ``settings`` go to
        ``psycopg2.connect`` (``application_name``, ``connect_timeout``). The caller closes it."""
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            options=_options(role, None),
            **settings,
        )

    @contextmanager
    def cursor(
        self, database: str = "postgres", role: str | None = None
    ) -> Iterator[psycopg2.extensions.cursor]:
        """An autocommit cursor on ``database`` (CREATE/DROP DATABASE need autocommit), acting as ``role``."""
        connection = self.connect(database, role)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def database_exists(self, name: str) -> bool:
        """True when the database ``name`` exists."""
        with self.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cursor.fetchone() is not None

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE name``."""
        with self.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop the database ``name`` if it exists, closing its connections."""
        with self.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _options(role: str | None, search_path: str | None) -> str | None:
    """libpq ``options`` that set the session's role and search path, or ``None``."""
    parts = ([f"-c role={role}"] if role else []) + ([f"-csearch_path={search_path}"] if search_path else [])
    return " ".join(parts) or None
