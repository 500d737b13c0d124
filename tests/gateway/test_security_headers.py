"""Response headers by attack: framing the gateway's pages (clickjacking), sniffing content types,
leaking page URLs in the Referer, caching signed-in pages, downgrading https to http."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient

from klikkflow_pipelines.gateway.app import Gateway

from .conftest import LiveGateway

PAGES = ["/", "/login", "/login/mfa", "/account/mfa", "/account/tokens", "/no-such-page", "/logout"]


def assert_own_page_headers(response: httpx.Response) -> None:
    """The headers every page and error answer of the gateway itself carries."""
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert headers.get("x-frame-options") == "DENY", where
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, where
    assert "script-src" not in csp, where  # the gateway's pages run no script at all
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert "no-store" in headers.get("cache-control", ""), where


@pytest.mark.parametrize("path", PAGES)
def test_own_pages_cannot_be_framed_sniffed_cached_or_leak_referrers(
    live_gateway: LiveGateway, path: str
) -> None:
    assert_own_page_headers(live_gateway.client().get(path))  # signed out: redirects, errors
    assert_own_page_headers(live_gateway.login("ada").get(path))  # signed in: tenant list, account


def test_error_answers_carry_the_same_headers(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    assert_own_page_headers(client.post("/login", data={"username": "ada"}))  # CSRF refused
    assert_own_page_headers(client.post("/account/tokens"))
    assert_own_page_headers(live_gateway.login("ada").post("/account/mfa", data={"code": "1"}))


def test_dagster_ui_cannot_be_framed_but_keeps_its_own_policy(live_gateway: LiveGateway) -> None:
    ui = live_gateway.login("vera").get("/t/acme/runs", headers={"accept": "text/html"})
    assert ui.status_code == 200
    assert ui.headers["x-frame-options"] == "DENY"
    assert ui.headers["x-content-type-options"] == "nosniff"
    policies = ui.headers.get_list("content-security-policy")
    assert "frame-ancestors 'none'" in policies
    assert any("script-src 'nonce-" in p for p in policies)  # Dagster's own policy for its scripts
    refused = live_gateway.client().get("/t/acme/runs", headers={"accept": "application/json"})
    assert refused.headers["x-frame-options"] == "DENY"


def test_hsts_only_when_the_public_url_is_https(live_gateway: LiveGateway) -> None:
    gw = live_gateway.gateway
    assert "strict-transport-security" not in live_gateway.client().get("/login").headers
    tls = Gateway(
        gw.settings.model_copy(update={"public_url": "https://gw.example"}), gw.tenants, {}, {}, gw.store
    )
    with TestClient(tls, base_url="https://gw.example") as client:  # in-process: only headers are checked
        for path in ("/login", "/t/acme/runs"):
            assert client.get(path).headers["strict-transport-security"].startswith("max-age=31536000")


def test_a_crash_behind_the_gate_still_answers_with_the_security_headers(
    live_gateway: LiveGateway, serve_app, free_port
) -> None:
    """Attack: make a tenant's app fail (a bad query, an unreachable database); the 500 answer came
    from uvicorn itself, past the middleware, without any of the headers (frameable, sniffable)."""
    gw = live_gateway.gateway

    async def failing_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("the tenant app failed")

    crashing = Gateway(gw.settings, gw.tenants, {"acme": failing_app}, gw.audit_logs, gw.store)
    session = live_gateway.login("vera").cookies
    with serve_app(crashing, free_port()) as url:
        answer = httpx.get(f"{url}/t/acme/runs", cookies=session)
    assert answer.status_code == 500
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers.get_list("content-security-policy")
    assert "the tenant app failed" not in answer.text
