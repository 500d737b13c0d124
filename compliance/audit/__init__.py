"""Tamper-evident audit log: an append-only, HMAC-chained table in the tenant's storage.

Every entry carries actor, tenant, action, target, outcome, source address and
time, and an HMAC-SHA256 (under the writers' key) over the previous entry's
hash and the entry's canonical JSON. A separate checkpointer signs the head
with an Ed25519 key no writer holds and copies each checkpoint to a witness
store outside the tenant database; ``verify`` checks the log against both.
On Postgres (and SQLite) triggers reject UPDATE and DELETE.
"""

from compliance.audit.log import AuditEntry, AuditLog, audit_log_for_tenant
from compliance.audit.verify import VerifyProblem, VerifyReport, verify_log

__all__ = [
    "AuditEntry",
    "AuditLog",
    "VerifyProblem",
    "VerifyReport",
    "audit_log_for_tenant",
    "verify_log",
]
