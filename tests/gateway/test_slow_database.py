"""Attack: the gateway queries the database synchronously inside async handlers, so one slow or locked
table freezes the event loop for everyone. With the Postgres sessions table locked by another
transaction, a session request must wait while /healthz, the sign-in page and a token-authenticated
static file keep answering promptly, whether the waiting request is a tenant route or one of the
gateway's own pages."""

from __future__ import annotations

import secrets
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.principal import TOKEN_PREFIX
from klikkflow_pipelines.gateway.store import GatewayStore, sessions, sha256_hex

from .conftest import LiveGateway
from .helpers import PASSWORD, sign_in

PROMPT = 0.5
LOCK_SECONDS = 1.5


@pytest.mark.parametrize(
    "session_path",
    ["/t/acme/server_info", "/", "/account/tokens", "/account/mfa"],
    ids=["tenant route", "tenant list page", "tokens page", "mfa page"],
)
def test_locked_sessions_table_stalls_only_the_waiting_request(
    live_gateway: LiveGateway, fresh_database, free_port, serve_app, session_path: str
) -> None:
    gw = live_gateway.gateway
    with fresh_database("gw_slow") as url:
        port = free_port()
        settings = gw.settings.model_copy(
            update={
                "database_url": url,
                "public_url": f"http://127.0.0.1:{port}",
                "session_cache_seconds": 0.0,
            }
        )
        store = GatewayStore(url)
        gateway = Gateway(settings, gw.tenants, gw.tenant_apps, gw.audit_logs, store, gw.workspaces)
        gateway.accounts.create_user("vera", PASSWORD)
        with serve_app(gateway, port) as base, httpx.Client(base_url=base, timeout=3) as probe:
            session_client = httpx.Client(base_url=base, timeout=30)
            assert sign_in(session_client, "vera", PASSWORD).status_code == 303
            record = gateway.sessions.load(session_client.cookies["kf_session"])
            token = TOKEN_PREFIX + secrets.token_urlsafe(24)
            store.tokens.insert(sha256_hex(token), "probe", record, "acme", "viewer", 3600)
            assert session_client.get("/t/acme/server_info").status_code == 200

            locker = create_engine(url).connect()
            transaction = locker.begin()
            locker.execute(text(f"LOCK TABLE {sessions.name} IN ACCESS EXCLUSIVE MODE"))
            waited: dict[str, float | int] = {}

            def session_request() -> None:
                started = time.perf_counter()
                waited["status"] = session_client.get(session_path).status_code
                waited["seconds"] = time.perf_counter() - started

            thread = threading.Thread(target=session_request, daemon=True)
            latencies: dict[str, float] = {}
            try:
                thread.start()
                time.sleep(0.2)
                deadline = time.perf_counter() + LOCK_SECONDS
                while time.perf_counter() < deadline:
                    for name, path, headers in (
                        ("healthz", "/healthz", {}),
                        ("sign-in page", "/login", {}),
                        ("static file (token)", "/t/acme/favicon.png", {"authorization": f"Bearer {token}"}),
                    ):
                        started = time.perf_counter()
                        assert probe.get(path, headers=headers).status_code == 200, name
                        latencies[name] = max(latencies.get(name, 0.0), time.perf_counter() - started)
                    time.sleep(0.05)
                assert thread.is_alive(), "the session request should still wait for the lock"
            finally:
                transaction.rollback()
                locker.close()
            thread.join(timeout=30)
            session_client.close()
        store.engine.dispose()
    assert waited["status"] == 200
    assert waited["seconds"] >= LOCK_SECONDS
    assert all(seconds < PROMPT for seconds in latencies.values()), latencies
