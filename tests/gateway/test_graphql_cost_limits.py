"""Attack: one viewer freezes every tenant with a small, costly GraphQL document (fragment spreads
that double at each level, 200,000 aliases, deep nesting, a 12 MiB websocket frame). Each must be
refused with a GraphQL error within 100 ms of server time while /healthz keeps answering, the
audit row stays small, and the queries the real Dagster UI sends still pass the limits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .conftest import LiveGateway
from .helpers import graphql, graphql_websocket

UI_QUERIES: dict[str, str] = json.loads((Path(__file__).parent / "dagster_ui_queries.json").read_text())
SERVER_BUDGET = 0.1
HEALTHZ_BUDGET = 0.5


def doubling_fragments(levels: int) -> str:
    """``mutation { ...F<levels> }`` where each fragment spreads the one below twice: 2^levels fields."""
    fragments = " ".join(
        f"fragment F{i} on Mutation {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)
    )
    return f"mutation {{ ...F{levels} }} fragment F0 on Mutation {{ setNuxSeen }} {fragments}"


HOSTILE = {
    "fragments_2^20": doubling_fragments(20),
    "fragments_2^23": doubling_fragments(23),
    "200000_aliases": "{ " + " ".join(f"a{i}: __typename" for i in range(200_000)) + " }",
    "deep_nesting": "{" + "a{" * 3000 + "b" + "}" * 3001,
}


def test_the_dagster_ui_queries_pass_the_default_limits() -> None:
    from klikkflow_pipelines.gateway.graphql_authz import authorize_document
    from klikkflow_pipelines.gateway.graphql_limits import GraphQLLimits

    assert {"LaunchpadRootQuery", "RunsFeedRootQuery", "AssetGraphLiveQuery", "RunRootQuery"} <= set(
        UI_QUERIES
    )
    for name, query in UI_QUERIES.items():
        decision = authorize_document(query, "viewer", GraphQLLimits())
        assert decision.allowed, (name, decision.reason)


def test_the_dagster_ui_queries_pass_through_the_gateway(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("vera")
    for name, query in UI_QUERIES.items():
        response = graphql(client, "acme", query, operationName=name)
        assert "GRAPHQL_DOCUMENT_TOO_COSTLY" not in response.text, name
        assert response.status_code in (200, 400), (name, response.status_code)  # 400: missing variables


@contextmanager
def healthz_prober(url: str) -> Iterator[list[float]]:
    """Poll /healthz from another client during the block; yields the list of its latencies."""
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join(timeout=60)


def server_seconds(live_gateway: LiveGateway, route: str) -> tuple[float, float]:
    """(total seconds, count) the gateway measured for acme requests of one route class."""
    registry = live_gateway.gateway.metrics.registry
    labels = {"tenant": "acme", "route": route}
    total = registry.get_sample_value("klikkflow_gateway_request_seconds_sum", labels) or 0.0
    count = registry.get_sample_value("klikkflow_gateway_request_seconds_count", labels) or 0.0
    return total, count


def too_costly_denials(live_gateway: LiveGateway) -> float:
    """How many acme requests the gateway refused as too costly (the metric the browser test watches)."""
    labels = {"tenant": "acme", "reason": "too_costly"}
    return (
        live_gateway.gateway.metrics.registry.get_sample_value("klikkflow_gateway_denials_total", labels)
        or 0.0
    )


@pytest.mark.parametrize("attack", list(HOSTILE))
def test_costly_documents_are_refused_fast_while_healthz_answers(
    live_gateway: LiveGateway, attack: str
) -> None:
    client = live_gateway.login("vera")
    client.timeout = httpx.Timeout(20)
    with healthz_prober(live_gateway.url) as latencies:
        time.sleep(0.1)
        before, denied = server_seconds(live_gateway, "graphql"), too_costly_denials(live_gateway)
        response = graphql(client, "acme", HOSTILE[attack])
        after = server_seconds(live_gateway, "graphql")
        time.sleep(0.1)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_DOCUMENT_TOO_COSTLY" and "limit" in error["message"]
    assert "data" not in response.json()
    assert after[1] == before[1] + 1 and too_costly_denials(live_gateway) == denied + 1
    assert after[0] - before[0] < SERVER_BUDGET, f"refusal took {after[0] - before[0]:.3f} s of server time"
    assert latencies and max(latencies) < HEALTHZ_BUDGET, max(latencies, default=None)


def test_refused_huge_document_leaves_a_small_audit_row(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("vera")
    client.timeout = httpx.Timeout(20)
    assert graphql(client, "acme", HOSTILE["fragments_2^23"]).status_code == 400
    entries = [e for e in live_gateway.gateway.audit_logs["acme"].entries() if e.actor == "vera"]
    last = entries[-1]
    assert last.action == "graphql.refused" and last.outcome == "denied"
    details = json.loads(last.details)
    assert len(last.details) + len(last.target) < 2000
    assert len(details["document_sha256"]) == 64 and details["document_bytes"] == len(
        HOSTILE["fragments_2^23"]
    )


def test_12_mib_websocket_document_is_refused_fast_while_healthz_answers(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("vera")
    query = "{ " + "__typename " * (12 * 1024 * 1024 // 11) + "}"
    with healthz_prober(live_gateway.url) as latencies:
        time.sleep(0.1)
        before = server_seconds(live_gateway, "websocket")
        with graphql_websocket(live_gateway.url, client, max_size=None) as ws:
            ws.send(json.dumps({"type": "start", "id": "1", "payload": {"query": query}}))
            with pytest.raises(Exception) as closed:
                ws.recv(timeout=20)
        deadline = time.time() + 5
        while server_seconds(live_gateway, "websocket")[1] == before[1] and time.time() < deadline:
            time.sleep(0.01)
        after = server_seconds(live_gateway, "websocket")
    assert getattr(getattr(closed.value, "rcvd", None), "code", None) == 1009, closed.value
    assert after[1] == before[1] + 1
    assert after[0] - before[0] < 1.0  # the whole socket: handshake, init, 12 MiB upload, refusal
    assert max(latencies) < HEALTHZ_BUDGET, max(latencies)


def test_costly_document_over_websocket_gets_a_graphql_error(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("vera")
    with graphql_websocket(live_gateway.url, client) as ws:
        started = time.perf_counter()
        ws.send(json.dumps({"type": "start", "id": "7", "payload": {"query": HOSTILE["fragments_2^23"]}}))
        reply = json.loads(ws.recv(timeout=20))
        assert time.perf_counter() - started < 1.0
    assert reply["type"] == "error" and reply["id"] == "7"
    assert "limit" in reply["payload"][0]["message"]
