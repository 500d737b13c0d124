"""``klikkflow rehearse``: the production shape end to end on this machine."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


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
    console = Console() if sys.stdout.isatty() else Console(width=160)  # a log keeps whole rows
    console.print("[bold]KlikkFlow production rehearsal[/bold] — Ctrl-C stops every process")
    result = run(RehearsalOptions(workdir=workdir, keep=keep, pg_admin_url=pg_admin_url, run_timeout=timeout))
    table = Table("tenant", "trigger", "job", "run id", "status", "seconds", "frames in S3", title="Runs")
    for row in result.runs:
        colour = "green" if row.status == "SUCCESS" else "red"
        seconds = f"{row.seconds:.1f}" if row.seconds is not None else ""
        table.add_row(
            row.tenant, row.trigger, row.job, row.run_id[:8], f"[{colour}]{row.status}[/]", seconds,
            f"{row.frames_found}/{len(row.frames)}",
        )  # fmt: skip
    console.print(table)
    for check in result.checks:
        mark = "[green]✓[/]" if check.ok else "[bold red]✗[/]"
        console.print(
            f"{mark} [bold]{escape(check.name)}[/]: {escape(check.detail)}", soft_wrap=True, highlight=False
        )
    where = f" · kept {result.workdir}" if result.kept else ""
    verdict = "[green]passed[/]" if result.ok else "[bold red]FAILED[/]"
    console.print(f"rehearsal {verdict} in {result.seconds:.0f} s{where}")
    if not result.ok:
        raise typer.Exit(code=1)
