"""Tamper-evident audit log: an append-only, hash-chained table in the tenant's storage.

Every entry carries actor, tenant, action, target, outcome, source address and
time, and a SHA-256 hash over the previous entry's hash and the entry's
canonical JSON. Signed checkpoints of the head hash catch truncation of the
tail. On Postgres (and SQLite) triggers reject UPDATE and DELETE.
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
