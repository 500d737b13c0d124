"""`klikkflow audit verify` against an attacker who can write the tenant database (item: rewritten log).

The attacker drops the append-only triggers and rewrites rows; they hold
neither the writers' HMAC key nor the checkpointer's private key, and cannot
reach the platform's witness store. Each rewrite (a)-(f) must fail
``verify`` with the first bad entry and the check that caught it printed,
on SQLite and on the real PostgreSQL server. Where noted, the attacker also
holds the writer key (a compromised gateway): the witnessed checkpoints
still catch the rewrite.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from compliance.audit import audit_log_for_tenant
from compliance.audit.chain import GENESIS_HASH, entry_hash
from compliance.audit.log import AuditEntry, AuditLog
from compliance.audit.tables import create_audit_schema
from compliance.audit.witness import FileWitness
from klikkflow_pipelines.cli.audit import audit_app
from klikkflow_pipelines.paths import PROJECT_ROOT
from resources.sql_engine import create_storage_engine

ATTACKER_KEY = b"the attacker's own key, not the writer key"
TABLES = ("audit_log", "audit_signed_checkpoints")


@dataclass
class TenantLog:
    """A tenant whose audit log has 12 entries and witnessed checkpoints at entries 4, 8 and 12."""

    id: str
    log: AuditLog
    sqlite_path: Path | None

    @property
    def engine(self) -> Engine:
        return self.log.engine

    def attack(self, *statements: str) -> None:
        """What someone with write access to the tenant database does: drop the triggers, then write."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as conn:
                for table in TABLES:
                    for suffix in ("no_update", "no_delete"):
                        conn.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
                for statement in statements:
                    conn.execute(statement)
            return
        with self.engine.begin() as conn:
            for table in TABLES:
                for suffix in ("no_update_delete", "no_truncate"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}"))
            for statement in statements:
                conn.exec_driver_sql(statement)

    def entries(self) -> list[AuditEntry]:
        return list(self.log.entries())

    def verify(self) -> tuple[int, str]:
        result = CliRunner().invoke(audit_app, ["verify", "--tenant", self.id])
        return result.exit_code, " ".join(result.output.split())

    def checkpoint(self) -> tuple[int, str]:
        result = CliRunner().invoke(audit_app, ["checkpoint", "--tenant", self.id])
        return result.exit_code, " ".join(result.output.split())


def _rechain(
    entries: list[AuditEntry], key: bytes, start: int, changes: dict[int, dict[str, str]]
) -> list[str]:
    """UPDATEs that apply ``changes`` (seq -> fields) and recompute every hash from entry ``start`` on."""
    prev = next((e.hash for e in reversed(entries) if e.seq < start), GENESIS_HASH)
    statements = []
    for entry in (e for e in entries if e.seq >= start):
        change = changes.get(entry.seq, {})
        new_hash = entry_hash(key, prev, {**entry.hashed_fields(), **change})
        sets = "".join(f"{name} = '{value}', " for name, value in change.items())
        statements.append(
            f"UPDATE audit_log SET {sets}prev_hash = '{prev}', hash = '{new_hash}' WHERE seq = {entry.seq}"
        )
        prev = new_hash
    return statements


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def tenant(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fresh_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[TenantLog]:
    """A tenant (own tenant file, own database) whose log was written and checkpointed the normal way."""
    monkeypatch.setenv("KLIKKFLOW_AUDIT_KEY", "writer-key-for-tests-" + "w" * 32)
    tenants_dir = tmp_path / "tenants"
    tenants_dir.mkdir()
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tenants_dir))
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_database("klikkflow_kfa"))
            tenant_id = "kfa-" + url.rsplit("_", 1)[1]  # database klikkflow_kfa_<hex> is that tenant's
            engine = create_storage_engine(url)
            create_audit_schema(engine)  # the migration: production processes create no tables
            engine.dispose()
            monkeypatch.setenv("KLIKKFLOW_ENV", "production")
            monkeypatch.setenv("KLIKKFLOW_PG_USER", "postgres")
            monkeypatch.setenv("KLIKKFLOW_PG_HOST", "127.0.0.1")
        else:
            tenant_id = f"kfa-{uuid.uuid4().hex[:10]}"
        (tenants_dir / f"{tenant_id}.yaml").write_text(f"id: {tenant_id}\nname: Rewrite test\n")
        log = audit_log_for_tenant(tenant_id)
        stack.callback(log.engine.dispose)
        sqlite_path = Path(log.engine.url.database) if log.engine.dialect.name == "sqlite" else None
        subject = TenantLog(tenant_id, log, sqlite_path)
        for index in range(12):
            log.append(
                actor=f"user{index}",
                action="graphql.mutation",
                target="launchRun",
                outcome="allowed",
                details={"n": index},
            )
            if index % 4 == 3:
                code, output = subject.checkpoint()
                assert code == 0, output
        yield subject


