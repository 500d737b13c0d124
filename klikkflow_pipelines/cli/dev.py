"""``klikkflow dev``: every tenant's UI on one port behind the gateway, each tenant's daemon supervised."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from klikkflow_pipelines.cli.known_tenants import require_known_tenant


def dev(
    tenant: list[str] | None = typer.Option(None, help="run only these tenants (repeatable); default all"),
    host: str = typer.Option("127.0.0.1", help="address the gateway listens on"),
    port: int = typer.Option(
        3000, help="the one port of every tenant's UI (the same whatever --tenant says)"
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="also show the sensor daemon's per-tick lines and each HTTP request"
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="listen on a non-loopback --host although the dev account can sign in"
    ),
) -> None:
    """Serve every tenant's Dagster UI on http://HOST:PORT/ (sign-in with the dev account this
    command creates on first start) and run one Dagster daemon per tenant, restarted when it dies."""
    from klikkflow_pipelines.gateway.dev_account import ensure_dev_account
    from klikkflow_pipelines.gateway.settings import settings_from_env
    from klikkflow_pipelines.gateway.store import GatewayStore
    from klikkflow_pipelines.paths import klikkflow_home
    from klikkflow_pipelines.tenancy.dev_server import PortTakenError, bind_port, is_loopback, serve_dev
    from klikkflow_pipelines.tenancy.supervisor import resolve_tenants

    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    for name in tenant or []:
        require_known_tenant(name)
    if not is_loopback(host) and not allow_remote:
        errors.print(
            f"[red]klikkflow dev:[/red] --host {escape(host)} is reachable from other machines, and dev mode "
            "signs in with an auto-created platform-owner account. Fix: leave --host at 127.0.0.1, or add "
            "--allow-remote if you really mean to expose it (use `klikkflow serve` for a shared gateway)."
        )
        raise typer.Exit(2)
    try:
        sock = bind_port(host, port)
    except PortTakenError as exc:
        errors.print(f"[red]klikkflow dev:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    settings = settings_from_env()
    account = ensure_dev_account(GatewayStore(settings.database_url), klikkflow_home())
    url = f"http://{host}:{port}/"
    console.print(f"[bold]KlikkFlow dev[/bold] on {url} — Ctrl-C stops every tenant's processes")
    if account.created:
        console.print(
            f"  sign in as [bold]{account.username}[/bold] with password [bold]{account.password}[/bold]"
        )
        console.print(f"  (shown once; saved to {escape(str(account.path))}, readable only by you)")
    elif account.password is not None:
        console.print(
            f"  sign in as [bold]{account.username}[/bold]; the password is in {escape(str(account.path))}"
        )
    else:
        console.print(f"  sign in as [bold]{account.username}[/bold] with the password you gave it")
    tenants = resolve_tenants(tenant or None, sys.stdout)
    given_up = serve_dev(tenants, sock, verbose=verbose)
    if given_up:
        errors.print(f"[red]klikkflow dev:[/red] gave up on {', '.join(given_up)} (crash loop; see above)")
        raise typer.Exit(1)
