"""The durable event outbox: every trigger records its event here before anything else happens.

An event is recorded once per ``dedupe_key`` (webhook signature, AMQP message
id, dead-letter replay id): recording the same delivery again returns the
existing event and creates nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from klikkflow_pipelines.events.tables import ensure_tables, outbox


@dataclass(frozen=True)
class OutboxEvent:
    """One recorded event."""

    seq: int
    event_id: str
    dedupe_key: str
    tenant: str
    workflow: str
    source: str
    payload: dict[str, Any]
    received_at: float
    replay_of_run: str | None = None
    replay_of_event: str | None = None


@dataclass(frozen=True)
class RecordResult:
    """The outcome of :meth:`Outbox.record`: the event id and whether this call created it."""

    event_id: str
    created: bool


def new_event_id() -> str:
    """A fresh, URL-safe event id."""
    return f"evt_{uuid.uuid4().hex}"


def _row_to_event(row: Any) -> OutboxEvent:
    return OutboxEvent(
        seq=row.seq,
        event_id=row.event_id,
        dedupe_key=row.dedupe_key,
        tenant=row.tenant,
        workflow=row.workflow,
        source=row.source,
        payload=json.loads(row.payload),
        received_at=row.received_at,
        replay_of_run=row.replay_of_run,
        replay_of_event=row.replay_of_event,
    )


class Outbox:
    """The outbox table of one tenant's storage database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_tables(engine)
        dialect = engine.dialect.name
        if dialect == "postgresql":
            self._insert = postgresql.insert
        elif dialect == "sqlite":
            self._insert = sqlite.insert
        else:  # pragma: no cover - only SQLite and Postgres are supported storages
            raise ValueError(f"unsupported outbox database {dialect!r}; use SQLite or PostgreSQL")

    def record(
        self,
        *,
        tenant: str,
        workflow: str,
        source: str,
        payload: dict[str, Any],
        dedupe_key: str,
        replay_of_run: str | None = None,
        replay_of_event: str | None = None,
        received_at: float | None = None,
    ) -> RecordResult:
        """Durably record an event (committed before returning); idempotent per ``dedupe_key``."""
        item = {
            "tenant": tenant,
            "workflow": workflow,
            "source": source,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "replay_of_run": replay_of_run,
            "replay_of_event": replay_of_event,
            "received_at": received_at,
        }
        return self.record_many([item])[0]

    def record_many(self, items: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Record several events in one transaction (each item holds :meth:`record`'s keyword arguments).

        One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per call: an item whose
        ``dedupe_key`` is already recorded (earlier, or by an earlier item of the same call) gets
        the existing event id and ``created=False``.
        """
        if not items:
            return []
        rows = [self._row(new_event_id(), **item) for item in items]
        with self.engine.begin() as conn:
            statement = (
                self._insert(outbox)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(outbox.c.event_id)
            )
            created = set(conn.execute(statement).scalars())
            missing = {row["dedupe_key"] for row in rows if row["event_id"] not in created}
            existing: dict[str, str] = {}
            if missing:
                query = select(outbox.c.dedupe_key, outbox.c.event_id).where(
                    outbox.c.dedupe_key.in_(sorted(missing))
                )
                existing = dict(conn.execute(query).all())
        return [
            RecordResult(row["event_id"], True)
            if row["event_id"] in created
            else RecordResult(existing[row["dedupe_key"]], False)
            for row in rows
        ]

    @staticmethod
    def _row(
        event_id: str,
        *,
        tenant: str,
        workflow: str,
        source: str,
        payload: dict[str, Any],
        dedupe_key: str,
        replay_of_run: str | None = None,
        replay_of_event: str | None = None,
        received_at: float | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "dedupe_key": dedupe_key,
            "tenant": tenant,
            "workflow": workflow,
            "source": source,
            "payload": json.dumps(payload, separators=(",", ":"), sort_keys=True),
            "received_at": time.time() if received_at is None else received_at,
            "replay_of_run": replay_of_run,
            "replay_of_event": replay_of_event,
        }

    def fetch(
        self,
        *,
        after_seq: int,
        exclude: Sequence[int] = (),
        workflows: Sequence[str] | None = None,
        limit: int = 500,
    ) -> list[OutboxEvent]:
        """Events with ``seq > after_seq`` (minus ``exclude``), oldest first."""
        query = select(outbox).where(outbox.c.seq > after_seq).order_by(outbox.c.seq).limit(limit)
        if exclude:
            query = query.where(outbox.c.seq.not_in(list(exclude)))
        if workflows is not None:
            query = query.where(outbox.c.workflow.in_(list(workflows)))
        with self.engine.connect() as conn:
            return [_row_to_event(row) for row in conn.execute(query)]

    def get(self, event_id: str) -> OutboxEvent | None:
        """The event with ``event_id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.event_id == event_id)).first()
        return _row_to_event(row) if row else None

    def count(self) -> int:
        """Number of recorded events."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())