def test_clean_log_verifies(tenant: TenantLog) -> None:
    code, output = tenant.verify()
    assert code == 0, output
    assert "ok 12 entries, 3 witnessed checkpoints, 0 entries since the last one" in output


def test_a_edited_entry_rechained_without_writer_key_is_caught_by_its_hmac(tenant: TenantLog) -> None:
    tenant.attack(*_rechain(tenant.entries(), ATTACKER_KEY, 3, {3: {"actor": "mallory"}}))
    code, output = tenant.verify()
    assert code == 1
    assert "edited at entry 3: its HMAC does not match" in output
    assert "rewritten at entry 4: entry 4 differs from witnessed checkpoint 1" in output
    assert "first bad entry 3 (edited)" in output


def test_a_edited_entry_rechained_with_stolen_writer_key_is_caught_by_the_witness(tenant: TenantLog) -> None:
    tenant.attack(*_rechain(tenant.entries(), tenant.log.key, 3, {3: {"actor": "mallory"}}))
    code, output = tenant.verify()
    assert code == 1
    assert "edited" not in output  # the chain itself is consistent now
    assert "rewritten at entry 4: entry 4 differs from witnessed checkpoint 1" in output
    assert "first bad entry 4 (rewritten)" in output
    # and the checkpointer refuses to sign the rewritten head
    code, output = tenant.checkpoint()
    assert code == 1
    assert "entry 12 is missing or no longer matches witnessed checkpoint 3; not signing" in output


