"""Verifying an audit log against its writer key, the checkpointer's public key and the witness store.

Checks, each reported with the first bad position:

- ``edited``: an entry's HMAC does not match (changed, or written without the writer key);
- ``deleted`` / ``reordered``: a gap in the positions or a broken link;
- ``bad_checkpoint``: a checkpoint signature does not verify with the public key;
- ``witness_gap``: the witnessed checkpoints are not numbered 1..n or do not chain;
- ``missing_checkpoint`` / ``unwitnessed_checkpoint``: the database and the witness disagree;
- ``truncated``: the log ends before a witnessed checkpoint's head;
- ``rewritten``: the entry at a witnessed head differs from it;
- ``unchecked`` / ``stale``: more than N entries, or more than T seconds, without a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from compliance.audit.chain import GENESIS_HASH, Checkpoint, entry_hash
from compliance.audit.checkpointer import CheckpointPolicy, database_checkpoints, parse_time
from compliance.audit.keys import load_public_key
from compliance.audit.log import AuditEntry, AuditLog
from compliance.audit.witness import FileWitness


@dataclass(frozen=True)
class VerifyProblem:
    """One finding: ``kind`` names the check (see the module docstring), ``seq`` the first bad entry."""

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
    unchecked: int = 0
    problems: list[VerifyProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the log is intact."""
        return not self.problems

    def kinds(self) -> set[str]:
        """The distinct kinds of problems found."""
        return {p.kind for p in self.problems}

    def first_problem(self) -> VerifyProblem | None:
        """The problem at the lowest position."""
        return min(self.problems, key=lambda p: p.seq, default=None)


def _check_chain(key: bytes, entries: list[AuditEntry], report: VerifyReport) -> None:
    known_hashes = {e.hash: e.seq for e in entries}
    expected_seq, expected_prev = 1, GENESIS_HASH
    for entry in entries:
        if entry.seq != expected_seq:
            report.problems.append(
                VerifyProblem("deleted", expected_seq, f"entries {expected_seq}..{entry.seq - 1} are missing")
            )
        if entry_hash(key, entry.prev_hash, entry.hashed_fields()) != entry.hash:
            report.problems.append(
                VerifyProblem(
                    "edited",
                    entry.seq,
                    "its HMAC does not match (changed, or not written with the writer key)",
                )
            )
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


def _check_witness(
    witnessed: list[Checkpoint], public_key: Ed25519PublicKey | None, tenant: str, report: VerifyReport
) -> None:
    if witnessed and public_key is None:
        report.problems.append(
            VerifyProblem(
                "bad_checkpoint",
                witnessed[0].seq,
                f"the witness holds {len(witnessed)} checkpoints but no public key is configured to check "
                "them: set KLIKKFLOW_AUDIT_PUBLIC_KEY to the checkpointer's audit-signing.pub",
            )
        )
        return
    prev = GENESIS_HASH
    for number, checkpoint in enumerate(witnessed, start=1):
        if checkpoint.number != number or checkpoint.prev != prev or checkpoint.tenant != tenant:
            report.problems.append(
                VerifyProblem(
                    "witness_gap",
                    checkpoint.seq,
                    f"witnessed checkpoint {checkpoint.number} does not follow checkpoint {number - 1}",
                )
            )
            return
        if public_key is not None and not checkpoint.signature_valid(public_key):
            report.problems.append(
                VerifyProblem(
                    "bad_checkpoint", checkpoint.seq, f"witnessed checkpoint {number}: signature is invalid"
                )
            )
            return
        prev = checkpoint.digest()


def _compare_database(
    log: AuditLog, witnessed: list[Checkpoint], public_key: Ed25519PublicKey | None, report: VerifyReport
) -> None:
    stored = {c.number: c for c in database_checkpoints(log.engine)}
    missing = [c for c in witnessed if stored.get(c.number) != c]
    if missing:
        report.problems.append(
            VerifyProblem(
                "missing_checkpoint",
                missing[0].seq,
                f"{len(missing)} witnessed checkpoints are missing or changed in the database "
                f"(first: checkpoint {missing[0].number} of entry {missing[0].seq})",
            )
        )
    extra = sorted(set(stored) - {c.number for c in witnessed})
    for number in extra[:1]:
        checkpoint = stored[number]
        signed = public_key is not None and checkpoint.signature_valid(public_key)
        kind, what = (
            ("unwitnessed_checkpoint", "is not in the witness store")
            if signed
            else (
                "bad_checkpoint",
                "has an invalid signature",
            )
        )
        report.problems.append(
            VerifyProblem(kind, checkpoint.seq, f"database checkpoint {number} {what} ({len(extra)} such)")
        )


