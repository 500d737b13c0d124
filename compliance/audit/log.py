"""Appending to and reading the audit log of one tenant."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError

from compliance.audit.chain import GENESIS_HASH, entry_hash
from compliance.audit.keys import audit_key, tenant_writer_key_from_env, writer_key
from compliance.audit.tables import audit_log_table, ensure_audit_schema

OUTCOMES = ("success", "failure", "allowed", "denied")
_APPEND_RETRIES = 20
# Postgres advisory locks are scoped to one database, which holds one ``audit_log``: this key is that log's.
_APPEND_LOCK = "klikkflow.audit_log.append"


@dataclass(frozen=True)
class AuditEntry:
    """One audit log row."""

    seq: int
    time: str
    actor: str
    tenant: str
    action: str
    target: str
    outcome: str
    source: str
    details: str
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """The fields the chain hash covers."""
        return asdict(self)

    def as_record(self) -> dict[str, Any]:
        """A plain dict for export (details decoded from JSON)."""
        record = asdict(self)
        record["details"] = json.loads(self.details) if self.details else {}
        return record


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class AuditLog:
    """The append-only, HMAC-chained audit log in one storage database.

    ``tenant`` names whose log this is (``"platform"`` for the gateway's own
    sign-in events); ``key`` is the base writer key (default: :func:`audit_key`).
    Appends hold the log's append lock (a transaction-scoped advisory lock on
    Postgres, which a writer with only INSERT and SELECT may take; the write lock
    on SQLite) from reading the head to committing, so concurrent writers in any
    number of processes form one chain (``seq`` stays the primary key: a writer
    that bypassed the lock fails and retries). Writers never sign checkpoints and
    never need the checkpointer's private key.
    """

    def __init__(self, engine: Engine, tenant: str, key: bytes | None = None) -> None:
        self.engine = engine
        self.tenant = tenant
        self._base_key = key
        self._key: bytes | None = None
        self._lock = threading.Lock()
        fix = "klikkflow platform init" if tenant == "platform" else f"klikkflow tenant migrate {tenant}"
        ensure_audit_schema(engine, migrate_command=fix)

    @property
    def key(self) -> bytes:
        """The HMAC key that chains this log's entries (resolved lazily from env/secrets)."""
        if self._key is None and self._base_key is None:
            self._key = tenant_writer_key_from_env(self.tenant)
        if self._key is None:
            self._key = writer_key(self._base_key or audit_key(), self.tenant)
        return self._key

    def _take_append_lock(self, conn: Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": _APPEND_LOCK}
            )
        elif self.engine.dialect.name == "sqlite":
            # a write as the first statement takes SQLite's write lock for the whole transaction
            conn.execute(text("UPDATE audit_bridge_progress SET last_id = last_id WHERE 0"))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction holding the append lock: ``append(..., conn=conn)`` entries and the caller's
        own writes on ``conn`` commit together or not at all."""
        with self._lock, self.engine.begin() as conn:
            self._take_append_lock(conn)
            yield conn

    def append(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        outcome: str,
        source: str = "",
        details: dict[str, Any] | None = None,
        tenant: str | None = None,
        conn: Connection | None = None,
    ) -> AuditEntry:
        """Append one entry chained to the head; inside :meth:`transaction` pass its ``conn``."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        fields = {
            "actor": actor,
            "tenant": tenant or self.tenant,
            "action": action,
            "target": target,
            "outcome": outcome,
            "source": source,
            "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str),
        }
        if conn is not None:
            return self._append_on(conn, fields)
        for _ in range(_APPEND_RETRIES):
            try:
                with self.transaction() as own:
                    return self._append_on(own, fields)
            except IntegrityError:
                continue  # another writer appended first; chain onto the new head
        raise RuntimeError("could not append to the audit log: too much contention")

    def _append_on(self, conn: Connection, fields: dict[str, str]) -> AuditEntry:
        head = conn.execute(
            select(audit_log_table.c.seq, audit_log_table.c.hash)
            .order_by(audit_log_table.c.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
        row = {"seq": seq, "time": _now(), **fields, "prev_hash": prev_hash}
        row["hash"] = entry_hash(self.key, prev_hash, row)
        conn.execute(audit_log_table.insert().values(**row))
        return AuditEntry(**row)

    def entries(
        self, since: str | None = None, until: str | None = None, from_seq: int | None = None
    ) -> Iterator[AuditEntry]:
        """Entries in chain order, optionally limited to ``since <= time < until`` (ISO-8601 UTC)
        and to positions ``>= from_seq``."""
        query = select(audit_log_table).order_by(audit_log_table.c.seq)
        if since:
            query = query.where(audit_log_table.c.time >= since)
        if until:
            query = query.where(audit_log_table.c.time < until)
        if from_seq is not None:
            query = query.where(audit_log_table.c.seq >= from_seq)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield AuditEntry(**row._asdict())


def audit_log_for_tenant(tenant_id: str) -> AuditLog:
    """The audit log in the tenant's own storage (SQLite locally, its Postgres database in production)."""
    from klikkflow_pipelines.tenancy.storage import tenant_storage_engine

    return AuditLog(tenant_storage_engine(tenant_id), tenant_id)
