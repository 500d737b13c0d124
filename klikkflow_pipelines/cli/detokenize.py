"""``klikkflow detokenize``: tokens back to values through the gateway's audited API (admins only).

The CLI holds no key: it sends the tokens to ``POST /t/<tenant>/api/detokenize``
with an API token (role ``admin``) from ``KLIKKFLOW_API_TOKEN`` - never from the
command line, where other users and shell history would see it. The gateway
decides, audits, and only then decrypts. ``klikkflow token-public-key`` prints a
tenant's public key for ``KLIKKFLOW_TOKEN_PUBLIC_KEY`` (platform operators).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import httpx

API_TOKEN_ENV = "KLIKKFLOW_API_TOKEN"
GATEWAY_ENV = "KLIKKFLOW_GATEWAY_URL"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"klikkflow detokenize: {message}", err=True)
    return typer.Exit(code)


def _read_tokens(token_file: Path | None, tokens: list[str]) -> list[str]:
    if token_file is not None and tokens:
        raise _fail("give tokens as arguments or with --token-file, not both")
    if token_file is None:
        return tokens
    try:
        text = sys.stdin.read() if str(token_file) == "-" else token_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{token_file}: cannot be read ({exc.strerror}). Fix: check the path.") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _server_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["errors"][0]["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return response.text[:300]


def detokenize(
    tokens: list[str] = typer.Argument(None, help="tok2_ tokens (or use --token-file)."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant id the tokens belong to."),
    gateway: str = typer.Option(..., "--gateway", envvar=GATEWAY_ENV, help="Gateway URL."),
    reason: str = typer.Option(..., "--reason", help="Why the values are needed (audited)."),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="File with one token per line ('-' for standard input)."
    ),
    asset: str | None = typer.Option(None, "--asset", help="Asset the tokens come from (audited)."),
    column: str | None = typer.Option(None, "--column", help="Column the tokens come from (audited)."),
) -> None:
    """Print the original values of tokens, one per line, via the gateway (needs an admin API token)."""
    import httpx

    api_token = os.environ.get(API_TOKEN_ENV, "").strip()
    if not api_token:
        raise _fail(
            f"{API_TOKEN_ENV} is not set. Fix: create an API token with role admin for {tenant} "
            f"on the gateway's /account/tokens page and export {API_TOKEN_ENV}=kft_..."
        )
    values = _read_tokens(token_file, tokens or [])
    if not values:
        raise _fail("no tokens given. Fix: pass tokens as arguments or --token-file FILE")
    body: dict[str, object] = {"tokens": values, "reason": reason}
    body.update({k: v for k, v in (("asset", asset), ("column", column)) if v is not None})
    url = f"{gateway.rstrip('/')}/t/{tenant}/api/detokenize"
    try:
        response = httpx.post(url, json=body, headers={"authorization": f"Bearer {api_token}"}, timeout=60)
    except httpx.HTTPError as exc:
        raise _fail(f"{url}: the gateway cannot be reached ({exc}). Fix: check --gateway.") from None
    hints = {
        400: "Fix: give a non-empty --reason.",
        401: f"the gateway does not accept {API_TOKEN_ENV} (unknown, expired or revoked, or its creator "
        "lost the role). Fix: create a new admin API token.",
        403: f"Fix: use an API token of an admin of {tenant} (a token's role is at most its creator's).",
        413: "Fix: send fewer tokens per call (split the token file).",
        422: f"Fix: send only tokens made for tenant {tenant}.",
    }
    if response.status_code != 200:
        message = _server_message(response)
        hint = hints.get(response.status_code, "")
        raise _fail(f"HTTP {response.status_code}: {message}. {hint}".strip(), code=1)
    for value in response.json()["values"]:
        typer.echo("" if value is None else value)


def token_public_key(tenant: str = typer.Argument(..., help="Tenant id.")) -> None:
    """Print a tenant's detokenize public key (for KLIKKFLOW_TOKEN_PUBLIC_KEY in its run environment).

    Run where the gateway's private keys are (it creates the key pair on a local install).
    """
    from compliance.crypto import KeyMaterialError
    from compliance.token_keys import load_detokenize_key, public_key_hex
    from klikkflow_pipelines.cli.known_tenants import require_known_tenant

    require_known_tenant(tenant)  # before a key pair is created for a mistyped id
    try:
        typer.echo(public_key_hex(load_detokenize_key(tenant)))
    except KeyMaterialError as exc:
        raise _fail(str(exc)) from None
