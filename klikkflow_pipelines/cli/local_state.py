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

from klikkflow_pipelines.paths import klikkflow_home


def missing_local_store(tenant: str) -> Path | None:
    """The local SQLite file of ``tenant`` (or ``platform``) when it does not exist yet, else ``None``.

    ``None`` too when the store is not a local file (production Postgres, or a configured URL).
    """
    if tenant == "platform":
        if os.environ.get("KLIKKFLOW_GATEWAY_DB_URL"):
            return None
        path = klikkflow_home(create=False) / "gateway.db"
    else:
        if os.environ.get("KLIKKFLOW_ENV", "local") == "production":
            return None
        path = klikkflow_home(create=False) / "tenants" / tenant / "klikkflow.db"
    return None if path.exists() else path


def exit_if_no_store(tenant: str, nothing: str) -> None:
    """Say ``nothing`` (e.g. "no audit entries to verify") and exit 0 when ``tenant`` has no local store."""
    path = missing_local_store(tenant)
    if path is not None:
        typer.echo(f"tenant {tenant}: {nothing} ({path} does not exist yet; nothing was created)", err=True)
        raise typer.Exit(code=0)
