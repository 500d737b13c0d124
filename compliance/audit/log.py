"""Appending to and reading the audit log of one tenant."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from compliance.audit.chain import GENESIS_HASH, entry_hash, sign_checkpoint
from compliance.audit.keys import audit_key
from compliance.audit.tables import audit_checkpoint_table, audit_log_table, create_audit_tables

OUTCOMES = ("success", "failure", "allowed", "denied")
_APPEND_RETRIES = 20


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
    """The append-only, hash-chained audit log in one storage database.

    ``tenant`` names whose log this is (``"platform"`` for the gateway's
    own sign-in events). Appends are serialised in-process by a lock and
    across processes by the primary key on the position (a losing writer
    retries on the new head); on Postgres the table is locked for the
    duration of the append.
    """

    def __init__(self, engine: Engine, tenant: str, key: bytes | None = None) -> None:
        self.engine = engine
        self.tenant = tenant
        self._key = key
        self._lock = threading.Lock()
        create_audit_tables(engine)

    @property
    def key(self) -> bytes:
        """The checkpoint signing key (resolved lazily from env/secrets)."""
        if self._key is None:
            self._key = audit_key()
        return self._key

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
    ) -> AuditEntry:
        """Append one entry, chain it to the head and sign a checkpoint of the new head."""
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
        with self._lock:
            for _ in range(_APPEND_RETRIES):
                try:
                    return self._append_once(fields)
                except IntegrityError:
                    continue  # another process appended first; chain onto the new head
        raise RuntimeError("could not append to the audit log: too much contention")

    def _append_once(self, fields: dict[str, str]) -> AuditEntry:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
            head = conn.execute(
                select(audit_log_table.c.seq, audit_log_table.c.hash)
                .order_by(audit_log_table.c.seq.desc())
                .limit(1)
            ).first()
            seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
            row = {"seq": seq, "time": _now(), **fields, "prev_hash": prev_hash}
            row["hash"] = entry_hash(prev_hash, row)
            conn.execute(audit_log_table.insert().values(**row))
            conn.execute(
                audit_checkpoint_table.insert().values(
                    seq=seq,
                    head_hash=row["hash"],
                    time=row["time"],
                    signature=sign_checkpoint(self.key, self.tenant, seq, row["hash"], row["time"]),
                )
            )
        return AuditEntry(**row)

    def entries(self, since: str | None = None, until: str | None = None) -> Iterator[AuditEntry]:
        """Entries in chain order, optionally limited to ``since <= time < until`` (ISO-8601 UTC)."""
        query = select(audit_log_table).order_by(audit_log_table.c.seq)
        if since:
            query = query.where(audit_log_table.c.time >= since)
        if until:
            query = query.where(audit_log_table.c.time < until)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield AuditEntry(**row._asdict())


def audit_log_for_tenant(tenant_id: str) -> AuditLog:
    """The audit log in the tenant's own storage (SQLite locally, its Postgres database in production)."""
    from klikkflow_pipelines.tenancy.storage import tenant_storage_engine

    return AuditLog(tenant_storage_engine(tenant_id), tenant_id)
