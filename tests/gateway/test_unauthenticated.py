"""Without a session: every gateway route, every Dagster route and the GraphQL endpoint give 401 or a
redirect to sign-in, never data."""

from __future__ import annotations

import re

import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import LiveGateway

DAGSTER_MARKERS = ("__typename", "runsOrError", "orders_job", "dagster", "Dagster", "permissions")


def dagster_paths(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, set[str]]]:
    """Every HTTP route of a tenant's Dagster app, with path parameters filled in."""
    out: list[tuple[str, set[str]]] = []
    for route in routes:
        if isinstance(route, Mount):
            inner = route.routes or []
            path = prefix + route.path
            out.extend(dagster_paths(list(inner), path) if inner else [(path + "/index.js", {"GET"})])
        elif isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "x", prefix + route.path)
            out.append((path, set(route.methods or {"GET"}) - {"HEAD"}))
        elif not isinstance(route, WebSocketRoute):
            raise AssertionError(f"unexpected route type {route!r}")
    return out


def assert_no_data(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in (401, 302, 303), (response.request.url, response.status_code)
    if response.status_code in (302, 303):
        assert response.headers["location"].startswith("/login")
    for marker in DAGSTER_MARKERS:
        assert marker not in response.text, (response.request.url, marker)


def test_every_dagster_route_needs_a_session(live_gateway: LiveGateway) -> None:
    app = live_gateway.gateway.tenant_apps["acme"]
    paths = dagster_paths(list(app.routes))
    assert len(paths) > 15
    client = live_gateway.client()
    checked = 0
    for path, methods in paths:
        for method in methods:
            for accept in ("text/html", "application/json"):
                assert_no_data(client.request(method, path, headers={"accept": accept}))
                checked += 1
    assert checked > 30


@pytest.mark.parametrize("tenant", ["acme", "globex", "no-such-tenant"])
@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", {"query": "{ runsOrError { __typename } }"}),
        ("POST", {"query": "mutation { launchRun(executionParams: {}) { __typename } }"}),
        ("GET", None),
    ],
)
def test_graphql_needs_a_session(
    live_gateway: LiveGateway, tenant: str, method: str, body: dict | None
) -> None:
    client = live_gateway.client()
    if method == "GET":
        response = client.get(f"/t/{tenant}/graphql", params={"query": "{ runsOrError { __typename } }"})
    else:
        response = client.post(f"/t/{tenant}/graphql", json=body, headers={"origin": live_gateway.url})
    assert response.status_code == 401
    assert_no_data(response)


def test_forged_and_garbage_cookies_and_tokens_are_unauthenticated(live_gateway: LiveGateway) -> None:
    query = {"query": "{ runsOrError { __typename } }"}
    for cookies, headers in (
        ({"kf_session": "made-up"}, {}),
        ({"kf_session": "abc.def"}, {}),
        ({}, {"authorization": "Bearer kft_not-a-real-token"}),
        ({}, {"authorization": "Bearer x"}),
        ({}, {"authorization": "Basic YWRtaW46YWRtaW4="}),
    ):
        client = live_gateway.client(cookies=cookies)
        assert_no_data(client.post("/t/acme/graphql", json=query, headers=headers))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/account/tokens"),
        ("POST", "/account/tokens"),
        ("GET", "/account/mfa"),
        ("POST", "/account/mfa"),
        ("POST", "/account/tokens/1/revoke"),
        ("POST", "/logout"),
        ("GET", "/login/mfa"),
        ("POST", "/login/mfa"),
        ("GET", "/metrics"),
    ],
)
def test_gateway_pages_need_a_session(live_gateway: LiveGateway, method: str, path: str) -> None:
    response = live_gateway.client().request(method, path)
    assert_no_data(response)
    assert "klikkflow_gateway" not in response.text


def test_only_health_and_sign_in_are_public(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/login").status_code == 200


def test_websocket_needs_a_session(live_gateway: LiveGateway) -> None:
    url = live_gateway.url.replace("http", "ws") + "/t/acme/graphql"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, subprotocols=["graphql-ws"], origin=live_gateway.url, open_timeout=10)
    assert refused.value.response.status_code == 403
