"""Defect: concurrent or failing warehouse loads overwrite or lose rows.

Two writer processes (``customer_writer.py``) load overlapping customers into one
``customers`` table at the same moment, batch after batch, each batch in its own
transaction, the way concurrent onboarding runs do. Afterwards the table must hold
every customer once, each with its highest-ranked row (latest signup wins), whatever
the commit order: on SQLite (the local warehouse) and on a real PostgreSQL database.
The writers go through the governed warehouse: e-mails are hashed (deterministically)
before they reach the table, so the hashed e-mail is a stable upsert key.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from compliance.crypto import derive_keys, hash_value
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.workflows.claims.outcomes_table import (
    CLAIM_OUTCOMES,
    outcome_rows,
    replace_business_date,
)
from klikkflow_pipelines.workflows.claims.rules import route, score, validate
from klikkflow_pipelines.workflows.claims.sample_data import claims_for
from klikkflow_pipelines.workflows.onboarding.customers_table import LATEST_WINS
from resources.warehouse import WarehouseResource

WRITER = Path(__file__).with_name("customer_writer.py")
WRITERS = 2
TENANT_KEY = "3c" * 32


def _writer_module() -> Any:
    spec = importlib.util.spec_from_file_location("customer_writer", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expected() -> dict[str, str]:
    """Hashed e-mail -> the winning customer_ref, from the batches the writers load."""
    every = pl.concat([b for w in range(WRITERS) for b in _writer_module().batches(w)])
    winners = every.sort(list(LATEST_WINS)).unique(subset=["email"], keep="last")
    key = derive_keys(bytes.fromhex(TENANT_KEY)).hash_key
    return {hash_value(key, email): ref for email, ref in winners.select("email", "customer_ref").iter_rows()}


def _load_concurrently(url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "KLIKKFLOW_TENANT_KEY": TENANT_KEY}
    events = f"sqlite:///{tmp_path / 'events.db'}"
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), url, str(w), str(go), events],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    for process in writers:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    go.touch()  # both writers start together
    for process in writers:
        process.wait(timeout=240)
    assert [p.returncode for p in writers] == [0] * WRITERS


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh warehouse: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    with request.getfixturevalue("fresh_database")("kf_warehouse_upsert") as url:
        yield url


def test_two_concurrent_writers_lose_no_customer_and_latest_signup_wins(
    warehouse_url: str, tmp_path: Path
) -> None:
    _load_concurrently(warehouse_url, tmp_path)
    warehouse = WarehouseResource(url=warehouse_url)
    stored = warehouse.read_frame("SELECT email, customer_ref FROM customers")
    warehouse.engine().dispose()
    expected = _expected()
    assert stored.height == len(expected), "every customer exactly once"
    assert dict(stored.iter_rows()) == expected


def test_a_failed_replace_of_a_business_date_keeps_its_previous_rows(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting and re-inserting one claims date is one transaction: a failure half-way changes nothing."""
    monkeypatch.setenv("KLIKKFLOW_TENANT_KEY", TENANT_KEY)
    warehouse = _writer_module().governed_warehouse(warehouse_url, f"sqlite:///{tmp_path / 'events.db'}")
    day = "2026-11-25"
    routed = route(score(validate(claims_for(date(2026, 11, 25), 50))), 40, 70, 20_000)
    assert replace_business_date(warehouse, day, routed) == 50
    broken = outcome_rows(routed).with_columns(
        pl.when(pl.int_range(pl.len()) == 40)
        .then(None)
        .otherwise(pl.col("reported_date"))
        .alias("reported_date")
    )
    with pytest.raises(sa.exc.IntegrityError):  # reported_date is NOT NULL: the 41st row fails
        warehouse.replace_rows_where(CLAIM_OUTCOMES, "reported_date", day, broken.to_dicts(), key="claim_id")
    assert warehouse.read_frame("SELECT count(*) AS n FROM claim_outcomes").item() == 50
    warehouse.engine().dispose()
