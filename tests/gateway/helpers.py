"""Helpers shared by the gateway tests: sign-in forms, CSRF tokens, GraphQL calls."""

from __future__ import annotations

import re

import httpx

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
