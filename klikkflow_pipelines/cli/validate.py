"""``klikkflow validate``: load every definition and config, report file/field/fix problems."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def validate(
    tenants_dir: Path | None = typer.Option(None, help="tenant files folder (default deploy/tenants)"),
) -> None:
    """Load every tenant's definitions and every config; exit 1 with file/field/fix messages on errors."""
    from klikkflow_pipelines.validation import validate_project

    console = Console()
    report = validate_project(tenants_dir)
    table = Table("file", "field", "problem", "fix", title="Problems", show_lines=True)
    for problem in report.problems:
        table.add_row(problem.file, problem.field, problem.message, problem.fix)
    if report.problems:
        console.print(table)
        for problem in report.problems:
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
            console.print(f"tenant {tenant_id} code location {location.location}: {state}")
    console.print(
        f"checked {len(report.checked_files)} files; tenants OK: {', '.join(report.tenants_ok) or 'none'}; "
        f"problems: {len(report.problems)}; warnings: {len(report.warnings)}"
    )
    if report.problems:
        raise typer.Exit(code=1)
