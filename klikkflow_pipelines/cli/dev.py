"""``klikkflow dev``: every tenant's Dagster daemon and UI on its own instance, supervised."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from klikkflow_pipelines.cli.known_tenants import require_known_tenant
from klikkflow_pipelines.paths import PROJECT_ROOT


def dev(
    tenant: list[str] | None = typer.Option(None, help="run only these tenants (repeatable); default all"),
    host: str = typer.Option("127.0.0.1", help="address the UIs listen on"),
    port: int = typer.Option(3001, help="port of the first tenant's UI; the next tenants count up"),
    gateway: bool = typer.Option(
        False, help="serve every tenant's UI behind the access gateway on --port (sign-in, RBAC, audit)"
    ),
) -> None:
    """Run one Dagster daemon per tenant and the UIs (restarted when they die), printing each URL."""
    from klikkflow_pipelines.tenancy.supervisor import ProcessSpec, run_dev

    for name in tenant or []:
        require_known_tenant(name)
    console = Console()
    console.print("[bold]KlikkFlow dev[/bold] — Ctrl-C stops every tenant's processes")
    extra = []
    if gateway:
        argv = [sys.executable, "-m", "klikkflow_pipelines.cli", "serve", "--host", host, "--port", str(port)]
        extra.append(ProcessSpec("gateway", argv, {}, PROJECT_ROOT))
        console.print(f"[gateway] tenants' UIs on http://{host}:{port}/t/<tenant>/")
    run_dev(tenant or None, host=host, base_port=port, webservers=not gateway, extra=extra)
