"""Attack/defect: concurrent onboarding runs overwrite each other's frames and lose warehouse rows.

Five drops land in the inbox at once. The real ``dagster-daemon`` (sensor daemon and
QueuedRunCoordinator daemon) evaluates the file-arrival sensor and dequeues the runs,
and Dagster's DefaultRunLauncher executes them in separate run-worker processes
(through the code server the daemon starts), five at a time, on the tenant's own
persistent instance. Afterwards the warehouse must hold exactly the union of the
drops' customers, the latest signup winning per e-mail, and each run's frames only
its own drop.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterRunStatus

from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.instance import tenant_instance
from klikkflow_pipelines.tenant_resources import build_resources
from resources.warehouse import WarehouseResource

pytestmark = pytest.mark.timeout(420)

DROPS = 5
ROWS_PER_DROP = 40
FIELDS = ["customer_ref", "first_name", "last_name", "email", "phone", "country", "signup_date", "channel"]


def _tenant_file(tenants_dir: Path) -> None:
    """The default tenant, five concurrent runs, a fast sensor, only the onboarding workflow."""
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "tenants" / "default.yaml").read_text())
    config["policy"] = str(PROJECT_ROOT / "deploy" / "policies" / "default.yaml")
    config["plan"]["max_concurrent_runs"] = DROPS
    config["workflows"] = {
        "customer_onboarding": {
            "params": {"sensor_interval_seconds": 5, "min_file_age_seconds": 0, "schedule_enabled": False}
        }
    }
    tenants_dir.mkdir(parents=True)
    (tenants_dir / "default.yaml").write_text(yaml.safe_dump(config))


def _write_drops(inbox: Path) -> list[dict[str, str]]:
    """Five drops of customers drawn from one pool of e-mails, so drops overlap with other signup dates."""
    rng = random.Random(5)
    emails = [f"customer{n}@example.com" for n in range(90)]
    rows_written = []
    inbox.mkdir(parents=True, exist_ok=True)
    for d in range(DROPS):
        rows = [
            {
                "customer_ref": f"D{d}-{i:03d}",
                "first_name": "Ola",
                "last_name": "Nordmann",
                "email": email,
                "phone": f"9{rng.randint(1000000, 9999999)}",
                "country": "NO",
                "signup_date": f"2026-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}",
                "channel": "web",
            }
            for i, email in enumerate(rng.sample(emails, ROWS_PER_DROP))
        ]
        path = inbox / f"drop_{d}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        stamp = time.time() - 60
        os.utime(path, (stamp, stamp))
        rows_written += [{**r, "source_file": path.name} for r in rows]
    return rows_written


def _latest_per_email(rows: list[dict[str, str]]) -> set[str]:
    """The customer_ref that must win for each e-mail: latest signup, ties by drop file then ref."""
    best: dict[str, tuple[str, str, str]] = {}
    for r in rows:
        rank = (r["signup_date"], r["source_file"], r["customer_ref"])
        best[r["email"]] = max(best.get(r["email"], rank), rank)
    return {rank[2] for rank in best.values()}


def _wait_for_runs(instance, daemon: subprocess.Popen, log: Path, timeout: float = 360) -> list:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert daemon.poll() is None, f"dagster-daemon exited:\n{log.read_text()[-3000:]}"
        runs = instance.get_runs()
        finished = [r for r in runs if r.is_finished]
        if len(runs) >= DROPS and len(finished) == len(runs):
            time.sleep(6)  # one more sensor interval: no late duplicate run may appear
            return instance.get_runs()
        time.sleep(1)
    raise AssertionError(
        f"runs did not finish: {[r.status for r in instance.get_runs()]}\n{log.read_text()[-3000:]}"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The tenant's warehouse: the embedded SQLite file, or a fresh PostgreSQL database (production)."""
    if request.param == "sqlite":
        yield request.param
        return
    with request.getfixturevalue("fresh_database")("kf_concurrent_drops") as url:
        monkeypatch.setenv("KLIKKFLOW_WAREHOUSE_URL", url)  # the daemon and its run workers inherit it
        yield request.param


def test_five_drops_in_concurrent_runs_lose_and_duplicate_nothing(
    klikkflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str
) -> None:
    tenants_dir = tmp_path / "tenants"
    _tenant_file(tenants_dir)
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tenants_dir))
    tenant = load_tenant("default")
    rows = _write_drops(tenant_home("default") / "inbox" / "onboarding")
    log = tmp_path / "daemon.log"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tenant_home("default")),
        "KLIKKFLOW_TENANT": "default",
        "PYTHONPATH": str(PROJECT_ROOT),
        # Pattern-only classification: this test is about concurrent writers, and loading the NER
        # model in each of the runs' step processes dominated its time on two cores.
        "KLIKKFLOW_SPACY_MODEL": "",
    }
    with tenant_instance(tenant) as instance, log.open("w") as out:
        daemon = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-daemon")),
                "run",
                "-m",
                "klikkflow_pipelines.definitions",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            runs = _wait_for_runs(instance, daemon, log)
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()

        assert len(runs) == DROPS, "one run per drop, none duplicated"
        assert all(r.status == DagsterRunStatus.SUCCESS for r in runs), [r.status for r in runs]
        # The runs really overlapped: some run started before another had finished.
        spans = sorted(
            (r.start_time, r.end_time) for r in (instance.get_run_record_by_id(x.run_id) for x in runs)
        )
        assert any(s1 < s2 < e1 for s1, e1 in spans for s2, _e2 in spans)

        # Nothing lost, nothing duplicated: the union of customers, latest signup per e-mail.
        store = (
            WarehouseResource(url=os.environ["KLIKKFLOW_WAREHOUSE_URL"])
            if warehouse == "postgres"
            else build_resources(tenant)["warehouse"]
        )
        stored = store.read_frame("SELECT customer_ref, email, source_file FROM customers")
        store.engine().dispose()
        assert stored.height == len({r["email"] for r in rows})
        assert set(stored["customer_ref"]) == _latest_per_email(rows)

        # Each run's raw frame holds its own drop and nothing else.
        for run in runs:
            events = [
                e.asset_materialization
                for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
                if e.asset_materialization.asset_key == AssetKey("raw_customer_drops")
            ]
            (raw,) = events
            assert raw.partition is not None, "each drop is its own partition"
            frame = pl.read_parquet(raw.metadata["path"].value)
            drop = raw.partition.split("@")[0]
            assert frame["source_file"].unique().to_list() == [drop]
            assert frame.height == ROWS_PER_DROP
