"""The tenant's own relational storage for KlikkFlow tables (outbox, audit, compliance events).

Locally a SQLite file in the tenant's home; in production the tenant's
Postgres database ``klikkflow_<id>`` on ``KLIKKFLOW_PG_*`` settings. Imports no Dagster, so
commands that only read a tenant's tables (``audit verify``) start fast.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import URL, Engine

from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.deploy_settings import is_production, tenant_database_name
from resources.sql_engine import create_storage_engine

__all__ = ["create_storage_engine", "local_store_file", "tenant_storage_engine", "tenant_storage_url"]


def local_store_file(tenant_id: str, create: bool = True) -> Path:
    """The SQLite file of the tenant's KlikkFlow tables on a local install (``create``: its home)."""
    return tenant_home(tenant_id, create) / "klikkflow.db"


def tenant_storage_url(tenant_id: str) -> str:
    """SQLAlchemy URL of the tenant's KlikkFlow tables."""
    if is_production():
        return URL.create(
            "postgresql+psycopg2",
            username=os.environ.get("KLIKKFLOW_PG_USER"),
            password=os.environ.get("KLIKKFLOW_PG_PASSWORD"),
            host=os.environ.get("KLIKKFLOW_PG_HOST", "127.0.0.1"),
            port=int(os.environ.get("KLIKKFLOW_PG_PORT", "5432")),
            database=tenant_database_name(tenant_id),
        ).render_as_string(hide_password=False)
    return f"sqlite:///{local_store_file(tenant_id)}"


def tenant_storage_engine(tenant_id: str) -> Engine:
    """Engine on the tenant's KlikkFlow tables."""
    return create_storage_engine(tenant_storage_url(tenant_id))
