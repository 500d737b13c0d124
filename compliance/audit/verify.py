"""Verifying an audit log: every edit, deletion, reordering and tail truncation is reported."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from compliance.audit.chain import GENESIS_HASH, checkpoint_signature_valid, entry_hash
from compliance.audit.log import AuditEntry, AuditLog
from compliance.audit.tables import audit_checkpoint_table


@dataclass(frozen=True)
class VerifyProblem:
    """One finding: ``kind`` is edited, deleted, reordered, truncated or bad_checkpoint."""

    kind: str
    seq: int
    message: str


@dataclass
class VerifyReport:
    """The result of :func:`verify_log`."""

    entries: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[VerifyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the log is intact."""
        return not self.problems

    def kinds(self) -> set[str]:
        """The distinct kinds of problems found."""
        return {p.kind for p in self.problems}


def _check_chain(entries: list[AuditEntry], report: VerifyReport) -> None:
    known_hashes = {e.hash: e.seq for e in entries}
    expected_seq, expected_prev = 1, GENESIS_HASH
    for entry in entries:
        if entry.seq != expected_seq:
            report.problems.append(
                VerifyProblem("deleted", expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing")
            )
        if entry_hash(entry.prev_hash, entry.hashed_fields()) != entry.hash:
            report.problems.append(VerifyProblem("edited", entry.seq, "content does not match its hash"))
        elif entry.prev_hash != expected_prev:
            linked = known_hashes.get(entry.prev_hash)
            if linked is not None or entry.prev_hash == GENESIS_HASH:
                where = "the start" if linked is None else f"entry {linked}"
                report.problems.append(
                    VerifyProblem("reordered", entry.seq, f"chained to {where}, not to the entry before it")
                )
            elif entry.seq == expected_seq:
                report.problems.append(
                    VerifyProblem("deleted", entry.seq, "the entry it was chained to is missing")
                )
        expected_seq, expected_prev = entry.seq + 1, entry.hash


def _check_checkpoints(log: AuditLog, entries: list[AuditEntry], report: VerifyReport) -> None:
    by_seq = {e.seq: e for e in entries}
    last_seq = entries[-1].seq if entries else 0
    with log.engine.connect() as conn:
        checkpoints = conn.execute(select(audit_checkpoint_table).order_by(audit_checkpoint_table.c.id)).all()
    report.checkpoints = len(checkpoints)
    highest_signed = 0
    for cp in checkpoints:
        if not checkpoint_signature_valid(log.key, log.tenant, cp.seq, cp.head_hash, cp.time, cp.signature):
            report.problems.append(VerifyProblem("bad_checkpoint", cp.seq, "checkpoint signature is invalid"))
            continue
        highest_signed = max(highest_signed, cp.seq)
        entry = by_seq.get(cp.seq)
        if entry is not None and entry.hash != cp.head_hash:
            moved = any(e.hash == cp.head_hash for e in entries)
            kind, what = (
                ("reordered", "was moved") if moved else ("edited", "differs from the signed checkpoint")
            )
            report.problems.append(VerifyProblem(kind, cp.seq, f"entry {what}"))
    if highest_signed > last_seq:
        report.problems.append(
            VerifyProblem(
                "truncated",
                last_seq + 1,
                f"a signed checkpoint covers entry {highest_signed} but the log ends at {last_seq}",
            )
        )


def verify_log(log: AuditLog) -> VerifyReport:
    """Recompute the chain and check the signed checkpoints; return every problem found."""
    entries = list(log.entries())
    report = VerifyReport(entries=len(entries))
    if entries:
        report.head_seq, report.head_hash = entries[-1].seq, entries[-1].hash
    _check_chain(entries, report)
    _check_checkpoints(log, entries, report)
    return report
