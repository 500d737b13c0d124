"""A mistyped tenant id is refused by every command that takes one, and ``validate`` writes nothing.

``klikkflow audit verify --tenant nosuch`` used to print ``ok 0 entries`` and
exit 0 (so did ``dlq list`` and others) and create ``.klikkflow/tenants/nosuch/``.
Each command taking a tenant must exit 2 naming the known tenants and the fix,
and leave ``KLIKKFLOW_HOME`` exactly as it was. The list of commands is read
from the typer app, so a new command with a tenant option is covered too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from klikkflow_pipelines.cli import app

CLI = CliRunner(env={"COLUMNS": "300"})
KNOWN = "Known tenants: acme, default, globex"

# command path -> arguments that make it act on tenant "nosuch"
INVOCATIONS: dict[str, list[str]] = {
    "audit verify": ["audit", "verify", "--tenant", "nosuch"],
    "audit chain-events": ["audit", "chain-events", "--tenant", "nosuch"],
    "audit checkpoint": ["audit", "checkpoint", "--tenant", "nosuch"],
    "audit export": ["audit", "export", "--tenant", "nosuch"],
    "dlq list": ["dlq", "list", "--tenant", "nosuch"],
    "dlq show": ["dlq", "show", "1", "--tenant", "nosuch"],
    "dlq replay": ["dlq", "replay", "1", "--tenant", "nosuch"],
    "dlq purge": ["dlq", "purge", "1", "--tenant", "nosuch"],
    "demo": ["demo", "--tenant", "nosuch"],
    "dev": ["dev", "--tenant", "nosuch"],
    "tenant show": ["tenant", "show", "nosuch"],
    "tenant migrate": ["tenant", "migrate", "nosuch"],
    "tenant delete": ["tenant", "delete", "nosuch", "--confirm", "nosuch"],
    "tenant init-code": ["tenant", "init-code", "nosuch", "nosuch-code"],
    "token-public-key": ["token-public-key", "nosuch"],
    "policy apply": ["policy", "apply", "policy.yaml", "in.csv", "out.parquet", "--tenant", "nosuch"],
}
NEW_TENANT_COMMANDS = {"tenant create"}  # names a tenant that does not exist yet, by design
# asks the gateway, which knows the tenants (the CLI may run where no tenant files are)
REMOTE_TENANT_COMMANDS = {"detokenize"}


def _commands_taking_a_tenant() -> set[str]:
    """Every command of the app with a ``tenant``/``tenant_id`` parameter."""
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (typer 0.29 ships its own click)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif any(param.name in ("tenant", "tenant_id") for param in command.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def _tree(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with a digest of its content."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        if path.is_file()
        else "dir"
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture
def populated_home(klikkflow_home: Path) -> Path:
    """A KLIKKFLOW_HOME that already holds a tenant's files (so "unchanged" is not trivially true)."""
    (klikkflow_home / "tenants" / "acme").mkdir(parents=True)
    (klikkflow_home / "tenants" / "acme" / "klikkflow.db").write_bytes(b"not touched")
    return klikkflow_home


def test_every_command_taking_a_tenant_is_covered() -> None:
    assert _commands_taking_a_tenant() - NEW_TENANT_COMMANDS - REMOTE_TENANT_COMMANDS == set(INVOCATIONS)


@pytest.mark.parametrize("command", sorted(INVOCATIONS))
def test_typo_in_tenant_id_is_refused_and_creates_nothing(populated_home: Path, command: str) -> None:
    before = _tree(populated_home)
    result = CLI.invoke(app, INVOCATIONS[command])
    assert result.exit_code == 2, f"{command}: exit {result.exit_code}\n{result.output}"
    message = " ".join(result.output.split())
    assert f"unknown tenant 'nosuch'. {KNOWN}" in message, message
    assert "Fix:" in message and "klikkflow tenant create nosuch" in message
    assert "ok 0 entries" not in message
    assert _tree(populated_home) == before, f"{command} changed KLIKKFLOW_HOME"
    assert not (populated_home / "tenants" / "nosuch").exists()


def test_audit_of_the_platform_log_is_still_accepted(populated_home: Path) -> None:
    result = CLI.invoke(app, ["audit", "verify", "--tenant", "platform"])
    assert "unknown tenant" not in result.output


def test_validate_writes_nothing_to_klikkflow_home(populated_home: Path) -> None:
    before = _tree(populated_home)
    result = CLI.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "tenants OK: acme, default, globex" in result.output
    assert _tree(populated_home) == before, "validate wrote to KLIKKFLOW_HOME"
