"""The hash-chained audit log on SQLite: appends, tamper detection, append-only triggers, export, CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from compliance.audit import AuditLog, audit_log_for_tenant, verify_log
from compliance.audit.chain import GENESIS_HASH, entry_hash
from compliance.audit.checkpointer import checkpoint_log
from compliance.audit.compliance_bridge import chain_compliance_events
from compliance.audit.export import export_entries
from compliance.audit.keys import load_signing_key
from compliance.events import ComplianceEvent, record_events
from klikkflow_pipelines.cli.audit import audit_app
from klikkflow_pipelines.tenancy.storage import create_storage_engine, tenant_storage_url

KEY = b"k" * 32


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
def log(db_path: Path) -> AuditLog:
    audit = AuditLog(create_storage_engine(f"sqlite:///{db_path}"), "acme", key=KEY)
    for index in range(6):
        audit.append(
            actor=f"user{index}",
            action="graphql.mutation",
            target="launchRun",
            outcome="allowed",
            source="10.0.0.1",
            details={"n": index},
        )
    checkpoint_log(audit, load_signing_key())  # what the platform's checkpointer does
    return audit


def tamper(db_path: Path, *statements: str) -> None:
    """What an attacker with file access does: drop the guard triggers, then change rows."""
    with sqlite3.connect(db_path) as conn:
        for name in (
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_signed_checkpoints_no_update",
            "audit_signed_checkpoints_no_delete",
        ):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in statements:
            conn.execute(statement)


def test_entries_chain_from_genesis_and_verify(log: AuditLog) -> None:
    entries = list(log.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
        assert entry_hash(log.key, after.prev_hash, after.hashed_fields()) == after.hash
    report = verify_log(log)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.head_seq) == (6, 1, 6)


def test_every_field_is_recorded(log: AuditLog) -> None:
    entry = log.append(
        actor="ada",
        action="token.create",
        target="acme:viewer",
        outcome="success",
        source="192.0.2.7",
        details={"token_id": 3},
    )
    stored = list(log.entries())[-1]
    assert stored == entry
    assert (stored.actor, stored.tenant, stored.action, stored.target, stored.outcome, stored.source) == (
        "ada",
        "acme",
        "token.create",
        "acme:viewer",
        "success",
        "192.0.2.7",
    )
    assert stored.time.endswith("+00:00")
    assert json.loads(stored.details) == {"token_id": 3}


def test_sqlite_triggers_reject_update_and_delete(log: AuditLog, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        for statement in (
            "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
            "DELETE FROM audit_log WHERE seq = 6",
            "DELETE FROM audit_signed_checkpoints",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
    assert verify_log(log).ok


def test_edit_is_detected(log: AuditLog, db_path: Path) -> None:
    tamper(db_path, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
    report = verify_log(log)
    assert report.kinds() == {"edited"}
    assert [p.seq for p in report.problems] == [3]


def test_edit_rechained_with_the_writer_key_is_caught_by_the_witnessed_checkpoint(
    log: AuditLog, db_path: Path
) -> None:
    entries = list(log.entries())
    forged = {**entries[2].hashed_fields(), "actor": "mallory"}
    prev = entries[1].hash
    statements = []
    for entry in entries[2:]:
        fields = forged if entry.seq == 3 else entry.hashed_fields()
        new_hash = entry_hash(log.key, prev, fields)
        statements.append(
            f"UPDATE audit_log SET actor = '{fields['actor']}', prev_hash = '{prev}', hash = '{new_hash}' "
            f"WHERE seq = {entry.seq}"
        )
        prev = new_hash
    tamper(db_path, *statements)
    report = verify_log(log)
    assert report.kinds() == {"rewritten"}
    assert [p.seq for p in report.problems] == [6]


def test_delete_is_detected(log: AuditLog, db_path: Path) -> None:
    tamper(db_path, "DELETE FROM audit_log WHERE seq = 4")
    report = verify_log(log)
    assert report.kinds() == {"deleted"}
    assert report.problems[0].seq == 4


def test_reorder_is_detected(log: AuditLog, db_path: Path) -> None:
    tamper(
        db_path,
        "UPDATE audit_log SET seq = -1 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = -1",
    )
    report = verify_log(log)
    assert report.kinds() == {"reordered"}


def test_tail_truncation_is_detected(log: AuditLog, db_path: Path) -> None:
    tamper(db_path, "DELETE FROM audit_log WHERE seq >= 5")
    report = verify_log(log)
    assert report.kinds() == {"truncated"}
    assert report.problems[0].seq == 5


def test_forged_checkpoint_is_detected(log: AuditLog, db_path: Path) -> None:
    tamper(db_path, "UPDATE audit_signed_checkpoints SET signature = 'aa' || substr(signature, 3)")
    assert verify_log(log).kinds() == {"missing_checkpoint"}
    # a verifier with another public key does not accept the witnessed checkpoints either
    other = Ed25519PrivateKey.generate().public_key()
    assert "bad_checkpoint" in verify_log(log, public_key=other).kinds()
    # nor one with another writer key the entries
    wrong_writer_key = verify_log(AuditLog(log.engine, "acme", key=b"z" * 32))
    assert [p.seq for p in wrong_writer_key.problems if p.kind == "edited"] == [1, 2, 3, 4, 5, 6]


def test_appends_continue_the_chain_across_instances(log: AuditLog) -> None:
    again = AuditLog(log.engine, "acme", key=KEY)
    entry = again.append(actor="x", action="signin", outcome="success")
    assert entry.seq == 7
    assert entry.prev_hash == list(log.entries())[5].hash
    assert verify_log(again).ok


def test_outcome_must_be_known(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="outcome"):
        log.append(actor="x", action="y", outcome="maybe")


def test_export_jsonl_and_csv_with_window(log: AuditLog) -> None:
    entries = list(log.entries())
    since, until = entries[1].time, entries[4].time
    out = io.StringIO()
    assert export_entries(log, out, "jsonl", since=since, until=until) == 3
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["seq"] for r in records] == [2, 3, 4]
    assert records[0]["details"] == {"n": 1}
    out = io.StringIO()
    assert export_entries(log, out, "csv") == 6
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [int(r["seq"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[5]["hash"] == entries[5].hash
    with pytest.raises(ValueError, match="jsonl"):
        export_entries(log, io.StringIO(), "xml")


def test_cli_verify_and_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "c" * 40)
    log = audit_log_for_tenant("acme")
    for index in range(3):
        log.append(actor="ada", action="signin", outcome="success", details={"i": index})
    runner = CliRunner()
    result = runner.invoke(audit_app, ["verify", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "3 entries" in result.output
    target = tmp_path / "out.csv"
    result = runner.invoke(
        audit_app,
        [
            "export",
            "-t",
            "acme",
            "--format",
            "csv",
            "-o",
            str(target),
            "--since",
            "2000-01-01",
            "--until",
            "2999-01-01T00:00:00+00:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(target.open()))) == 3
    result = runner.invoke(audit_app, ["export", "-t", "acme", "--since", "yesterday"])
    assert result.exit_code != 0
    assert "ISO-8601" in result.output
    db = tenant_storage_url("acme").removeprefix("sqlite:///")
    tamper(Path(db), "DELETE FROM audit_log WHERE seq = 2")
    result = runner.invoke(audit_app, ["verify", "--tenant", "acme"])
    assert result.exit_code == 1
    assert "deleted" in result.output


def test_key_must_be_long_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "short")
    log = audit_log_for_tenant("acme")
    with pytest.raises(ValueError, match="at least 32"):
        log.append(actor="x", action="y", outcome="success")


def test_compliance_events_are_chained_once(log: AuditLog) -> None:
    assert chain_compliance_events(log) == 0  # no compliance_events table yet
    record_events(
        log.engine,
        [
            ComplianceEvent(actor="run:abc", tenant="acme", action="mask", asset="customers", column="email"),
            ComplianceEvent(actor="run:abc", tenant="acme", action="block", asset="claims", column="ssn"),
        ],
    )
    assert chain_compliance_events(log) == 2
    assert chain_compliance_events(log) == 0
    chained = list(log.entries())[-2:]
    assert [(e.action, e.target, e.outcome) for e in chained] == [
        ("compliance.mask", "customers", "allowed"),
        ("compliance.block", "claims", "denied"),
    ]
    assert json.loads(chained[1].details)["compliance_event"]["column"] == "ssn"
    assert verify_log(log).ok


def test_update_on_guarded_table_raises_through_sqlalchemy(log: AuditLog) -> None:
    from sqlalchemy import text

    with pytest.raises(DatabaseError), log.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_cli_chains_compliance_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "c" * 40)
    engine = create_storage_engine(tenant_storage_url("acme"))
    record_events(engine, [ComplianceEvent(actor="run:1", tenant="acme", action="hash", asset="customers")])
    result = CliRunner().invoke(audit_app, ["chain-events", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "chained 1" in result.output
    assert [e.action for e in audit_log_for_tenant("acme").entries()] == ["compliance.hash"]
