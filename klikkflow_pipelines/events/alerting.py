"""Failure alerting: incidents per workflow, de-duplication, rate limiting, escalation, tracked delivery.

An incident opens at a workflow's first failed run and resolves at its next
successful run. Level 0's channels hear about the first failure; level *i*
is reached after ``after_failures`` consecutive failures or ``after_minutes``
unresolved, and its channels are notified (escalations bypass de-duplication
and rate limiting). A repeated failure with the same error within
``dedupe_window_seconds`` is suppressed, and so is anything beyond
``rate_limit_count`` notifications per ``rate_limit_window_seconds`` per
workflow. Every notification is a delivery row; failed deliveries are
retried with exponential backoff until ``max_delivery_attempts``.

A delivery row is sent only by whoever claims it: one atomic ``UPDATE`` moves
it from due ``pending`` to ``sending`` with a lease (``next_attempt_at`` =
now + :data:`DELIVERY_LEASE_SECONDS`), and only the caller whose update
changed the row sends. The failure path and the delivery sensor both go
through that claim, so concurrent callers (threads, processes) never send one
row twice. A sender killed mid-send leaves the row ``sending`` until its lease
ends; then it is due again, its lost attempt counted (at least once across a
crash, never twice without one). Stored error texts keep only the origin of any URL (webhook URLs are
credentials).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, Row, func, select, update

from klikkflow_pipelines.events.tables import deliveries, ensure_tables, incidents
from resources.notifier import CHANNELS, Alert, DeliveryError, Message, NotifierResource

DELIVERY_LEASE_SECONDS = 300.0
"""How long a claimed delivery stays ``sending`` before another caller may take it over."""


class EscalationLevel(BaseModel):
    """Who hears about an incident at one escalation level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[str] = Field(min_length=1)
    after_failures: int | None = Field(default=None, ge=1)
    after_minutes: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _known_channels(self) -> EscalationLevel:
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; use {', '.join(CHANNELS)}")
        return self


class AlertPolicy(BaseModel):
    """Notification rules of a tenant (``alerts:`` in its events config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # No levels: failures are still tracked and dead-lettered, but nobody is notified.
    levels: list[EscalationLevel] = Field(default_factory=list)
    dedupe_window_seconds: float = Field(default=600, ge=0)
    rate_limit_count: int = Field(default=10, ge=1)
    rate_limit_window_seconds: float = Field(default=3600, gt=0)
    max_delivery_attempts: int = Field(default=5, ge=1)
    backoff_base_seconds: float = Field(default=30, gt=0)
    backoff_max_seconds: float = Field(default=1800, gt=0)

    @model_validator(mode="after")
    def _escalations_have_a_trigger(self) -> AlertPolicy:
        for index, level in enumerate(self.levels[1:], start=1):
            if level.after_failures is None and level.after_minutes is None:
                raise ValueError(f"levels[{index}] needs after_failures or after_minutes to escalate")
        return self


def error_fingerprint(workflow: str, error: str) -> str:
    """A fingerprint of the error that ignores run ids, numbers and paths' variable parts."""
    normalized = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27,}|\d+", "#", error.lower())
    return hashlib.sha256(f"{workflow}\n{normalized}".encode()).hexdigest()[:32]


