"""The tenant's own relational storage for KlikkFlow tables (outbox, audit, compliance events).

Locally a SQLite file in the tenant's home; in production the tenant's
Postgres database ``klikkflow_<id>`` on ``KLIKKFLOW_PG_*`` settings.
"""

from __future__ import annotations

import os

from sqlalchemy import URL, Engine

from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.instance import is_production, tenant_database_name
from resources.sql_engine import create_storage_engine

__all__ = ["create_storage_engine", "tenant_storage_engine", "tenant_storage_url"]


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
    return f"sqlite:///{tenant_home(tenant_id) / 'klikkflow.db'}"


def tenant_storage_engine(tenant_id: str) -> Engine:
    """Engine on the tenant's KlikkFlow tables."""
    return create_storage_engine(tenant_storage_url(tenant_id))
