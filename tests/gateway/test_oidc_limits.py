"""SSO sign-in under load: ``/login/oidc`` and its callback are rate-limited per source address,
pending OIDC transactions per address are bounded, and expired transactions and dead sessions are
purged (by the store's purge, and periodically by the running gateway)."""

from __future__ import annotations

import time

import httpx

from klikkflow_pipelines.gateway.housekeeping import purge_expired
from klikkflow_pipelines.gateway.signin_store import OIDC_TRANSACTION_SECONDS
from klikkflow_pipelines.gateway.store import SessionRecord, sha256_hex

from .conftest import LiveGateway
from .helpers import graphql
from .oidc_server import provider_sign_in

RUNS = "{ runsOrError { __typename } }"


def _retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["retry-after"])


def test_hammering_login_oidc_gets_429_per_address(variant_gateway) -> None:
    """Attack: a script hammers ``/login/oidc`` (each call creates a transaction row) and the callback."""
    with variant_gateway(signin_rate_per_address=0.01, signin_burst_per_address=3) as live:
        client = live.client()
        assert [client.get("/login/oidc").status_code for _ in range(3)] == [302] * 3
        assert _retry_after(client.get("/login/oidc")) >= 1
        callback = client.get("/auth/callback", params={"state": "made-up", "code": "x"})
        assert _retry_after(callback) >= 1


def test_pending_oidc_transactions_per_address_are_bounded(
    live_gateway: LiveGateway, variant_gateway
) -> None:
    """Attack: sign-ins started and never finished fill the transaction table; past the bound the
    address gets 429 until its oldest pending sign-in expires."""
    store = live_gateway.gateway.store
    already, _ = store.signin.pending("127.0.0.1")  # left by other tests, from the same address
    with variant_gateway(oidc_pending_per_address=already + 3) as live:
        client = live.client()
        assert [client.get("/login/oidc").status_code for _ in range(3)] == [302] * 3
        refused = client.get("/login/oidc")
        assert 1 <= _retry_after(refused) <= OIDC_TRANSACTION_SECONDS
        assert store.signin.pending("127.0.0.1")[0] == already + 3  # no row for the refused one


def _session(store, raw: str, expires_in: float, revoked: bool = False) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    record = SessionRecord(
        sha256_hex(raw),
        "vera",
        "local",
        ["vera"],
        [],
        {"acme": "viewer"},
        False,
        False,
        "c",
        now,
        now + expires_in,
    )
    store.insert_session(record)
    if revoked:
        store.revoke_session(record.id_hash)


def test_purge_removes_expired_transactions_and_dead_sessions_keeps_live_ones(
    live_gateway: LiveGateway,
) -> None:
    gw = live_gateway.gateway
    store = gw.store
    _session(store, "purge-expired", -1)
    _session(store, "purge-revoked", 3600, revoked=True)
    _session(store, "purge-live", 3600)
    store.signin.insert_transaction("purge-old", "n", "v", "b", "/", "198.51.100.7")
    store.signin.insert_transaction("purge-new", "n", "v", "b", "/", "198.51.100.7")
    with store.engine.begin() as conn:  # started 11 minutes ago: past its 10 minutes
        conn.exec_driver_sql(
            "UPDATE gateway_oidc_transactions SET created_at = created_at - 660 WHERE state = 'purge-old'"
        )
    purged = purge_expired(store, gw.settings.group_role_max_age_seconds)
    assert purged["sessions"] >= 2 and purged["oidc_transactions"] >= 1
    assert store.get_session(sha256_hex("purge-expired")) is None
    assert store.get_session(sha256_hex("purge-revoked")) is None
    assert store.get_session(sha256_hex("purge-live")) is not None
    assert store.signin.pending("198.51.100.7")[0] == 1  # the live transaction stays
    live = live_gateway.client(cookies={"kf_session": gw.sessions.sign("purge-live")})
    assert graphql(live, "acme", RUNS).status_code == 200


def test_callback_with_a_purged_state_fails_cleanly(live_gateway: LiveGateway) -> None:
    """The provider sends the browser back after its transaction was purged: 400, no session."""
    browser = live_gateway.client()
    start = browser.get("/login/oidc")
    callback = provider_sign_in(httpx.Client(timeout=30), start.headers["location"], "sso-viewer")
    purge_expired(live_gateway.gateway.store, 3600, now=time.time() + OIDC_TRANSACTION_SECONDS + 1)
    answer = browser.get(callback)
    assert answer.status_code == 400 and "unknown, expired or replayed state" in answer.text
    assert "kf_session" not in browser.cookies


def test_the_running_gateway_purges_periodically(live_gateway: LiveGateway, variant_gateway) -> None:
    store = live_gateway.gateway.store
    _session(store, "periodic-expired", -1)
    with variant_gateway(purge_interval_seconds=0.1):
        deadline = time.time() + 10
        while store.get_session(sha256_hex("periodic-expired")) is not None:
            assert time.time() < deadline, "the gateway did not purge the expired session"
            time.sleep(0.1)
