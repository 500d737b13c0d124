"""``klikkflow dev``: the Dagster UI and daemon on the project's dagster.yaml and workspace.yaml."""

from __future__ import annotations

import os
import subprocess
import sys

import typer
from rich.console import Console

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.instance import write_instance_config


def dev(
    tenant: str = typer.Option("default", help="tenant whose instance and code location to run"),
    host: str = typer.Option("127.0.0.1", help="address the UI listens on"),
    port: int = typer.Option(3000, help="port the UI listens on"),
) -> None:
    """Run the Dagster UI and daemon for a tenant (its own instance under KLIKKFLOW_HOME)."""
    console = Console()
    config = load_tenant(tenant)
    home = write_instance_config(config)
    env = {**os.environ, "DAGSTER_HOME": str(home), "KLIKKFLOW_TENANT": config.id}
    console.print(f"[bold]KlikkFlow[/bold] tenant [cyan]{config.id}[/cyan] — instance {home}")
    console.print(f"Dagster UI: [link]http://{host}:{port}[/link]  (Ctrl-C stops UI and daemon)")
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    raise typer.Exit(subprocess.call(command, env=env, cwd=home))
