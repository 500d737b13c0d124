"""The dead-letter table: events whose run still failed after all retries, and their replay.

Replaying a dead letter records a new outbox event (same payload, tags linking
the old run and event) so the ordinary outbox sensor launches the new run.
Replaying the same dead letter twice is a no-op that returns the same event.

A drop file rejected by validation is a dead letter too (``failed_run_id`` ``rejected:<hash>``,
no run): its replay puts the (fixed) file back into the inbox as a new version, so the inbox's
arrival sensor runs it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from klikkflow_pipelines.events.drop_inbox import DropProblem, restore_rejected
from klikkflow_pipelines.events.outbox import Outbox, OutboxEvent
from klikkflow_pipelines.events.tables import dead_letters, ensure_tables


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered event."""

    id: int
    event_id: str
    tenant: str
    workflow: str
    payload: dict[str, Any]
    reason: str
    failed_run_id: str
    attempts: int
    created_at: float
    replayed_event_id: str | None
    replayed_at: float | None

    @property
    def is_rejected_drop(self) -> bool:
        """True for a drop file rejected by validation (replay restores the file, no event)."""
        return self.failed_run_id.startswith(REJECTED_DROP_PREFIX)


REJECTED_DROP_PREFIX = "rejected:"


def _to_dead_letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        event_id=row.event_id,
        tenant=row.tenant,
        workflow=row.workflow,
        payload=json.loads(row.payload),
        reason=row.reason,
        failed_run_id=row.failed_run_id,
        attempts=row.attempts,
        created_at=row.created_at,
        replayed_event_id=row.replayed_event_id,
        replayed_at=row.replayed_at,
    )


class DeadLetters:
    """The dead-letter table of one tenant's storage database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_tables(engine)

    def add(self, event: OutboxEvent, *, failed_run_id: str, reason: str, attempts: int) -> DeadLetter:
        """Dead-letter ``event`` whose final run ``failed_run_id`` failed; idempotent per run."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    dead_letters.insert().values(
                        event_id=event.event_id,
                        tenant=event.tenant,
                        workflow=event.workflow,
                        payload=json.dumps(event.payload, sort_keys=True),
                        reason=reason,
                        failed_run_id=failed_run_id,
                        attempts=attempts,
                        created_at=time.time(),
                    )
                )
        except IntegrityError:
            pass  # already dead-lettered by an earlier evaluation of the same failure
        entry = self.for_run(failed_run_id)
        assert entry is not None
        return entry

    def add_rejected_drop(
        self,
        *,
        tenant: str,
        workflow: str,
        inbox: Path,
        name: str,
        mtime_ns: int,
        rejected_file: Path,
        problem: DropProblem,
    ) -> DeadLetter:
        """Dead-letter version ``mtime_ns`` of drop ``name``, rejected by validation (idempotent)."""
        digest = hashlib.sha256(f"{inbox}/{name}@{mtime_ns}".encode()).hexdigest()[:40]
        event = OutboxEvent(
            seq=0,
            event_id=f"drop:{digest}",
            dedupe_key="",
            tenant=tenant,
            workflow=workflow,
            source="inbox",
            payload={
                "drop_file": name,
                "inbox": str(inbox),
                "rejected_file": str(rejected_file),
                "problem": problem.problem,
                "fix": problem.fix,
            },
            received_at=time.time(),
        )
        reason = f"rejected drop {name}: {problem.problem}. Fix: {problem.fix}"
        return self.add(event, failed_run_id=f"{REJECTED_DROP_PREFIX}{digest}", reason=reason, attempts=0)

    def for_run(self, run_id: str) -> DeadLetter | None:
        """The dead letter created for the failed run ``run_id``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(dead_letters).where(dead_letters.c.failed_run_id == run_id)).first()
        return _to_dead_letter(row) if row else None

    def get(self, entry_id: int) -> DeadLetter | None:
        """The dead letter with ``entry_id``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(dead_letters).where(dead_letters.c.id == entry_id)).first()
        return _to_dead_letter(row) if row else None

    def list(self, *, workflow: str | None = None, include_replayed: bool = False) -> list[DeadLetter]:
        """Dead letters, oldest first; replayed ones only when ``include_replayed``."""
        query = select(dead_letters).order_by(dead_letters.c.id)
        if workflow:
            query = query.where(dead_letters.c.workflow == workflow)
        if not include_replayed:
            query = query.where(dead_letters.c.replayed_event_id.is_(None))
        with self.engine.connect() as conn:
            return [_to_dead_letter(row) for row in conn.execute(query)]

    def replay(self, entry_id: int, outbox: Outbox) -> str:
        """Record the dead letter's event again (linked to the failed run); return the new event id.

        A rejected drop is not an event: its file goes back into the inbox as a new version
        (``inbox@<mtime ns>`` is returned); :class:`OSError` when it cannot (file gone, name taken).
        """
        entry = self.get(entry_id)
        if entry is None:
            raise KeyError(entry_id)
        if entry.is_rejected_drop:
            if entry.replayed_event_id:
                return entry.replayed_event_id
            payload = entry.payload
            _, mtime_ns = restore_rejected(Path(payload["inbox"]), Path(payload["rejected_file"]))
            self._mark_replayed(entry_id, f"inbox@{mtime_ns}")
            return f"inbox@{mtime_ns}"
        result = outbox.record(
            tenant=entry.tenant,
            workflow=entry.workflow,
            source="replay",
            payload=entry.payload,
            dedupe_key=f"replay:{entry.id}:{entry.failed_run_id}",
            replay_of_run=entry.failed_run_id,
            replay_of_event=entry.event_id,
        )
        self._mark_replayed(entry_id, result.event_id)
        return result.event_id

    def _mark_replayed(self, entry_id: int, replayed_as: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(dead_letters)
                .where(dead_letters.c.id == entry_id)
                .values(replayed_event_id=replayed_as, replayed_at=time.time())
            )

    def purge(self, *, entry_ids: list[int] | None = None, replayed_only: bool = False) -> int:
        """Delete the given entries (or all, or all replayed ones); return how many were deleted."""
        statement = delete(dead_letters)
        if entry_ids is not None:
            statement = statement.where(dead_letters.c.id.in_(entry_ids))
        if replayed_only:
            statement = statement.where(dead_letters.c.replayed_event_id.is_not(None))
        with self.engine.begin() as conn:
            return conn.execute(statement).rowcount
