"""Health, Prometheus metrics, rate limits (429 + Retry-After) and the gateway CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from klikkflow_pipelines.cli.gateway import gateway_app
from klikkflow_pipelines.gateway.accounts import Accounts
from klikkflow_pipelines.gateway.ratelimit import TokenBuckets
from klikkflow_pipelines.gateway.store import GatewayStore

from .conftest import LiveGateway
from .helpers import PASSWORD, graphql, graphql_websocket, sign_in

RUNS = "{ runsOrError { __typename } }"


def test_healthz(live_gateway: LiveGateway) -> None:
    health = live_gateway.client().get("/healthz").json()
    assert health["status"] == "ok" and health["tenants"] == 2


def test_metrics_need_owner_or_token_and_count_requests(live_gateway: LiveGateway) -> None:
    vera = live_gateway.login("vera")
    graphql(vera, "acme", RUNS)
    graphql(vera, "globex", RUNS)
    graphql(vera, "acme", "mutation { wipeAssets(assetPartitionRanges: []) { __typename } }")
    assert vera.get("/metrics").status_code == 401  # tenant users do not see platform metrics
    wrong = live_gateway.client(headers={"authorization": "Bearer nope"})
    assert wrong.get("/metrics").status_code == 401
    scraper = live_gateway.client(headers={"authorization": "Bearer metrics-token-for-tests"})
    text = scraper.get("/metrics").text
    assert 'klikkflow_gateway_requests_total{route="graphql",status="200",tenant="acme"}' in text
    assert 'klikkflow_gateway_denials_total{reason="tenant",tenant="globex"}' in text
    assert 'klikkflow_gateway_denials_total{reason="rbac",tenant="acme"}' in text
    assert "klikkflow_gateway_request_seconds_bucket" in text
    live_gateway.client().post("/login", data={})
    text = scraper.get("/metrics").text
    assert 'klikkflow_gateway_signin_failures_total{method="local",reason="csrf"}' in text
    assert live_gateway.login("owner").get("/metrics").status_code == 200


def test_token_bucket_refills() -> None:
    bucket = TokenBuckets(rate=2.0, burst=2.0)
    assert bucket.take("u", now=0.0) == 0.0
    assert bucket.take("u", now=0.0) == 0.0
    assert bucket.take("u", now=0.0) == pytest.approx(0.5)
    assert bucket.take("other", now=0.0) == 0.0  # keys are independent
    assert bucket.take("u", now=0.6) == 0.0


def test_sign_in_rate_limit_memory_stays_bounded_under_many_source_addresses() -> None:
    """Attack: sign-in requests from ever new addresses (an IPv6 prefix holds millions of /64s) each
    left a bucket in the gateway's memory for good."""
    bucket = TokenBuckets(rate=0.5, burst=20.0)
    for i in range(3 * TokenBuckets.MAX_KEYS):  # within a second: no bucket has refilled yet
        assert bucket.take(f"2001:db8:{i:x}::/64", now=i * 1e-5) == 0.0
        assert len(bucket) <= TokenBuckets.MAX_KEYS
    for _ in range(20):
        bucket.take("busy", now=1.0)
    assert bucket.take("busy", now=1.0) > 0  # the limit itself still holds


def test_rate_limits_per_user_and_per_tenant(variant_gateway) -> None:
    rates = {"rate_per_user": 0.2, "burst_per_user": 3.0, "rate_per_tenant": 0.2, "burst_per_tenant": 5.0}
    with variant_gateway(**rates) as live:
        vera = live.login("vera")
        statuses = [graphql(vera, "acme", RUNS).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited_response = graphql(vera, "acme", RUNS)
        assert int(limited_response.headers["retry-after"]) >= 1
        assert "data" not in limited_response.json()
        # another user still has personal budget, but the tenant's budget (5) runs out
        lars = live.login("lars")
        assert [graphql(lars, "acme", RUNS).status_code for _ in range(3)].count(429) >= 1


def test_operations_over_a_websocket_count_against_the_rate_limit(variant_gateway) -> None:
    rates = {
        "rate_per_user": 0.01,
        "burst_per_user": 3.0,
        "rate_per_tenant": 100.0,
        "burst_per_tenant": 100.0,
    }
    with variant_gateway(**rates) as live:
        client = live.login("vera")
        with graphql_websocket(live.url, client) as ws:  # the upgrade request takes the first token
            replies = []
            for index in range(3):
                ws.send(json.dumps({"type": "start", "id": str(index), "payload": {"query": RUNS}}))
                reply = json.loads(ws.recv(timeout=10))
                while reply.get("id") != str(index) or reply["type"] == "complete":
                    reply = json.loads(ws.recv(timeout=10))
                replies.append(reply)
        # The first two reach Dagster (which answers that a query is no subscription); the third does not.
        answers = [json.dumps(r["payload"]) for r in replies]
        assert all("is not defined" in a and "rate limit" not in a for a in answers[:2]), answers
        assert replies[2]["type"] == "error" and "rate limit exceeded" in answers[2]


def test_sign_in_attempts_are_rate_limited_per_address(variant_gateway) -> None:
    with variant_gateway(signin_rate_per_address=0.1, signin_burst_per_address=3) as live:
        client = live.client()
        statuses = [sign_in(client, f"spray{i}", "guess-password").status_code for i in range(4)]
        assert statuses == [401, 401, 401, 429]
        throttled = sign_in(client, "vera", PASSWORD)
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1


def test_cli_add_user(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.db"
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_DB_URL", f"sqlite:///{db}")
    runner = CliRunner()
    short = runner.invoke(gateway_app, ["add-user", "carl", "--owner"], input="short\nshort\n")
    assert short.exit_code != 0 and "12 characters" in short.output
    ok = runner.invoke(gateway_app, ["add-user", "carl", "--owner"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert ok.exit_code == 0, ok.output
    store = GatewayStore(f"sqlite:///{db}")
    assert store.get_user("carl")["is_owner"]
    assert Accounts(store).check_password("carl", PASSWORD).status == "ok"


def test_serve_refuses_a_malformed_setting(monkeypatch: pytest.MonkeyPatch, free_port) -> None:
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_TENANT_RELOAD_SECONDS", "five")
    result = CliRunner().invoke(gateway_app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "KLIKKFLOW_GATEWAY_TENANT_RELOAD_SECONDS" in result.output and "'five'" in result.output
