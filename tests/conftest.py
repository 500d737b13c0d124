"""Shared fixtures: an isolated KLIKKFLOW_HOME per test, fresh PostgreSQL databases, an S3 server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import uvicorn
from psycopg2 import sql

from klikkflow_pipelines.devtools.s3_server import S3Server, running_s3_server
from klikkflow_pipelines.tenancy.db_roles import Platform, ensure_platform, new_password
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer


@pytest.fixture(autouse=True)
def klikkflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own KLIKKFLOW_HOME, so nothing touches the checkout's .klikkflow/."""
    home = tmp_path / "klikkflow_home"
    monkeypatch.setenv("KLIKKFLOW_HOME", str(home))
    monkeypatch.delenv("KLIKKFLOW_ENV", raising=False)
    monkeypatch.delenv("KLIKKFLOW_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("KLIKKFLOW_STORAGE_URL", raising=False)
    return home


LOCAL_PG = PostgresServer(host="127.0.0.1", port=5432, user="postgres")


@contextlib.contextmanager
def _fresh_database(prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    LOCAL_PG.create_database(name)
    try:
        yield LOCAL_PG.url(name)
    finally:
        LOCAL_PG.drop_database(name)


@pytest.fixture(scope="session")
def fresh_database() -> Callable[[str], AbstractContextManager[str]]:
    """``with fresh_database(prefix) as url``: a new, uniquely named Postgres database, dropped after."""
    return _fresh_database


@pytest.fixture(scope="session")
def pg_platform() -> Iterator[Platform]:
    """A platform of its own on the real server (gateway role, platform database, its audit role, all
    suffixed), so tests never touch the real ``kf_gateway``; dropped at the end of the session."""
    suffix = uuid.uuid4().hex[:8]
    platform = Platform(f"kf_gateway_t{suffix}", f"kf_platform_t{suffix}", f"kf_audit_platform_t{suffix}")
    ensure_platform(LOCAL_PG, new_password(), platform=platform)
    try:
        yield platform
    finally:
        LOCAL_PG.drop_database(platform.database)
        with LOCAL_PG.cursor() as cursor:
            for role in (platform.gateway_role, platform.audit_role):
                cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serve(app: object, port: int | None = None) -> Iterator[str]:
    port = port or _free_port()
    # proxy_headers off, as `klikkflow gateway serve` runs it: X-Forwarded-For is the app's to judge
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """``free_port()``: an unused TCP port on the loopback interface."""
    return _free_port


@pytest.fixture(scope="session")
def serve_app() -> Callable[..., AbstractContextManager[str]]:
    """``with serve_app(app[, port]) as url``: an ASGI app under a real uvicorn server in a thread."""
    return _serve


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's standalone S3 server, a real subprocess on a free loopback port, for the whole session.

    Point a process at it with ``s3_server.env()`` (the ``AWS_*`` variables); make each test's
    bucket with ``s3_server.create_bucket(prefix)`` (a unique name).
    """
    with running_s3_server() as server:
        yield server
