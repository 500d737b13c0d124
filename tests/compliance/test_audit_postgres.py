"""The audit log on real PostgreSQL: triggers reject UPDATE/DELETE/TRUNCATE; verify catches tampering."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from compliance.audit import AuditLog, verify_log
from compliance.audit.checkpointer import checkpoint_log
from compliance.audit.keys import load_signing_key
from klikkflow_pipelines.tenancy.storage import create_storage_engine

pytestmark = pytest.mark.postgres
KEY = b"p" * 32


@pytest.fixture
def pg_log(fresh_database) -> Iterator[AuditLog]:
    """An audit log in a fresh database on the real PostgreSQL server (dropped afterwards)."""
    with fresh_database("kf_audit") as url:
        engine = create_storage_engine(url)
        try:
            log = AuditLog(engine, "acme", key=KEY)
            for index in range(5):
                log.append(
                    actor=f"u{index}", action="graphql.mutation", target="launchRun", outcome="allowed"
                )
            checkpoint_log(log, load_signing_key())
            yield log
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 5",
        "TRUNCATE audit_log",
        "DELETE FROM audit_signed_checkpoints",
        "UPDATE audit_signed_checkpoints SET seq = 1",
    ],
)
def test_trigger_rejects_changes(pg_log: AuditLog, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), pg_log.engine.begin() as conn:
        conn.execute(text(statement))
    assert verify_log(pg_log).ok


def _tamper(log: AuditLog, *statements: str) -> None:
    """A superuser disables the triggers and edits rows behind the log's back."""
    with log.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for statement in statements:
            conn.execute(text(statement))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


@pytest.mark.parametrize(
    ("statements", "kind"),
    [
        (["UPDATE audit_log SET target = 'wipeAssets' WHERE seq = 2"], "edited"),
        (["DELETE FROM audit_log WHERE seq = 3"], "deleted"),
        (
            [
                "UPDATE audit_log SET seq = -1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = -1",
            ],
            "reordered",
        ),
        (["DELETE FROM audit_log WHERE seq >= 4"], "truncated"),
    ],
)
def test_verify_detects_tampering(pg_log: AuditLog, statements: list[str], kind: str) -> None:
    _tamper(pg_log, *statements)
    assert verify_log(pg_log).kinds() == {kind}


def test_concurrent_appends_form_one_chain(pg_log: AuditLog) -> None:
    other = AuditLog(pg_log.engine, "acme", key=KEY)

    def write(log: AuditLog, who: str) -> None:
        for index in range(15):
            log.append(actor=who, action="signin", outcome="success", details={"i": index})

    threads = [
        threading.Thread(target=write, args=(log, name)) for log, name in ((pg_log, "a"), (other, "b"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_log(pg_log)
    assert report.ok, report.problems
    assert report.entries == 35
