"""`klikkflow platform init|render`: the platform's Postgres role, database and secrets; its Kubernetes files.

`init` makes the gateway's Postgres role and database, and its secret env file. It runs on the
admin connection (``KLIKKFLOW_PG_ADMIN_URL``, else ``KLIKKFLOW_PG_URL`` or ``--pg-url``), never from
a running process. Re-running keeps the role, database and secrets; ``--rotate-password`` sets a
new gateway password. `render` writes the platform namespace's manifests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # imported when a command runs: `klikkflow --help` stays fast
    from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
    from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
    from klikkflow_pipelines.tenancy.secret_files import PodDatabase, SecretFile

platform_app = typer.Typer(
    help="The platform: gateway database and secrets, and its Kubernetes files.", no_args_is_help=True
)
_out = Console()
_err = Console(stderr=True)

PG_URL_HELP = (
    "postgresql://user@host:port/, without a password (from PGPASSWORD or ~/.pgpass, or "
    "put the whole URL in KLIKKFLOW_PG_ADMIN_URL); default: KLIKKFLOW_PG_ADMIN_URL, KLIKKFLOW_PG_URL, "
    "KLIKKFLOW_PG_*."
)
POD_HOST_HELP = "Postgres host the pods use, written into the secrets (default: KLIKKFLOW_K8S_PG_HOST)."
POD_PORT_HELP = "Postgres port the pods use (default: KLIKKFLOW_K8S_PG_PORT or 5432)."


def refuse_password_in_url(url: str | None, option: str) -> None:
    """Stop when a URL given as an argument carries a password (``ps`` and shell history would show it)."""
    from urllib.parse import urlsplit

    if url and urlsplit(url).password:
        raise typer.BadParameter(
            "the URL carries a password, which other users see in `ps` and which stays in shell "
            "history. Fix: leave it out (postgresql://user@host:port/) and export PGPASSWORD or keep it in "
            "~/.pgpass, or export KLIKKFLOW_PG_ADMIN_URL with the full URL instead of passing the option",
            param_hint=option,
        )


def admin_server(pg_url: str | None) -> PostgresServer:
    """The admin connection from ``--pg-url`` (no password in it) or the environment."""
    from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

    refuse_password_in_url(pg_url, "--pg-url")
    try:
        return PostgresServer.from_url(pg_url) if pg_url else PostgresServer.from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--pg-url") from None


def pod_database(host: str | None, port: int | None, settings: DeploySettings) -> PodDatabase:
    """Where pods reach Postgres: the options, else the deploy settings."""
    from klikkflow_pipelines.tenancy.secret_files import PodDatabase

    return PodDatabase(host or settings.postgres_host, port or settings.postgres_port)


def print_secret_files(console: Console, files: list[SecretFile]) -> None:
    """Each file's path, the kubectl command that makes its Secret, and the keys to fill in (no values)."""
    from klikkflow_pipelines.tenancy.secret_files import OPTIONAL_KEYS

    for secret in files:
        console.print(f"[bold]Secret {secret.secret}[/] (namespace {secret.namespace}): {secret.path}")
        console.print(f"  {secret.kubectl()}", soft_wrap=True)
        required = [key for key in secret.fill_in if key not in OPTIONAL_KEYS]
        optional = [f"{key} ({OPTIONAL_KEYS[key]})" for key in secret.fill_in if key in OPTIONAL_KEYS]
        if required:
            console.print(f"  [yellow]fill in:[/] {', '.join(required)}", soft_wrap=True)
        if optional:
            console.print(f"  may stay empty: {', '.join(optional)}", soft_wrap=True)


def report_provisioning(actions: list[str], warnings: list[str], secrets: list[SecretFile]) -> None:
    """Print what provisioning did, its warnings, and the secret files to turn into Secrets."""
    for action in actions:
        _out.print(f"[green]✓[/] {escape(action)}", soft_wrap=True)
    for warning in warnings:
        _err.print(f"[yellow]warning[/] {escape(warning)}", soft_wrap=True)
    print_secret_files(_out, secrets)


@platform_app.command("init")
def init(
    pg_url: str | None = typer.Option(None, help=PG_URL_HELP),
    rotate_password: bool = typer.Option(False, help="Set a new password for the gateway role."),
    pod_pg_host: str | None = typer.Option(None, help=POD_HOST_HELP),
    pod_pg_port: int | None = typer.Option(None, help=POD_PORT_HELP),
) -> None:
    """Create (or keep) role kf_gateway, database kf_platform and its tables, and the gateway's secrets."""
    import psycopg2
    from sqlalchemy.exc import DBAPIError

    from klikkflow_pipelines.tenancy.db_roles import RoleConflict
    from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
    from klikkflow_pipelines.tenancy.tenant_database import init_platform

    settings = DeploySettings.from_env()
    try:
        result = init_platform(
            server=admin_server(pg_url),
            rotate_password=rotate_password,
            settings=settings,
            pod_database=pod_database(pod_pg_host, pod_pg_port, settings),
        )
    except (psycopg2.Error, DBAPIError, OSError, RoleConflict) as exc:
        _err.print(f"[bold red]error[/] platform init failed: {escape(str(exc))}")
        raise typer.Exit(1) from None
    report_provisioning(result.actions, result.warnings, result.secrets)


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
        _err.print(f"[bold red]error[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    path, broken = render_platform_files(tenants_dir, settings=settings)
    _out.print(f"[green]✓[/] wrote {path}")
    if broken:
        _err.print(
            f"[yellow]warning[/] left out broken tenant files: {', '.join(broken)} "
            "(`klikkflow tenant list` shows what to fix)"
        )
        raise typer.Exit(1)