def test_b_deleted_row_with_renumbering_is_caught(tenant: TenantLog) -> None:
    tenant.attack("DELETE FROM audit_log WHERE seq = 5", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 5")
    code, output = tenant.verify()
    assert code == 1
    assert "deleted at entry 5: the entry it was chained to is missing" in output
    assert "rewritten at entry 8: entry 8 differs from witnessed checkpoint 2" in output
    assert "truncated at entry 12: witnessed checkpoint 3 covers entry 12 but the log ends at 11" in output
    assert "first bad entry 5 (deleted)" in output


def test_b_deleted_row_renumbered_and_rechained_with_stolen_writer_key_is_caught(tenant: TenantLog) -> None:
    tenant.attack("DELETE FROM audit_log WHERE seq = 5", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 5")
    tenant.attack(*_rechain(tenant.entries(), tenant.log.key, 5, {}))
    code, output = tenant.verify()
    assert code == 1
    assert "deleted" not in output and "edited" not in output
    assert "first bad entry 8 (rewritten)" in output
    assert "truncated at entry 12" in output


def test_c_appended_forged_entry_is_caught_by_its_hmac(tenant: TenantLog) -> None:
    head = tenant.entries()[-1]
    forged = {**head.hashed_fields(), "seq": 13, "actor": "mallory", "prev_hash": head.hash}
    forged["hash"] = entry_hash(ATTACKER_KEY, head.hash, forged)
    columns = ", ".join(forged)
    values = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in forged.values())
    tenant.attack(f"INSERT INTO audit_log ({columns}) VALUES ({values})")
    code, output = tenant.verify()
    assert code == 1
    assert (
        "edited at entry 13: its HMAC does not match (changed, or not written with the writer key)" in output
    )
    assert "first bad entry 13 (edited)" in output


def test_d_deleted_tail_with_its_checkpoints_is_caught_by_the_witness(tenant: TenantLog) -> None:
    tenant.attack("DELETE FROM audit_log WHERE seq > 8", "DELETE FROM audit_signed_checkpoints WHERE seq > 8")
    code, output = tenant.verify()
    assert code == 1
    assert "truncated at entry 9: witnessed checkpoint 3 covers entry 12 but the log ends at 8" in output
    assert "missing_checkpoint at entry 12: 1 witnessed checkpoints are missing or changed" in output
    assert "first bad entry 9 (truncated)" in output


def test_e_deleted_everything_is_caught_by_the_witness(tenant: TenantLog) -> None:
    tenant.attack("DELETE FROM audit_log", "DELETE FROM audit_signed_checkpoints")
    code, output = tenant.verify()
    assert code == 1
    assert "truncated at entry 1: witnessed checkpoint 3 covers entry 12 but the log ends at 0" in output
    assert "missing_checkpoint at entry 4: 3 witnessed checkpoints are missing" in output
    assert "first bad entry 1 (truncated)" in output


def test_f_deleted_checkpoints_only_are_caught_by_the_witness(tenant: TenantLog) -> None:
    tenant.attack("DELETE FROM audit_signed_checkpoints")
    code, output = tenant.verify()
    assert code == 1
    assert (
        "missing_checkpoint at entry 4: 3 witnessed checkpoints are missing or changed in the database"
        in output
    )
    assert "first bad entry 4 (missing_checkpoint)" in output


def test_more_entries_than_allowed_without_a_checkpoint_fail(
    tenant: TenantLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_CHECKPOINT_ENTRIES", "3")
    for index in range(4):
        tenant.log.append(actor="ada", action="signin", outcome="success", details={"i": index})
    code, output = tenant.verify()
    assert code == 1
    assert (
        "unchecked at entry 16: 4 entries after the last checkpoint (entry 12) exceed the limit of 3"
        in output
    )
    assert tenant.checkpoint()[0] == 0
    assert tenant.verify()[0] == 0


def test_checkpointer_stopped_longer_than_allowed_fails_even_without_new_entries(
    tenant: TenantLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLIKKFLOW_AUDIT_CHECKPOINT_SECONDS", "1")
    time.sleep(1.2)
    code, output = tenant.verify()
    assert code == 1
    assert "stale at entry 12: the last witnessed checkpoint (3," in output
    assert "the checkpointer is not running" in output
    assert tenant.checkpoint()[0] == 0  # an empty period gets its checkpoint too
    assert [c.seq for c in FileWitness(tenant.id).checkpoints()] == [4, 8, 12, 12]
    monkeypatch.setenv("KLIKKFLOW_AUDIT_CHECKPOINT_SECONDS", "60")  # a slow machine may take over 1 s
    assert tenant.verify()[0] == 0


def test_gap_in_the_witness_is_caught(tenant: TenantLog) -> None:
    witness = FileWitness(tenant.id)
    lines = witness.path.read_text().splitlines()
    witness.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    code, output = tenant.verify()
    assert code == 1
    assert "witness_gap at entry 12: witnessed checkpoint 3 does not follow checkpoint 1" in output


def test_checkpointer_loop_keeps_up_with_writers(tenant: TenantLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``klikkflow audit checkpoint --loop`` process (what ``klikkflow dev`` starts) covers new
    entries within N/2 of them, so verify stays green while writers append."""
    monkeypatch.setenv("KLIKKFLOW_AUDIT_CHECKPOINT_ENTRIES", "4")
    argv = [sys.executable, "-m", "klikkflow_pipelines.cli", "audit", "checkpoint", "--loop"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    checkpointer = subprocess.Popen(
        [*argv, "--interval", "0.2", "--tenant", tenant.id], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        for index in range(6):
            tenant.log.append(actor="ada", action="signin", outcome="success", details={"i": index})
        deadline = time.monotonic() + 60
        while FileWitness(tenant.id).checkpoints()[-1].seq < 18:
            assert checkpointer.poll() is None, "the checkpointer exited"
            assert time.monotonic() < deadline, "the checkpointer did not cover the new entries"
            time.sleep(0.1)
    finally:
        checkpointer.terminate()
        _, output = checkpointer.communicate(timeout=30)
    last = FileWitness(tenant.id).checkpoints()[-1]
    assert f"{tenant.id}: checkpoint {last.number} at entry 18" in " ".join(output.split())
    code, output = tenant.verify()
    assert code == 0, output


def test_checkpointer_killed_mid_write_leaves_a_witness_the_next_run_completes(tenant: TenantLog) -> None:
    witness = FileWitness(tenant.id)
    with witness.path.open("a") as handle:
        handle.write('{"tenant": "' + tenant.id + '", "numb')  # the torn line of a killed checkpointer
    assert len(witness.checkpoints()) == 3
    assert tenant.checkpoint()[0] == 0
    assert [c.number for c in witness.checkpoints()] == [1, 2, 3, 4]
    code, output = tenant.verify()
    assert code == 0, output


CONCURRENT_CHECKPOINTER = """
from compliance.audit import audit_log_for_tenant
from compliance.audit.checkpointer import checkpoint_log
from compliance.audit.keys import load_signing_key
key, log = load_signing_key(), audit_log_for_tenant({tenant!r})
wait_for_release()
for index in range(5):
    log.append(actor="ada", action="signin", outcome="success", details={{"i": index}})
    print(checkpoint_log(log, key).number, flush=True)
"""


def test_concurrent_checkpointers_and_writers_keep_one_checkpoint_chain(
    tenant: TenantLog, run_together: Callable[..., list[tuple[int, str, str]]]
) -> None:
    results = run_together(CONCURRENT_CHECKPOINTER.format(tenant=tenant.id), 3)
    assert [code for code, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    numbers = sorted(int(n) for _, out, _ in results for n in out.split())
    assert numbers == list(range(4, 19))
    witnessed = FileWitness(tenant.id).checkpoints()
    assert [c.number for c in witnessed] == list(range(1, 19))
    code, output = tenant.verify()
    assert code == 0, output
    assert "ok 27 entries, 18 witnessed checkpoints" in output
