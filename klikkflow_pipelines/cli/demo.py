"""``klikkflow demo``: materialize the sample workflows on the embedded instance."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.markup import escape

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
    from klikkflow_pipelines.cli.demo_output import print_summary, show_run
    from klikkflow_pipelines.cli.progress import progress_steps

    with (
        tenant_instance(config) as instance,
        progress_steps(f"demo for tenant {config.id}: loading its workflows", plain=True) as steps,
    ):
        summaries = run_demo(config, instance, on_start=lambda job: show_run(steps, job))
    print_summary(console, config.id, summaries)
    console.print(
        f"total {time.perf_counter() - started:.1f} s · warehouse {escape(demo_warehouse(config))} · "
        "open the UI with [bold]klikkflow dev[/bold]"
    )
    if not all(s.success for s in summaries):
        raise typer.Exit(code=1)
