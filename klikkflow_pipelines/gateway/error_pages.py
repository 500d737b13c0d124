"""Error answers a person understands: an HTML page with a plain explanation and a way back for a
browser navigation, the usual short text or JSON for everything else (API clients, GraphQL,
Bearer tokens, ``/api/`` paths) — exactly what those got before.

A 500 page says what happened and never carries the exception or a stack trace.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import Scope, Send

from klikkflow_pipelines.gateway.asgi_io import send_json, send_simple
from klikkflow_pipelines.gateway.pages import render, signed_in_context
from klikkflow_pipelines.gateway.principal import Principal, bearer_token, header

CSRF_FAILED = "CSRF check failed: the form was old or came from another site; reload the page and try again"
EXPLANATIONS = {
    400: ("Bad request", "The gateway could not use what was sent."),
    401: ("Sign in required", "Sign in, with an account that may open this page, to continue."),
    403: (
        "Not allowed",
        "Your account may not do this here. If you need it, ask an admin of the tenant for a role "
        "that allows it.",
    ),
    404: (
        "Page not found",
        "There is nothing at this address. Check the link, or start again from your tenants.",
    ),
    405: ("Not allowed here", "This page cannot be used that way. Start again from your tenants."),
    429: ("Too many requests", "You sent many requests in a short time, so the gateway is holding you back."),
    500: (
        "Something went wrong",
        "The gateway could not answer this request. The error was logged for the administrators; try "
        "again in a moment and tell them if it keeps happening.",
    ),
    502: ("Service unreachable", "A service the gateway depends on did not answer. Try again in a moment."),
}


def wants_html(scope: Scope) -> bool:
    """True for a browser navigation (it accepts HTML); False for API clients as described above."""
    if scope.get("type") != "http":
        return False
    path: str = scope.get("path", "")
    if path.startswith("/api/") or "/api/" in path or path.rstrip("/").endswith("/graphql"):
        return False
    if bearer_token(scope) is not None:
        return False
    accept = (header(scope, b"accept") or "").lower()
    return "text/html" in accept and "application/json" not in accept


def error_html(
    status: int,
    detail: str = "",
    principal: Principal | None = None,
    retry_after: str | None = None,
    next_path: str | None = None,
) -> str:
    """The HTML error page for ``status``: explanation, ``detail`` and links home (and to sign in)."""
    title, explanation = EXPLANATIONS.get(status, EXPLANATIONS[400 if status < 500 else 500])
    context: dict[str, Any] = signed_in_context(principal) if principal and principal.session else {}
    sign_in = None
    if status == 401 or (principal is None and status == 403):
        sign_in = "/login" + (f"?next={quote(next_path, safe='/')}" if next_path else "")
    return render(
        "error.html",
        title=title,
        status=status,
        explanation=explanation,
        detail=detail if status < 500 else "",
        retry_after=retry_after,
        sign_in=sign_in,
        **context,
    )


def error_response(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    principal: Principal | None = None,
) -> Response:
    """An error of the gateway's own routes: the HTML page for a browser, else ``detail`` as text."""
    if wants_html(request.scope):
        page = error_html(status, detail, principal, (headers or {}).get("retry-after"), request.url.path)
        return HTMLResponse(page, status_code=status, headers=headers)
    return PlainTextResponse(detail, status_code=status, headers=headers)


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    code: str | None = None,
    principal: Principal | None = None,
) -> None:
    """An error of the tenant gate: the HTML page for a browser, else the GraphQL-shaped JSON."""
    if not wants_html(scope):
        await send_json(send, status, message, extra, code)
        return
    retry = next((v.decode() for k, v in extra or [] if k == b"retry-after"), None)
    page = error_html(status, message, principal, retry, scope.get("path"))
    await send_simple(send, status, page.encode(), b"text/html; charset=utf-8", extra)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette handler for HTTP errors of the gateway's routes (unknown path, wrong method)."""
    assert isinstance(exc, HTTPException)
    return error_response(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    """Starlette handler for an exception in a gateway route: a 500 that names nothing of it."""
    return error_response(request, 500, "Internal Server Error")
