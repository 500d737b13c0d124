"""``klikkflow rehearse``: the production shape end to end on this machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from klikkflow_pipelines.cli.narrow import print_table_or_blocks

if TYPE_CHECKING:
    from klikkflow_pipelines.rehearsal.run import RehearsalResult


def rehearse(
    keep: bool = typer.Option(
        False, "--keep", help="Keep the working directory (and the private cluster's files)."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Working directory (default: a new temporary one)."
    ),
    pg_admin_url: str | None = typer.Option(
        None,
        "--pg-admin-url",
        help="Use this PostgreSQL server (postgresql://admin@host:port/; the password "
        "from PGPASSWORD or ~/.pgpass, never in the option) instead of a private cluster; "
        "it must not have the rehearsal's roles and databases, which are dropped afterwards.",
    ),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for the triggered runs."),
) -> None:
    """Run two tenants in production mode (KLIKKFLOW_ENV=production) on this machine and check them:
    private PostgreSQL with per-tenant roles, an S3-compatible server, Secrets as env files, the
    gateway, daemons, code servers, run workers and the audit checkpointer; runs triggered by
    schedule, webhook, file drop and a launch through the gateway. Exits 1 if a check fails."""
    from klikkflow_pipelines.cli.platform import refuse_password_in_url
    from klikkflow_pipelines.rehearsal.run import RehearsalOptions
    from klikkflow_pipelines.rehearsal.run import rehearse as run

    refuse_password_in_url(pg_admin_url, "--pg-admin-url")
    wide_log = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    console = Console(width=160) if wide_log else Console()  # a log keeps whole rows
    console.print("[bold]KlikkFlow production rehearsal[/bold] — Ctrl-C stops every process")
    result = run(RehearsalOptions(workdir=workdir, keep=keep, pg_admin_url=pg_admin_url, run_timeout=timeout))
    print_result(console, result)
    if not result.ok:
        raise typer.Exit(code=1)


def print_result(console: Console, result: RehearsalResult) -> None:
    """The runs (a table when it fits, else one block per run, run ids whole), the checks, the verdict."""
    table = Table("tenant", "trigger", "job", "run id", "status", "seconds", "frames in S3", title="Runs")
    blocks = []
    for row in result.runs:
        colour = "green" if row.status == "SUCCESS" else "red"
        status = f"[{colour}]{escape(row.status)}[/]"
        seconds = f"{row.seconds:.1f}" if row.seconds is not None else ""
        frames = f"{row.frames_found}/{len(row.frames)}"
        table.add_row(
            escape(row.tenant), escape(row.trigger), escape(row.job), row.run_id, status, seconds, frames
        )
        fields = [("run id", row.run_id), ("seconds", seconds), ("frames in S3", frames)]
        heading = f"[bold]{escape(row.tenant)}[/] {escape(row.trigger)} → {escape(row.job)} {status}"
        blocks.append((heading, fields))
    print_table_or_blocks(console, table, blocks)
    for check in result.checks:
        mark = "[green]✓[/]" if check.ok else "[bold red]✗[/]"
        console.print(f"{mark} [bold]{escape(check.name)}[/]: {escape(check.detail)}", highlight=False)
    where = f" · kept {escape(str(result.workdir))}" if result.kept else ""
    verdict = "[green]passed[/]" if result.ok else "[bold red]FAILED[/]"
    console.print(f"rehearsal {verdict} in {result.seconds:.0f} s{where}")
