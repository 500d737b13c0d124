"""A platform database made before the API-token ``method`` and OIDC-transaction ``source`` columns
gets them when the gateway opens it, on SQLite and Postgres, also when two gateways start at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from klikkflow_pipelines.gateway.store import GatewayStore, SessionRecord

OLD_TABLES = (
    "CREATE TABLE gateway_api_tokens (id {serial} PRIMARY KEY, token_hash VARCHAR(64) NOT NULL UNIQUE,"
    " name VARCHAR(128) NOT NULL, username VARCHAR(255) NOT NULL, tenant VARCHAR(64) NOT NULL,"
    " role VARCHAR(16) NOT NULL, identities TEXT NOT NULL, groups TEXT NOT NULL, is_owner BOOLEAN NOT NULL,"
    " created_at FLOAT NOT NULL, expires_at FLOAT NOT NULL, revoked BOOLEAN NOT NULL)",
    "CREATE TABLE gateway_oidc_transactions (state VARCHAR(128) PRIMARY KEY, nonce VARCHAR(128) NOT NULL,"
    " code_verifier VARCHAR(128) NOT NULL, browser_binding VARCHAR(64) NOT NULL, next_url TEXT NOT NULL,"
    " created_at FLOAT NOT NULL)",
    "INSERT INTO gateway_api_tokens (token_hash, name, username, tenant, role, identities, groups,"
    " is_owner, created_at, expires_at, revoked) VALUES ('h', 'old', 'ada', 'acme', 'viewer',"
    " '[\"ada\"]', '[]', false, 0, 9e9, false)",
)


def _upgrade(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
        for statement in OLD_TABLES:
            conn.exec_driver_sql(statement.replace("{serial}", serial))
    engine.dispose()
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            GatewayStore(url).engine.dispose()
        except BaseException as error:  # reported below, in the test thread
            errors.append(error)

    starts = [threading.Thread(target=open_store) for _ in range(2)]  # two gateways starting at once
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join()
    assert not errors, errors
    store = GatewayStore(url)
    tables = ("gateway_api_tokens", "gateway_oidc_transactions")
    columns = {t: {c["name"] for c in inspect(store.engine).get_columns(t)} for t in tables}
    assert "method" in columns["gateway_api_tokens"] and "source" in columns["gateway_oidc_transactions"]
    old = store.tokens.find("h")
    assert old is not None and old.method == "" and not old.via_sso  # legacy token of a local account
    session = SessionRecord("s", "ada", "oidc", ["oidc:ada"], [], {}, False, False, "c", 0.0, 9e9)
    store.tokens.insert("h2", "new", session, "acme", "viewer", 60)
    assert store.tokens.find("h2").via_sso
    store.signin.insert_transaction("st", "n", "v", "b", "/", "127.0.0.1")
    assert store.signin.pending("127.0.0.1")[0] == 1
    store.engine.dispose()


def test_old_sqlite_database_gets_the_new_columns(tmp_path: Path) -> None:
    _upgrade(f"sqlite:///{tmp_path / 'gateway.db'}")


@pytest.mark.postgres
def test_old_postgres_database_gets_the_new_columns(fresh_database) -> None:
    with fresh_database("kf_schema") as url:
        _upgrade(url)


def test_four_gateways_opening_a_new_database_at_once_all_start(tmp_path: Path) -> None:
    """Race: gateway replicas starting together on a new platform database. A start that lost the
    race for one table retried once, and failed when it lost it again for the next table."""
    for round_ in range(10):
        url = f"sqlite:///{tmp_path / f'gateway{round_}.db'}"
        errors: list[BaseException] = []

        def open_store(url: str = url, errors: list = errors) -> None:
            try:
                GatewayStore(url).engine.dispose()
            except BaseException as error:  # reported below, in the test thread
                errors.append(error)

        starts = [threading.Thread(target=open_store) for _ in range(4)]
        for thread in starts:
            thread.start()
        for thread in starts:
            thread.join()
        assert not errors, (round_, errors)


def test_the_platform_audit_log_opens_without_creating_a_cookie_secret(
    klikkflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpointer and ``audit verify`` open the platform log with only its database: no gateway
    cookie secret appears in their home (the production rehearsal found the checkpointer making one)."""
    from klikkflow_pipelines.gateway.store import platform_audit_log

    monkeypatch.delenv("KLIKKFLOW_GATEWAY_SECRET", raising=False)
    klikkflow_home.mkdir(parents=True)
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_DB_URL", f"sqlite:///{klikkflow_home / 'platform.db'}")
    log = platform_audit_log()
    try:
        assert log.tenant == "platform" and log.engine.url.database.endswith("platform.db")
    finally:
        log.engine.dispose()
    assert not (klikkflow_home / "secrets" / "gateway.key").exists()
