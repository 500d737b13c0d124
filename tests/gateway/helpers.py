"""Helpers shared by the gateway tests: sign-in forms, CSRF tokens, GraphQL calls."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pyotp
from websockets.sync.client import ClientConnection, connect

PASSWORD = "correct horse battery staple"
SIGNED_IN = 303


def login_form_csrf(client: httpx.Client) -> str:
    """Open the sign-in page and return its CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """Post the sign-in form."""
    token = login_form_csrf(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"}
    )


def page_csrf(html: str) -> str:
    """The CSRF token embedded in a gateway page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def graphql(
    client: httpx.Client, tenant: str, query: str, origin: str | None = None, **kwargs: object
) -> httpx.Response:
    """POST a GraphQL document to a tenant through the gateway (same-origin by default)."""
    headers = {"origin": origin or str(client.base_url).rstrip("/")}
    return client.post(f"/t/{tenant}/graphql", json={"query": query, **kwargs}, headers=headers)


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the (first) form on a gateway page."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def totp_of_page(html: str) -> pyotp.TOTP:
    """The authenticator secret an enrolment page offers (its otpauth:// URI)."""
    match = re.search(r'id="totp-uri">([^<]+)<', html)
    assert match, html
    uri = unquote(match.group(1).replace("&amp;", "&"))
    return pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])


def enroll_totp(client: httpx.Client) -> tuple[pyotp.TOTP, list[str]]:
    """Turn on two-factor sign-in for a signed-in, not yet enrolled account through its pages."""
    page = client.get("/account/mfa")
    totp = totp_of_page(page.text)
    done = client.post("/account/mfa", data={**hidden_fields(page.text), "code": totp.at(time.time() - 30)})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<code>([0-9a-f]{8}-[0-9a-f]{8})</code>", done.text)
    assert len(codes) == 10, done.text
    return totp, codes


def sign_in_with_totp(client: httpx.Client, username: str, totp: pyotp.TOTP, at: float) -> httpx.Response:
    """Password, then the authenticator code for time ``at``; the answer to the code."""
    pending = sign_in(client, username, PASSWORD)
    assert pending.status_code == 303 and pending.headers["location"] == "/login/mfa", pending.text
    page = client.get("/login/mfa")
    return client.post("/login/mfa", data={"csrf_token": page_csrf(page.text), "code": totp.at(at)})


@contextlib.contextmanager
def graphql_websocket(
    base_url: str, client: httpx.Client, tenant: str = "acme", **options: Any
) -> Iterator[ClientConnection]:
    """A graphql-ws connection to ``tenant``'s GraphQL in ``client``'s session, past connection_ack."""
    with connect(
        base_url.replace("http", "ws") + f"/t/{tenant}/graphql",
        subprotocols=["graphql-ws"],
        origin=base_url,
        additional_headers={"cookie": f"kf_session={client.cookies['kf_session']}"},
        open_timeout=10,
        **options,
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        yield ws
