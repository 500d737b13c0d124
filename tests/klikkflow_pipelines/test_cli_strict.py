"""The strict CLI: fast help without heavy imports, no implicit files, secrets never as arguments,
escaped Rich markup, and lists readable at 80 columns."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from klikkflow_pipelines.cli import app
from klikkflow_pipelines.paths import PROJECT_ROOT

HEAVY = ("dagster", "polars", "pandas", "sqlalchemy", "presidio_analyzer", "spacy", "great_expectations")
PATTERN = "^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
PASSWORD = "a-long-enough-password-42"
PROBE = """
import json, sys
sys.argv = ["klikkflow", *{argv!r}]
from klikkflow_pipelines.cli import app
try:
    app()
except SystemExit:
    pass
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


def _tree(root: Path) -> dict[str, str]:
    """Files and folders under ``root`` with content digests; SQLite's own journal files
    (``-wal``/``-shm``, made by any reader of a WAL database, gone when it closes) aside."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
        if not p.name.endswith(("-wal", "-shm"))
    }


@pytest.mark.parametrize("argv", [["--help"], ["tenant", "--help"], ["policy", "apply", "--help"]])
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    code = PROBE.format(argv=argv, heavy=HEAVY)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "Usage" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_sample_default_matches_the_classifier() -> None:
    from compliance.classify import DEFAULT_SAMPLE
    from klikkflow_pipelines.cli import compliance

    assert compliance.DEFAULT_SAMPLE == DEFAULT_SAMPLE


@pytest.fixture
def populated(klikkflow_home: Path, tmp_path: Path) -> Path:
    """A home where acme has an audit log (so read commands have something to read)."""
    from compliance.audit import audit_log_for_tenant

    log = audit_log_for_tenant("acme")
    log.append(actor="tester", action="probe", target="t", outcome="success")
    log.engine.dispose()
    (tmp_path / "small.csv").write_text("name,email\nAda,ada@example.com\n")
    return klikkflow_home


READ_COMMANDS = [
    ["audit", "verify", "--tenant", "acme"],
    ["audit", "export", "--tenant", "acme"],
    ["audit", "verify", "--tenant", "globex"],
    ["audit", "export", "--tenant", "platform"],
    ["audit", "verify", "--tenant", "platform"],
    ["dlq", "list", "--tenant", "acme"],
    ["dlq", "show", "1", "--tenant", "globex"],
    ["dlq", "list", "--tenant", "default"],
    ["tenant", "list"],
    ["policy", "check", str(PROJECT_ROOT / "deploy/policies/default.yaml")],
]


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=" ".join)
def test_read_commands_leave_the_home_unchanged(populated: Path, argv: list[str]) -> None:
    before = _tree(populated)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, argv)
    assert result.exit_code in (0, 1), result.output
    assert _tree(populated) == before, f"{' '.join(argv)} changed KLIKKFLOW_HOME"


@pytest.mark.parametrize("argv", READ_COMMANDS[:8], ids=" ".join)
def test_read_commands_do_not_create_a_missing_home(klikkflow_home: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert not klikkflow_home.exists(), f"{' '.join(argv)} created {sorted(_tree(klikkflow_home))}"
    if argv[0] in ("audit", "dlq"):
        assert "does not exist yet; nothing was created" in " ".join(result.output.split())


def test_classify_writes_nothing(klikkflow_home: Path, tmp_path: Path) -> None:
    data = tmp_path / "small.csv"
    data.write_text("name,email\nAda,ada@example.com\n")
    result = CliRunner().invoke(app, ["classify", str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert not klikkflow_home.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.csv"]


@pytest.fixture
def gateway_db(klikkflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "gateway.db"
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_DB_URL", f"sqlite:///{database}")
    return database


def test_add_user_reads_the_password_from_stdin(gateway_db: Path) -> None:
    from klikkflow_pipelines.gateway.accounts import Accounts
    from klikkflow_pipelines.gateway.store import GatewayStore

    result = CliRunner().invoke(
        app, ["gateway", "add-user", "vera", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert Accounts(GatewayStore(f"sqlite:///{gateway_db}")).check_password("vera", PASSWORD).status == "ok"


def test_add_user_has_no_password_argument(gateway_db: Path) -> None:
    result = CliRunner().invoke(app, ["gateway", "add-user", "vera", "--password", PASSWORD])
    assert result.exit_code == 2
    assert "No such option" in result.output and "--password" in result.output
    assert not gateway_db.exists()


def test_add_user_with_empty_stdin_says_how(gateway_db: Path) -> None:
    result = CliRunner().invoke(app, ["gateway", "add-user", "vera", "--password-stdin"], input="")
    assert result.exit_code == 2
    assert "standard input holds no password" in " ".join(result.output.split())


@pytest.mark.parametrize(
    "argv",
    [
        ["tenant", "migrate", "acme", "--pg-url", "postgresql://postgres:hunter2@127.0.0.1:5432/"],
        ["platform", "init", "--pg-url", "postgresql://postgres:hunter2@127.0.0.1:5432/"],
    ],
    ids=" ".join,
)
def test_a_password_in_a_url_argument_is_refused(klikkflow_home: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "carries a password" in message and "PGPASSWORD" in message


def test_markup_in_a_message_prints_as_written(klikkflow_home: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: Bad_Id\nname: x\n")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["tenant", "list", "--tenants-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"String should match pattern '{PATTERN}'" in result.output


def test_tenant_list_at_80_columns_keeps_every_value_whole(klikkflow_home: Path) -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["tenant", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in result.output
    for value in ("acme", "Acme Corporation", "Default organisation", "kf-default", "eu-north-1"):
        assert any(value in line for line in lines), value
