"""SQLAlchemy tables of the event system, created in the tenant's own storage database."""

from __future__ import annotations

import threading

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    exc,
)

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; Postgres gets a BIGSERIAL.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "kf_event_outbox",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    # What makes a delivery "the same event": webhook signature, AMQP message id, replay id.
    Column("dedupe_key", String(300), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("source", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("replay_of_run", String(64), nullable=True),
    Column("replay_of_event", String(64), nullable=True),
    UniqueConstraint("dedupe_key", name="uq_kf_event_outbox_dedupe_key"),
)
Index("ix_kf_event_outbox_workflow_seq", outbox.c.workflow, outbox.c.seq)

dead_letters = Table(
    "kf_dead_letter",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("failed_run_id", String(64), nullable=False, unique=True),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("replayed_event_id", String(64), nullable=True),
    Column("replayed_at", Float, nullable=True),
)

incidents = Table(
    "kf_alert_incident",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("workflow", String(128), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("resolved_at", Float, nullable=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("last_run_id", String(64), nullable=False),
    Column("last_fingerprint", String(64), nullable=False),
    Column("last_notified_at", Float, nullable=True),
)
Index("ix_kf_alert_incident_open", incidents.c.workflow, incidents.c.resolved_at)

deliveries = Table(
    "kf_notification_delivery",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("incident_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("level", Integer, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # pending | sending (claimed) | delivered | failed | suppressed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
)
Index("ix_kf_notification_delivery_due", deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_kf_notification_delivery_workflow", deliveries.c.workflow, deliveries.c.created_at)

_created: set[str] = set()
_lock = threading.Lock()


def ensure_tables(engine: Engine) -> None:
    """Create the event tables in ``engine``'s database once per process (idempotent)."""
    key = engine.url.render_as_string(hide_password=True)
    if key in _created:
        return
    with _lock:
        if key not in _created:
            # Another process may create a table between our check and our CREATE, once per table
            # at most (it raced us on that one): try again, up to once per table.
            for attempt in range(len(metadata.tables) + 1):
                try:
                    metadata.create_all(engine, checkfirst=True)
                    break
                except (exc.ProgrammingError, exc.IntegrityError, exc.OperationalError):
                    if attempt == len(metadata.tables):
                        raise
            _created.add(key)
