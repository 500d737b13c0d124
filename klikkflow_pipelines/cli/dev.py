"""``klikkflow dev``: every tenant's Dagster daemon and UI on its own instance, supervised."""

from __future__ import annotations

import typer
from rich.console import Console


def dev(
    tenant: list[str] | None = typer.Option(None, help="run only these tenants (repeatable); default all"),
    host: str = typer.Option("127.0.0.1", help="address the UIs listen on"),
    port: int = typer.Option(3001, help="port of the first tenant's UI; the next tenants count up"),
) -> None:
    """Run one Dagster daemon and UI per tenant (restarted when they die), printing each UI's URL."""
    from klikkflow_pipelines.tenancy.supervisor import run_dev

    Console().print("[bold]KlikkFlow dev[/bold] — Ctrl-C stops every tenant's processes")
    run_dev(tenant or None, host=host, base_port=port)
