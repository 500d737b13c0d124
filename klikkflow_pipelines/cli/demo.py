"""``klikkflow demo``: materialize the sample workflows on the embedded instance."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from klikkflow_pipelines.cli.known_tenants import require_known_tenant


def demo(tenant: str = typer.Option("default", help="tenant to run the demo for")) -> None:
    """Run the sample workflows on the tenant's embedded instance and print a summary."""
    require_known_tenant(tenant)  # before the import below, which builds definitions
    from klikkflow_pipelines.demo import demo_warehouse, run_demo
    from klikkflow_pipelines.tenancy.config import load_tenant
    from klikkflow_pipelines.tenancy.instance import tenant_instance

    console = Console()
    config = load_tenant(tenant)
    started = time.perf_counter()
    with (
        tenant_instance(config) as instance,
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress,
    ):
        task = progress.add_task("starting", total=None)
        summaries = run_demo(
            config, instance, on_start=lambda job: progress.update(task, description=f"running {job}")
        )
        progress.update(task, description="done")
    table = Table(
        "job",
        "partition",
        "status",
        "assets",
        "rows",
        "checks passed",
        "checks failed",
        "seconds",
        title=f"KlikkFlow demo — tenant {config.id}",
    )
    for s in summaries:
        status = "[green]success[/green]" if s.success else "[red]failed[/red]"
        table.add_row(
            s.job,
            s.partition or "",
            status,
            str(s.assets),
            f"{s.rows:,}",
            str(s.checks_passed),
            str(s.checks_failed),
            f"{s.seconds:.1f}",
        )
    console.print(table)
    console.print(
        f"total {time.perf_counter() - started:.1f} s · warehouse {demo_warehouse(config)} · "
        "open the UI with [bold]klikkflow dev[/bold]"
    )
    if not all(s.success for s in summaries):
        raise typer.Exit(code=1)
