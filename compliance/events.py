"""The ``compliance_events`` table: one append-only row per classification and policy decision.

Rows live in the tenant's own storage
(:func:`klikkflow_pipelines.tenancy.storage.tenant_storage_engine`). The audit
log (``compliance.audit``) later chains them into its hash chain by ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import DBAPIError

metadata = MetaData()

compliance_events_table = Table(
    "compliance_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", String(40), nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("tenant", String(64), nullable=False, index=True),
    Column("action", String(64), nullable=False),
    Column("asset", String(512), nullable=False),
    Column("column", String(512), nullable=True),
    Column("run_id", String(64), nullable=True),
    Column("details", Text, nullable=False),
)


@dataclass(frozen=True)
class ComplianceEvent:
    """One decision: who (actor), for which tenant, what (action) on which asset/column, with details."""

    actor: str
    tenant: str
    action: str
    asset: str
    column: str | None = None
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def ensure_events_table(engine: Engine) -> None:
    """Create the table if it does not exist yet (two processes may race to create it: one wins)."""
    try:
        metadata.create_all(engine, tables=[compliance_events_table])
    except DBAPIError:
        if not inspect(engine).has_table(compliance_events_table.name):
            raise


def _rows(events: Iterable[ComplianceEvent]) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    return [
        {
            "time": now,
            "actor": e.actor,
            "tenant": e.tenant,
            "action": e.action,
            "asset": e.asset,
            "column": e.column,
            "run_id": e.run_id,
            "details": json.dumps(e.details, sort_keys=True, default=str),
        }
        for e in events
    ]


def record_events(engine: Engine, events: Iterable[ComplianceEvent]) -> int:
    """Append ``events`` in one transaction; return how many were written."""
    rows = _rows(events)
    if not rows:
        return 0
    ensure_events_table(engine)
    with engine.begin() as conn:
        conn.execute(insert(compliance_events_table), rows)
    return len(rows)


def record_events_on(conn: Connection, events: Iterable[ComplianceEvent]) -> int:
    """Append ``events`` on an open transaction (they commit with the caller's other writes)."""
    rows = _rows(events)
    if rows:
        metadata.create_all(conn, tables=[compliance_events_table])
        conn.execute(insert(compliance_events_table), rows)
    return len(rows)


def read_events(engine: Engine, tenant: str | None = None, asset: str | None = None) -> list[dict[str, Any]]:
    """Events in insertion order, optionally for one tenant and asset, with ``details`` decoded."""
    ensure_events_table(engine)
    query = select(compliance_events_table).order_by(compliance_events_table.c.id)
    if tenant is not None:
        query = query.where(compliance_events_table.c.tenant == tenant)
    if asset is not None:
        query = query.where(compliance_events_table.c.asset == asset)
    with engine.connect() as conn:
        return [{**r._asdict(), "details": json.loads(r.details)} for r in conn.execute(query)]
