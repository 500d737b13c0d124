"""``klikkflow dlq`` on a tenant's storage: clear errors for bad ids and unsafe purges; purge by id."""

from __future__ import annotations

from typer.testing import CliRunner

from klikkflow_pipelines.cli.dlq import dlq_app
from klikkflow_pipelines.events.dead_letters import DeadLetters
from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.tenancy.storage import create_storage_engine

CLI = CliRunner(env={"COLUMNS": "300"})


def _dead_letter(url: str, n: int) -> int:
    engine = create_storage_engine(url)
    outbox = Outbox(engine)
    recorded = outbox.record(
        tenant="acme", workflow="w", source="webhook", payload={"n": n}, dedupe_key=f"k{n}"
    )
    event = outbox.get(recorded.event_id)
    return DeadLetters(engine).add(event, failed_run_id=f"run-{n}", reason="boom", attempts=3).id


def test_unknown_id_and_unsafe_purges_are_refused_with_a_hint(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _dead_letter(url, 1)
    missing = CLI.invoke(dlq_app, ["show", "99", "--store-url", url])
    assert missing.exit_code == 1 and "dlq list --all" in missing.output
    assert CLI.invoke(dlq_app, ["replay", "99", "--store-url", url]).exit_code == 1
    nothing = CLI.invoke(dlq_app, ["purge", "--store-url", url])
    assert nothing.exit_code == 2 and "--replayed" in nothing.output
    unconfirmed = CLI.invoke(dlq_app, ["purge", "--all", "--store-url", url])
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    assert "1 dead letter(s)" in CLI.invoke(dlq_app, ["list", "--store-url", url]).output


def test_purge_by_id_and_replay_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, second = _dead_letter(url, 1), _dead_letter(url, 2)
    replayed = CLI.invoke(dlq_app, ["replay", str(first), "--store-url", url])
    again = CLI.invoke(dlq_app, ["replay", str(first), "--store-url", url])
    assert replayed.exit_code == again.exit_code == 0
    assert replayed.output.split(" as event ")[1].split()[0] == again.output.split(" as event ")[1].split()[0]
    assert Outbox(create_storage_engine(url)).count() == 3  # two originals + one replay, not two
    assert "purged 1" in CLI.invoke(dlq_app, ["purge", str(second), "--store-url", url]).output
    assert "purged 1" in CLI.invoke(dlq_app, ["purge", "--all", "--yes", "--store-url", url]).output
