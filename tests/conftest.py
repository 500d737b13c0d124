"""Shared fixtures: an isolated KLIKKFLOW_HOME per test, and fresh PostgreSQL databases."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import URL

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(autouse=True)
def klikkflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own KLIKKFLOW_HOME, so nothing touches the checkout's .klikkflow/."""
    home = tmp_path / "klikkflow_home"
    monkeypatch.setenv("KLIKKFLOW_HOME", str(home))
    monkeypatch.delenv("KLIKKFLOW_ENV", raising=False)
    monkeypatch.delenv("KLIKKFLOW_WAREHOUSE_URL", raising=False)
    return home


@contextlib.contextmanager
def _fresh_database(prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield URL.create(
            "postgresql+psycopg2", username="postgres", host="127.0.0.1", port=5432, database=name
        ).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def fresh_database() -> Callable[[str], AbstractContextManager[str]]:
    """``with fresh_database(prefix) as url``: a new, uniquely named Postgres database, dropped after."""
    return _fresh_database
