"""`klikkflow platform`: the platform namespace (gateway, audit checkpointer) on Kubernetes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

platform_app = typer.Typer(
    help="The platform namespace: gateway and audit checkpointer.", no_args_is_help=True
)
_out = Console()
_err = Console(stderr=True)


@platform_app.command("render")
def render(
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """Render deploy/k8s/platform/manifests.yaml: namespace, gateway (Deployment, Service, TLS Ingress,
    per-tenant workspaces), audit checkpointer and the platform's NetworkPolicies, for every tenant.

    Settings come from ``KLIKKFLOW_*`` variables (see ``DeploySettings.from_env``); `klikkflow tenant
    create` and `delete` render the same file.
    """
    from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
    from klikkflow_pipelines.tenancy.provisioning import render_platform_files

    try:
        settings = DeploySettings.from_env()
    except ValueError as exc:
        _err.print(f"[bold red]error[/] {exc}")
        raise typer.Exit(2) from None
    path, broken = render_platform_files(tenants_dir, settings=settings)
    _out.print(f"[green]✓[/] wrote {path}")
    if broken:
        _err.print(
            f"[yellow]warning[/] left out broken tenant files: {', '.join(broken)} "
            "(`klikkflow tenant list` shows what to fix)"
        )
        raise typer.Exit(1)
