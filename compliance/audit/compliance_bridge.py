"""Chaining the compliance layer's ``compliance_events`` rows into the audit log.

The compliance layer (``compliance/events.py``) writes its decisions to a
``compliance_events`` table in the tenant's storage. :func:`chain_compliance_events`
appends every row not yet chained as an audit entry (action
``compliance.<decision>``) and advances the cursor in ``audit_bridge_progress``
in the same transaction, under the log's append lock: concurrent callers (two
sensor ticks, the CLI) wait for each other and each event is chained exactly
once, and a crash leaves either both the entries and the cursor or neither. The
table is read by reflection, so it works with whatever columns the compliance
layer writes as long as it has an integer ``id``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import MetaData, Table, inspect, select

from compliance.audit.log import AuditLog
from compliance.audit.tables import bridge_progress_table as progress_table

SOURCE_TABLE = "compliance_events"
_DENY_WORDS = ("block", "denied", "deny", "reject", "violation", "fail")


def _first(row: dict[str, Any], *names: str, default: str = "") -> str:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value)
    return default


def _outcome(decision: str) -> str:
    return "denied" if any(word in decision.lower() for word in _DENY_WORDS) else "allowed"


def chain_compliance_events(log: AuditLog, batch_size: int = 500) -> int:
    """Append compliance events newer than the last chained id; return how many were chained."""
    if not inspect(log.engine).has_table(SOURCE_TABLE):
        return 0
    events = Table(SOURCE_TABLE, MetaData(), autoload_with=log.engine)
    with log.transaction() as conn:
        last = conn.execute(
            select(progress_table.c.last_id).where(progress_table.c.source == SOURCE_TABLE)
        ).scalar()
        rows = [
            r._asdict()
            for r in conn.execute(
                select(events).where(events.c.id > (last or 0)).order_by(events.c.id).limit(batch_size)
            )
        ]
        for row in rows:
            decision = _first(row, "decision", "action", "event_type", "kind", default="event")
            log.append(
                actor=_first(row, "actor", "run_id", default="compliance"),
                tenant=_first(row, "tenant", "tenant_id", default=log.tenant),
                action=f"compliance.{decision}",
                target=_first(row, "asset", "asset_key", "target", "dataset", "column"),
                outcome=_outcome(decision),
                source="compliance_events",
                details={"compliance_event": json.loads(json.dumps(row, default=str))},
                conn=conn,
            )
        if rows and last is None:
            conn.execute(progress_table.insert().values(source=SOURCE_TABLE, last_id=rows[-1]["id"]))
        elif rows:
            conn.execute(
                progress_table.update()
                .where(progress_table.c.source == SOURCE_TABLE)
                .values(last_id=rows[-1]["id"])
            )
    return len(rows)