def _check_heads(entries: list[AuditEntry], witnessed: list[Checkpoint], report: VerifyReport) -> None:
    by_seq = {e.seq: e for e in entries}
    last_seq = entries[-1].seq if entries else 0
    covering = [c for c in witnessed if c.seq > last_seq]
    if covering:
        report.problems.append(
            VerifyProblem(
                "truncated",
                last_seq + 1,
                f"witnessed checkpoint {covering[-1].number} covers entry {covering[-1].seq} "
                f"but the log ends at {last_seq}",
            )
        )
    for checkpoint in witnessed:
        entry = by_seq.get(checkpoint.seq)
        if entry is not None and entry.hash != checkpoint.head_hash:
            report.problems.append(
                VerifyProblem(
                    "rewritten",
                    checkpoint.seq,
                    f"entry {checkpoint.seq} differs from witnessed checkpoint {checkpoint.number}",
                )
            )
            return


def _check_fresh(
    entries: list[AuditEntry],
    last: Checkpoint | None,
    policy: CheckpointPolicy,
    now: datetime,
    report: VerifyReport,
) -> None:
    covered = last.seq if last else 0
    pending = [e for e in entries if e.seq > covered]
    report.unchecked = len(pending)
    if len(pending) > policy.max_entries:
        report.problems.append(
            VerifyProblem(
                "unchecked",
                covered + policy.max_entries + 1,
                f"{len(pending)} entries after the last checkpoint (entry {covered}) exceed the limit of "
                f"{policy.max_entries}: is `klikkflow audit checkpoint --loop` running?",
            )
        )
    if pending and (age := (now - parse_time(pending[0].time)).total_seconds()) > policy.max_seconds:
        report.problems.append(
            VerifyProblem(
                "unchecked",
                pending[0].seq,
                f"entry {pending[0].seq} has had no checkpoint for {age:.0f} s "
                f"(limit {policy.max_seconds:.0f} s): is `klikkflow audit checkpoint --loop` running?",
            )
        )
    if last is not None and (age := (now - parse_time(last.time)).total_seconds()) > policy.max_seconds:
        report.problems.append(
            VerifyProblem(
                "stale",
                last.seq,
                f"the last witnessed checkpoint ({last.number}, {last.time}) is {age:.0f} s old "
                f"(limit {policy.max_seconds:.0f} s): the checkpointer is not running",
            )
        )


def verify_log(
    log: AuditLog,
    *,
    witness: FileWitness | None = None,
    public_key: Ed25519PublicKey | None = None,
    policy: CheckpointPolicy | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Check the chain, the checkpoints and the witness; return every problem found.

    Defaults: the local witness file of ``log.tenant``, the public key from
    :func:`~compliance.audit.keys.load_public_key`, the policy from the
    environment, the current time.
    """
    witness = witness or FileWitness(log.tenant)
    public_key = public_key or load_public_key()
    policy = policy or CheckpointPolicy.from_env()
    now = now or datetime.now(UTC)
    entries = list(log.entries())
    witnessed = witness.checkpoints()
    report = VerifyReport(entries=len(entries), checkpoints=len(witnessed))
    if entries:
        report.head_seq, report.head_hash = entries[-1].seq, entries[-1].hash
    _check_chain(log.key, entries, report)
    _check_witness(witnessed, public_key, log.tenant, report)
    _compare_database(log, witnessed, public_key, report)
    _check_heads(entries, witnessed, report)
    _check_fresh(entries, witnessed[-1] if witnessed else None, policy, now, report)
    report.problems.sort(key=lambda p: p.seq)
    return report
