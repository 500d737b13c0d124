"""Security headers on every HTTP answer of the gateway.

The gateway's own pages (sign-in, account, MFA, tokens, tenant list, and every
error answer) get a strict Content-Security-Policy (no script, no plug-in, only
their own hashed style sheet, no framing), ``X-Frame-Options: DENY``,
``nosniff``, ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.
A tenant's Dagster UI under ``/t/<tenant>/`` keeps its own policy (it needs
its scripts and already sends ``Cache-Control``/``Referrer-Policy``); it gets a
second policy that only forbids framing (browsers enforce every policy sent),
``X-Frame-Options: DENY`` and ``nosniff``. ``Strict-Transport-Security`` goes
on everything when the public URL is https. An app that fails before it answered gets a 500 with
these headers here (uvicorn's own 500 would carry none): the HTML error page for a browser, else
plain text, neither naming the error, which goes on to the server's log.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from klikkflow_pipelines.gateway.error_pages import error_html, wants_html
from klikkflow_pipelines.gateway.pages import STYLE_SOURCE

TENANT_PREFIX = "/t/"
NO_FRAMING = "frame-ancestors 'none'"
PAGE_POLICY = f"default-src 'none'; style-src {STYLE_SOURCE}; base-uri 'none'; {NO_FRAMING}"
HSTS = "max-age=31536000"

SERVER_ERROR_BODY = b"Internal Server Error"

_COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff"}
_OWN_PAGES = {
    **_COMMON,
    "content-security-policy": PAGE_POLICY,
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """ASGI middleware: sets the headers above on every ``http.response.start`` of the wrapped app."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tenant_page = scope.get("path", "").startswith(TENANT_PREFIX)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in (_COMMON if tenant_page else _OWN_PAGES).items():
                    headers[name] = value
                if tenant_page:
                    headers.append("content-security-policy", NO_FRAMING)
                if self.https:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                html = wants_html(scope)
                body = error_html(500).encode() if html else SERVER_ERROR_BODY
                await send_with_headers(_server_error_start(body, html))
                await send_with_headers({"type": "http.response.body", "body": body})
            raise


def _server_error_start(body: bytes, html: bool) -> Message:
    """The start of a 500 answer (a new message each time: the headers are added to it)."""
    kind = b"text/html; charset=utf-8" if html else b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return {"type": "http.response.start", "status": 500, "headers": headers}
