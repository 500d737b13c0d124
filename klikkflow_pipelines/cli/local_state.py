"""Read commands must not create what they read: find a tenant's local store without making it.

Opening a tenant's storage creates ``$KLIKKFLOW_HOME/tenants/<id>/klikkflow.db``
(and the platform's ``gateway.db``) when it is missing. A command that only
reads (``audit verify``, ``audit export``, ``dlq list`` ...) asks here first and
reports "nothing yet" instead of creating an empty store.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer


def _local_store_path(tenant: str) -> Path | None:
    """Where the local SQLite store of ``tenant`` (or ``platform``) is; ``None`` when it is not a file."""
    if tenant == "platform":
        from klikkflow_pipelines.gateway.settings import GATEWAY_DB_URL_ENV, local_gateway_database

        return None if os.environ.get(GATEWAY_DB_URL_ENV) else local_gateway_database(create=False)
    from klikkflow_pipelines.tenancy.deploy_settings import is_production
    from klikkflow_pipelines.tenancy.storage import local_store_file

    return None if is_production() else local_store_file(tenant, create=False)


def missing_local_store(tenant: str) -> Path | None:
    """The local SQLite file of ``tenant`` (or ``platform``) when it does not exist yet, else ``None``.

    ``None`` too when the store is not a local file (production Postgres, or a configured URL).
    """
    path = _local_store_path(tenant)
    return None if path is None or path.exists() else path


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url`` when it does not exist (opening it would create it), else ``None``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def exit_if_no_store(tenant: str, nothing: str, *, store_url: str | None = None, code: int = 0) -> None:
    """Say ``nothing`` (e.g. "no audit entries to verify") and exit ``code`` when the store is missing.

    The store is ``store_url`` when given (only a SQLite file can be seen missing), else the
    tenant's own local store.
    """
    path = missing_local_store(tenant) if store_url is None else missing_sqlite_file(store_url)
    if path is not None:
        typer.echo(f"tenant {tenant}: {nothing} ({path} does not exist yet; nothing was created)", err=True)
        raise typer.Exit(code=code)
