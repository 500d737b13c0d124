"""Audit and dead-letter commands on stores: fast to open (no Dagster), never created by accident."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from klikkflow_pipelines.cli import app
from klikkflow_pipelines.paths import PROJECT_ROOT

HEAVY = ("dagster", "polars", "pandas", "presidio_analyzer", "spacy", "great_expectations")
PROBE = """
import json, sys
sys.argv = ["klikkflow", *{argv!r}]
from klikkflow_pipelines.cli import app
try:
    app()
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, [m for m in {heavy!r} if m in sys.modules]]))
"""


def _message(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def acme_log(klikkflow_home: Path) -> Path:
    """acme's local store with three audit entries."""
    from compliance.audit import audit_log_for_tenant

    log = audit_log_for_tenant("acme")
    for n in range(3):
        log.append(actor="tester", action="probe", target=str(n), outcome="success")
    log.engine.dispose()
    return klikkflow_home / "tenants" / "acme" / "klikkflow.db"


@pytest.mark.parametrize("tenant", ["acme", "platform"])
def test_audit_verify_opens_the_log_without_dagster(
    acme_log: Path, klikkflow_home: Path, tenant: str
) -> None:
    if tenant == "platform":  # the gateway's database, as sign-ins leave it
        from klikkflow_pipelines.gateway.store import GatewayStore, platform_audit_log

        store = GatewayStore(f"sqlite:///{klikkflow_home / 'gateway.db'}")
        platform_audit_log(store).append(actor="vera", action="signin", target="-", outcome="success")
        store.engine.dispose()
    code = PROBE.format(argv=["audit", "verify", "--tenant", tenant], heavy=HEAVY)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    exit_code, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert exit_code in (None, 0), done.stderr
    assert f"ok {3 if tenant == 'acme' else 1} entries" in _message(done.stderr)
    assert heavy == []


def test_audit_verify_still_finds_tampering_on_the_fast_path(acme_log: Path) -> None:
    import sqlite3

    with sqlite3.connect(acme_log) as db:  # the triggers forbid UPDATE: go around them, as an attacker
        db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    result = CliRunner().invoke(app, ["audit", "verify", "--tenant", "acme"])
    assert result.exit_code == 1, result.output
    assert "first bad entry 2" in _message(result.output)


def test_chain_events_without_a_store_creates_none(klikkflow_home: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "chain-events", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "no compliance events, chained 0" in _message(result.output)
    assert not klikkflow_home.exists()


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["dlq", "replay", "3", "7"], 1, "no dead letters, nothing replayed (3, 7)"),
        (["dlq", "purge", "3"], 0, "no dead letters, purged 0"),
        (["dlq", "purge", "--all", "--yes"], 0, "no dead letters, purged 0"),
        (["dlq", "list"], 0, "no dead letters"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_dlq_on_a_missing_store_url_creates_nothing(
    tmp_path: Path, klikkflow_home: Path, argv: list[str], code: int, said: str
) -> None:
    missing = tmp_path / "elsewhere" / "nothing.db"
    (tmp_path / "elsewhere").mkdir()
    result = CliRunner().invoke(app, [*argv, "--tenant", "acme", "--store-url", f"sqlite:///{missing}"])
    assert result.exit_code == code, result.output
    message = _message(result.output)
    assert said in message and f"{missing} does not exist yet; nothing was created" in message
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert not klikkflow_home.exists()


def test_dlq_replay_on_a_missing_tenant_store_exits_1(klikkflow_home: Path) -> None:
    result = CliRunner().invoke(app, ["dlq", "replay", "1", "--tenant", "acme"])
    assert result.exit_code == 1
    assert "nothing replayed (1)" in _message(result.output)
    assert not klikkflow_home.exists()


def test_dlq_with_an_existing_store_url_still_works(tmp_path: Path) -> None:
    from klikkflow_pipelines.events.dead_letters import DeadLetters
    from klikkflow_pipelines.tenancy.storage import create_storage_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    DeadLetters(create_storage_engine(url)).engine.dispose()  # an empty, existing store
    result = CliRunner().invoke(app, ["dlq", "purge", "--replayed", "--tenant", "acme", "--store-url", url])
    assert result.exit_code == 0, result.output
    assert "purged 0 dead letter(s)" in result.output
