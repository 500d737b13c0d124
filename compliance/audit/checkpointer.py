"""The checkpointer: signs the head of each audit log and copies the checkpoint to the witness store.

It is a platform process (``klikkflow audit checkpoint [--loop]``), the only
holder of the Ed25519 signing key. A checkpoint covers the head at least every
``max_entries / 2`` entries and every ``max_seconds / 2`` seconds, empty
periods included, so ``verify`` (which allows ``max_entries`` and
``max_seconds``) finds a fresh one on a healthy install. Each checkpoint names
the digest of the previous *witnessed* one, and the checkpointer refuses to
sign a head that does not extend the last witnessed head: it never launders a
rewritten log.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select

from compliance.audit.chain import GENESIS_HASH, Checkpoint
from compliance.audit.log import AuditLog
from compliance.audit.tables import audit_checkpoint_table
from compliance.audit.witness import FileWitness

ENTRIES_ENV = "KLIKKFLOW_AUDIT_CHECKPOINT_ENTRIES"
SECONDS_ENV = "KLIKKFLOW_AUDIT_CHECKPOINT_SECONDS"


class CheckpointRefused(RuntimeError):
    """The log no longer extends its last witnessed checkpoint; signing it would hide a rewrite."""


@dataclass(frozen=True)
class CheckpointPolicy:
    """At most ``max_entries`` entries and ``max_seconds`` seconds may go without a checkpoint."""

    max_entries: int = 1000
    max_seconds: float = 300.0

    @classmethod
    def from_env(cls) -> CheckpointPolicy:
        """``KLIKKFLOW_AUDIT_CHECKPOINT_ENTRIES`` / ``_SECONDS`` (defaults 1000 entries, 300 s)."""
        values: dict[str, float] = {}
        for field, name, kind in (("max_entries", ENTRIES_ENV, int), ("max_seconds", SECONDS_ENV, float)):
            raw = os.environ.get(name, "").strip()
            if not raw:
                continue
            try:
                values[field] = kind(raw)
            except ValueError:
                raise ValueError(f"{name} must be a positive number, not {raw!r}") from None
            if values[field] <= 0:
                raise ValueError(f"{name} must be a positive number, not {raw!r}")
        return cls(**values)  # type: ignore[arg-type]


def parse_time(value: str) -> datetime:
    """An ISO-8601 time as stored in the log (UTC)."""
    return datetime.fromisoformat(value)


def database_checkpoints(engine: Engine) -> list[Checkpoint]:
    """The checkpoints the tenant database holds, by number."""
    with engine.connect() as conn:
        rows = conn.execute(select(audit_checkpoint_table).order_by(audit_checkpoint_table.c.number)).all()
    return [Checkpoint(**row._asdict()) for row in rows]


def _reconcile(
    log: AuditLog, witness: FileWitness, witnessed: list[Checkpoint], key: Ed25519PrivateKey
) -> None:
    """Copy to the witness what an earlier run committed to the database but did not witness (a crash)."""
    public = key.public_key()
    for checkpoint in database_checkpoints(log.engine):
        last = witnessed[-1] if witnessed else None
        if checkpoint.number <= (last.number if last else 0):
            continue
        expected_prev = last.digest() if last else GENESIS_HASH
        if (
            checkpoint.number != (last.number if last else 0) + 1
            or checkpoint.prev != expected_prev
            or checkpoint.tenant != log.tenant
            or not checkpoint.signature_valid(public)
        ):
            return  # not ours to witness; verify reports it
        witness.append(checkpoint)
        witnessed.append(checkpoint)


def _check_extends(log: AuditLog, last: Checkpoint | None) -> tuple[int, str]:
    """The head (seq, hash), after checking that it extends ``last``; raise :class:`CheckpointRefused`."""
    refuse = f"not signing. Run `klikkflow audit verify --tenant {log.tenant}`."
    prev_seq, prev_hash = 0, GENESIS_HASH
    entries = log.entries(from_seq=last.seq if last and last.seq else 1)
    if last is not None and last.seq:
        first = next(entries, None)
        if first is None or first.seq != last.seq or first.hash != last.head_hash:
            raise CheckpointRefused(
                f"audit log of {log.tenant}: entry {last.seq} is missing or no longer matches witnessed "
                f"checkpoint {last.number}; {refuse}"
            )
        prev_seq, prev_hash = last.seq, last.head_hash
    for entry in entries:
        if entry.seq != prev_seq + 1 or entry.prev_hash != prev_hash:
            raise CheckpointRefused(
                f"audit log of {log.tenant}: entry {entry.seq} does not extend entry {prev_seq}; {refuse}"
            )
        prev_seq, prev_hash = entry.seq, entry.hash
    return prev_seq, prev_hash


def _due(last: Checkpoint | None, head_seq: int, policy: CheckpointPolicy, now: datetime) -> bool:
    if last is None:
        return True
    age = (now - parse_time(last.time)).total_seconds()
    return head_seq - last.seq >= max(1, policy.max_entries // 2) or age >= policy.max_seconds / 2


def checkpoint_log(
    log: AuditLog,
    key: Ed25519PrivateKey,
    witness: FileWitness | None = None,
    *,
    policy: CheckpointPolicy | None = None,
    force: bool = True,
    now: datetime | None = None,
) -> Checkpoint | None:
    """Sign the head of ``log`` into its database and its witness; ``None`` when not ``force`` and not due."""
    witness = witness or FileWitness(log.tenant)
    now = now or datetime.now(UTC)
    with witness.exclusive():
        witnessed = witness.checkpoints()
        _reconcile(log, witness, witnessed, key)
        last = witnessed[-1] if witnessed else None
        head_seq, head_hash = _check_extends(log, last)
        if not force and not _due(last, head_seq, policy or CheckpointPolicy.from_env(), now):
            return None
        checkpoint = Checkpoint(
            tenant=log.tenant,
            number=(last.number if last else 0) + 1,
            seq=head_seq,
            head_hash=head_hash,
            time=now.isoformat(timespec="microseconds"),
            prev=last.digest() if last else GENESIS_HASH,
        ).signed(key)
        with log.engine.begin() as conn:
            conn.execute(audit_checkpoint_table.insert().values(**checkpoint.as_record()))
        witness.append(checkpoint)  # a crash before this line is completed by the next run's reconcile
    return checkpoint


def run_checkpointer(
    open_logs: Callable[[], Iterable[AuditLog]],
    key: Ed25519PrivateKey,
    *,
    interval: float,
    report: Callable[[str], None],
    stop_event: threading.Event | None = None,
    policy: CheckpointPolicy | None = None,
) -> None:
    """Every ``interval`` seconds, checkpoint each log that is due, until ``stop_event`` is set.

    One log's failure (a refused rewrite, an unreachable database) is reported
    and does not stop the others.
    """
    stop_event = stop_event or threading.Event()
    policy = policy or CheckpointPolicy.from_env()
    while True:
        for log in open_logs():
            try:
                checkpoint = checkpoint_log(log, key, policy=policy, force=False)
            except Exception as exc:  # reported per log; the loop keeps the others checkpointed
                report(f"{log.tenant}: checkpoint failed: {exc}")
            else:
                if checkpoint is not None:
                    report(f"{log.tenant}: checkpoint {checkpoint.number} at entry {checkpoint.seq}")
            finally:
                log.engine.dispose()
        if stop_event.wait(interval):
            return