class Alerter:
    """Applies an :class:`AlertPolicy` to run outcomes, storing state in the tenant's storage."""

    def __init__(
        self,
        engine: Engine,
        policy: AlertPolicy,
        notifier: NotifierResource,
        *,
        tenant: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.notifier = notifier
        self.tenant = tenant
        self.clock = clock
        ensure_tables(engine)

    # -- incidents -------------------------------------------------------------------------------
    def _open_incident(self, conn: Any, workflow: str) -> Any:
        return conn.execute(
            select(incidents)
            .where(incidents.c.workflow == workflow, incidents.c.resolved_at.is_(None))
            .order_by(incidents.c.id.desc())
        ).first()

    def _due_level(self, failures: int, opened_at: float, now: float) -> int:
        level = 0
        for index, rule in enumerate(self.policy.levels[1:], start=1):
            by_count = rule.after_failures is not None and failures >= rule.after_failures
            by_time = rule.after_minutes is not None and now - opened_at >= rule.after_minutes * 60
            if by_count or by_time:
                level = index
        return level

    def record_failure(
        self, *, workflow: str, job_name: str, run_id: str, error: str, event_id: str | None, will_retry: bool
    ) -> list[int]:
        """Register a failed run; create (and attempt) the notifications it calls for; return delivery ids."""
        if not self.policy.levels:
            return []
        now = self.clock()
        fingerprint = error_fingerprint(workflow, error)
        with self.engine.begin() as conn:
            incident = self._open_incident(conn, workflow)
            if incident is not None and incident.last_run_id == run_id:
                return []  # the same failure evaluated twice
            if incident is None:
                incident_id = conn.execute(
                    incidents.insert().values(
                        workflow=workflow,
                        opened_at=now,
                        consecutive_failures=0,
                        level=-1,
                        last_run_id="",
                        last_fingerprint="",
                    )
                ).inserted_primary_key[0]
                incident = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
            failures = incident.consecutive_failures + 1
            level = self._due_level(failures, incident.opened_at, now)
            escalated = level > incident.level
            suppressed = None
            if not escalated:
                recent = incident.last_notified_at is not None and (
                    now - incident.last_notified_at < self.policy.dedupe_window_seconds
                )
                if recent and incident.last_fingerprint == fingerprint:
                    suppressed = "duplicate of a notification sent within the de-duplication window"
                elif self._sent_in_window(conn, workflow, now) >= self.policy.rate_limit_count:
                    suppressed = "rate limit for this workflow reached"
            alert = Alert(
                tenant=self.tenant,
                workflow=workflow,
                job_name=job_name,
                run_id=run_id,
                error=error,
                event_id=event_id,
                will_retry=will_retry,
                consecutive_failures=failures,
                level=max(level, 0),
                opened_at=incident.opened_at,
                escalated=escalated and incident.level >= 0,
            )
            channels = self.policy.levels[max(level, 0)].channels
            ids = [
                self._add_delivery(conn, incident.id, channel, alert, suppressed, now) for channel in channels
            ]
            conn.execute(
                update(incidents)
                .where(incidents.c.id == incident.id)
                .values(
                    consecutive_failures=failures,
                    level=max(level, incident.level, 0),
                    last_run_id=run_id,
                    last_fingerprint=fingerprint,
                    last_notified_at=incident.last_notified_at if suppressed else now,
                )
            )
        if suppressed is None:
            for delivery_id in ids:
                self._deliver(delivery_id)
        return ids

    def record_success(self, workflow: str) -> bool:
        """Resolve the workflow's open incident (a run succeeded); True when one was open."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(incidents)
                .where(incidents.c.workflow == workflow, incidents.c.resolved_at.is_(None))
                .values(resolved_at=self.clock())
            )
        return result.rowcount > 0

    def escalate_unresolved(self) -> list[int]:
        """Escalate open incidents whose ``after_minutes`` has passed; return new delivery ids."""
        now = self.clock()
        created: list[int] = []
        if not self.policy.levels:
            return created
        with self.engine.begin() as conn:
            for incident in conn.execute(select(incidents).where(incidents.c.resolved_at.is_(None))).all():
                level = self._due_level(incident.consecutive_failures, incident.opened_at, now)
                if level <= incident.level:
                    continue
                alert = Alert(
                    tenant=self.tenant,
                    workflow=incident.workflow,
                    job_name=incident.workflow,
                    run_id=incident.last_run_id,
                    error=f"unresolved for {int((now - incident.opened_at) // 60)} minutes",
                    event_id=None,
                    will_retry=False,
                    consecutive_failures=incident.consecutive_failures,
                    level=level,
                    opened_at=incident.opened_at,
                    escalated=True,
                )
                for channel in self.policy.levels[level].channels:
                    created.append(self._add_delivery(conn, incident.id, channel, alert, None, now))
                conn.execute(
                    update(incidents)
                    .where(incidents.c.id == incident.id)
                    .values(level=level, last_notified_at=now)
                )
        for delivery_id in created:
            self._deliver(delivery_id)
        return created

    # -- deliveries ------------------------------------------------------------------------------
    def _sent_in_window(self, conn: Any, workflow: str, now: float) -> int:
        return int(
            conn.execute(
                select(func.count())
                .select_from(deliveries)
                .where(
                    deliveries.c.workflow == workflow,
                    deliveries.c.status != "suppressed",
                    deliveries.c.created_at >= now - self.policy.rate_limit_window_seconds,
                )
            ).scalar_one()
        )

    def _add_delivery(
        self, conn: Any, incident_id: int, channel: str, alert: Alert, suppressed: str | None, now: float
    ) -> int:
        message = self.notifier.render(channel, alert)
        return conn.execute(
            deliveries.insert().values(
                incident_id=incident_id,
                workflow=alert.workflow,
                channel=channel,
                level=alert.level,
                run_id=alert.run_id,
                subject=message.subject,
                body=message.body,
                status="suppressed" if suppressed else "pending",
                attempts=0,
                next_attempt_at=None if suppressed else now,
                last_error=suppressed,
                created_at=now,
            )
        ).inserted_primary_key[0]

    def _due(self, now: float) -> tuple[Any, ...]:
        """Rows that may be claimed: pending and due, or ``sending`` with an expired lease, attempts left."""
        return (
            deliveries.c.status.in_(("pending", "sending")),
            deliveries.c.next_attempt_at <= now,
            deliveries.c.attempts < self.policy.max_delivery_attempts,
        )

    def _claim(self, delivery_id: int) -> Row | None:
        """Atomically take the row for sending (``sending`` under a lease, attempt counted); None if not ours.

        The attempt is counted at the claim, so a sender that dies mid-send still uses one up.
        """
        now = self.clock()
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, *self._due(now))
                .values(
                    status="sending",
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=now + DELIVERY_LEASE_SECONDS,
                )
            ).rowcount
            if claimed != 1:
                return None
            return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()

    def _deliver(self, delivery_id: int) -> bool:
        """Send the delivery if this caller claims it; record the outcome. True when it was attempted."""
        row = self._claim(delivery_id)
        if row is None:
            return False
        attempts = row.attempts
        try:
            self.notifier.deliver(row.channel, Message(subject=row.subject, body=row.body))
        except DeliveryError as error:
            now = self.clock()
            exhausted = attempts >= self.policy.max_delivery_attempts
            backoff = min(
                self.policy.backoff_base_seconds * 2 ** (attempts - 1), self.policy.backoff_max_seconds
            )
            values = {
                "attempts": attempts,
                "last_error": self.notifier.redact(str(error))[:1000],
                "status": "failed" if exhausted else "pending",
                "next_attempt_at": None if exhausted else now + backoff,
            }
        else:
            values = {
                "attempts": attempts,
                "status": "delivered",
                "delivered_at": self.clock(),
                "next_attempt_at": None,
            }
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.status == "sending")
                .values(**values)
            )
        return True

    def retry_due_deliveries(self) -> int:
        """Attempt every due delivery this caller can claim; return how many it attempted."""
        with self.engine.connect() as conn:
            due = conn.execute(select(deliveries.c.id).where(*self._due(self.clock()))).scalars().all()
        return sum(self._deliver(delivery_id) for delivery_id in due)

    def deliveries(self, workflow: str | None = None) -> list[dict[str, Any]]:
        """Delivery rows (oldest first) as dicts, for inspection and tests."""
        query = select(deliveries).order_by(deliveries.c.id)
        if workflow:
            query = query.where(deliveries.c.workflow == workflow)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
