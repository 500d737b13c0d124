"""``klikkflow dlq``: list, show, replay and purge a tenant's dead-lettered events.

Replay records the event again in the outbox, linked to the failed run; the
tenant's outbox sensor then launches the new run, tagged
``klikkflow/replay_of_run=<failed run id>``. A drop file rejected by validation is replayed by
putting it back into its inbox (fix it in ``rejected/`` first).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from klikkflow_pipelines.cli.known_tenants import require_known_tenant

if TYPE_CHECKING:  # imported when a command runs: `klikkflow --help` stays fast
    from rich.console import Console

    from klikkflow_pipelines.events.dead_letters import DeadLetter, DeadLetters
    from klikkflow_pipelines.events.outbox import Outbox

dlq_app = typer.Typer(help="Dead-lettered events: list, show, replay, purge.", no_args_is_help=True)


def _console() -> Console:
    from rich.console import Console

    return Console()  # created per command so the terminal width (COLUMNS) is read when printing


TenantOption = typer.Option(
    None, "--tenant", "-t", help="Tenant id (default: $KLIKKFLOW_TENANT or 'default').", show_default=False
)
StoreOption = typer.Option(
    None,
    "--store-url",
    help="SQLAlchemy URL of the tenant's storage (default: the tenant's own).",
    show_default=False,
)


def _store(
    tenant: str | None, store_url: str | None, *, nothing: str = "no dead letters", code: int = 0
) -> tuple[DeadLetters, Outbox]:
    """The tenant's dead letters and outbox; says ``nothing`` and exits ``code`` (creating nothing)
    when the store (the tenant's own, or the SQLite file of ``--store-url``) does not exist."""
    from klikkflow_pipelines.cli.local_state import exit_if_no_store
    from klikkflow_pipelines.events.dead_letters import DeadLetters
    from klikkflow_pipelines.events.outbox import Outbox
    from klikkflow_pipelines.tenancy.storage import create_storage_engine, tenant_storage_url

    tenant = require_known_tenant(tenant or os.environ.get("KLIKKFLOW_TENANT", "default"))
    exit_if_no_store(tenant, nothing, store_url=store_url, code=code)
    engine = create_storage_engine(store_url or tenant_storage_url(tenant))
    return DeadLetters(engine), Outbox(engine)


def _when(timestamp: float | None) -> str:
    return "" if timestamp is None else datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _entry_or_exit(letters: DeadLetters, entry_id: int) -> DeadLetter:
    entry = letters.get(entry_id)
    if entry is None:
        _console().print(
            f"[red]No dead letter {entry_id}.[/red] Run `klikkflow dlq list --all` to see the ids."
        )
        raise typer.Exit(code=1)
    return entry


@dlq_app.command("list")
def list_entries(
    tenant: str | None = TenantOption,
    store_url: str | None = StoreOption,
    workflow: str | None = typer.Option(None, "--workflow", "-w", help="Only this workflow."),
    show_all: bool = typer.Option(False, "--all", help="Include entries that were already replayed."),
) -> None:
    """List dead-lettered events (not yet replayed, unless --all)."""
    from rich.markup import escape
    from rich.table import Table

    from klikkflow_pipelines.cli.narrow import print_table_or_blocks

    console = _console()
    letters, _ = _store(tenant, store_url)
    entries = letters.list(workflow=workflow, include_replayed=show_all)
    columns = (
        "id",
        "workflow",
        "event",
        "failed run",
        "attempts",
        "dead-lettered (UTC)",
        "replayed as",
        "reason",
    )
    rows = [
        (
            str(e.id),
            e.workflow,
            e.event_id,
            e.failed_run_id,
            str(e.attempts),
            _when(e.created_at),
            e.replayed_event_id or "",
            e.reason[:80],
        )
        for e in entries
    ]
    table = Table(*columns)
    blocks = []
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
        blocks.append((f"[bold]{row[0]}[/] {escape(row[1])}", list(zip(columns[2:], row[2:], strict=True))))
    print_table_or_blocks(console, table, blocks)  # narrow: one block per entry, ids and run ids whole
    console.print(f"{len(entries)} dead letter(s)")


@dlq_app.command("show")
def show(entry_id: int, tenant: str | None = TenantOption, store_url: str | None = StoreOption) -> None:
    """Show one dead letter with its payload and failure reason."""
    console = _console()
    letters, _ = _store(tenant, store_url)
    entry = _entry_or_exit(letters, entry_id)
    console.print_json(
        json.dumps(
            {
                "id": entry.id,
                "tenant": entry.tenant,
                "workflow": entry.workflow,
                "event_id": entry.event_id,
                "failed_run_id": entry.failed_run_id,
                "attempts": entry.attempts,
                "dead_lettered_at": _when(entry.created_at),
                "reason": entry.reason,
                "replayed_event_id": entry.replayed_event_id,
                "replayed_at": _when(entry.replayed_at),
                "payload": entry.payload,
            }
        )
    )


@dlq_app.command("replay")
def replay(
    entry_ids: list[int] = typer.Argument(..., help="Dead-letter ids to replay."),
    tenant: str | None = TenantOption,
    store_url: str | None = StoreOption,
) -> None:
    """Replay dead letters: each becomes a new event whose run is linked to the failed one
    (a rejected drop file goes back into its inbox)."""
    from rich.markup import escape

    console = _console()
    ids = ", ".join(map(str, entry_ids))
    letters, outbox = _store(tenant, store_url, nothing=f"no dead letters, nothing replayed ({ids})", code=1)
    for entry_id in entry_ids:
        entry = _entry_or_exit(letters, entry_id)
        if entry.is_rejected_drop:
            try:
                letters.replay(entry_id, outbox)
            except OSError as exc:
                console.print(f"[red]Cannot replay {entry_id}:[/red] {escape(str(exc))}")
                raise typer.Exit(code=1) from None
            console.print(
                f"replayed {entry_id}: {escape(entry.payload['drop_file'])} is back in "
                f"{escape(entry.payload['inbox'])}; the inbox's sensor runs it"
            )
            continue
        event_id = letters.replay(entry_id, outbox)
        console.print(f"replayed {entry_id} as event {event_id} (replay_of_run={entry.failed_run_id})")


@dlq_app.command("purge")
def purge(
    entry_ids: list[int] = typer.Argument(None, help="Dead-letter ids to delete."),
    tenant: str | None = TenantOption,
    store_url: str | None = StoreOption,
    replayed: bool = typer.Option(False, "--replayed", help="Delete every entry that was replayed."),
    purge_all: bool = typer.Option(False, "--all", help="Delete every entry (needs --yes)."),
    yes: bool = typer.Option(False, "--yes", help="Confirm --all."),
) -> None:
    """Delete dead letters: the given ids, all replayed ones, or (with --all --yes) every one."""
    console = _console()
    if not entry_ids and not replayed and not purge_all:
        console.print("[red]Nothing to purge.[/red] Give ids, --replayed, or --all --yes.")
        raise typer.Exit(code=2)
    if purge_all and not yes:
        console.print("[red]--all deletes every dead letter;[/red] add --yes to confirm.")
        raise typer.Exit(code=2)
    letters, _ = _store(tenant, store_url, nothing="no dead letters, purged 0")
    deleted = letters.purge(entry_ids=list(entry_ids) if entry_ids else None, replayed_only=replayed)
    console.print(f"purged {deleted} dead letter(s)")
