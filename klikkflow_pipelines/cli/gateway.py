"""`klikkflow gateway`: serve the access gateway and manage local accounts."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

gateway_app = typer.Typer(
    help="The access gateway in front of each tenant's Dagster UI.", no_args_is_help=True
)
_console = Console(stderr=True)


@gateway_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(3000, "--port", "-p", help="TCP port."),
) -> None:
    """Serve the sign-in pages and every tenant's Dagster UI under /t/<tenant>/."""
    from klikkflow_pipelines.gateway.server import serve as run
    from klikkflow_pipelines.gateway.settings import settings_from_env

    try:
        settings = settings_from_env()
    except ValueError as exc:  # a malformed KLIKKFLOW_GATEWAY_* variable: say which, start nothing
        _console.print(f"[red]gateway settings:[/red] {exc}")
        raise typer.Exit(2) from None
    run(host=host, port=port, settings=settings)


@gateway_app.command("add-user")
def add_user(
    username: str = typer.Argument(..., help="Account name; tenant files grant it roles under members."),
    owner: bool = typer.Option(
        False, "--owner", help="Make the account a platform owner (admin everywhere)."
    ),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the password (at least 12 characters) from the first line of standard input "
        "instead of a hidden prompt. There is no --password: arguments show in `ps` and shell history.",
    ),
) -> None:
    """Create a local account (or reset its password); its existing sessions are revoked.

    The password is asked for twice at a hidden prompt, or read with ``--password-stdin``.
    """
    from klikkflow_pipelines.gateway.accounts import Accounts, check_account_name
    from klikkflow_pipelines.gateway.sessions import SessionManager
    from klikkflow_pipelines.gateway.settings import settings_from_env
    from klikkflow_pipelines.gateway.store import GatewayStore

    try:
        check_account_name(username)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="USERNAME") from None
    password = read_password(password_stdin)
    settings = settings_from_env()
    store = GatewayStore(settings.database_url)
    try:
        Accounts(store).create_user(username, password, owner=owner)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="password") from None
    SessionManager(store, settings.secret_key, settings.session_ttl_seconds, 0).revoke_user(username)
    _console.print(f"account [bold]{escape(username)}[/bold] ready{' (platform owner)' if owner else ''}")


def read_password(from_stdin: bool) -> str:
    """The first line of standard input (``from_stdin``), else a hidden prompt asked twice."""
    if not from_stdin:
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise typer.BadParameter(
            "standard input holds no password. Fix: pipe it in, e.g. `printf '%s\\n' \"$PW\" | "
            "klikkflow gateway add-user NAME --password-stdin`",
            param_hint="--password-stdin",
        )
    return password
