"""``klikkflow validate``: load every definition and config, report file/field/fix problems.

Read-only: it runs on a scratch ``KLIKKFLOW_HOME`` and creates no file or folder. Each
tenant is checked on its own (whatever ``KLIKKFLOW_TENANT`` says), and a tenant whose
workflows or code locations do not load is reported as ``FILE: FIELD: problem. Fix: ...``
lines, never a traceback, while the other tenants are still checked.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape


def validate(
    tenants_dir: Path | None = typer.Option(None, help="tenant files folder (default deploy/tenants)"),
) -> None:
    """Load every tenant's definitions and every config; exit 1 with file/field/fix messages on errors."""
    from klikkflow_pipelines.validation import validate_project

    console = Console()
    report = validate_project(tenants_dir)
    for problem in report.problems:  # whole lines (no table cell cuts a path), no Rich markup
        typer.echo(str(problem), err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for tenant_id, locations in report.locations.items():
        for location in locations:
            state = (
                "[red]does not load[/]"
                if location.errors
                else f"[green]ok[/] ({len(location.assets)} assets)"
            )
            console.print(
                f"tenant {escape(tenant_id)} code location {escape(location.location)}: {state}",
                soft_wrap=True,
            )
    console.print(
        f"checked {len(report.checked_files)} files; tenants OK: {', '.join(report.tenants_ok) or 'none'}; "
        f"problems: {len(report.problems)}; warnings: {len(report.warnings)}",
        soft_wrap=True,
        markup=False,
    )
    if report.problems:
        raise typer.Exit(code=1)
