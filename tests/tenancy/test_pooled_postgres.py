"""The pooled Postgres storage on the real server: same behaviour as dagster-postgres, fewer connections."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from sqlalchemy import event

from klikkflow_pipelines.tenancy import pooled_postgres
from klikkflow_pipelines.tenancy.pooled_postgres import (
    PooledPostgresEventLogStorage,
    PooledPostgresRunStorage,
    PooledPostgresScheduleStorage,
    storage_config,
)

pytestmark = pytest.mark.postgres


@dg.asset
def numbers() -> list[int]:
    """A small asset to materialize."""
    return [1, 2, 3]


@pytest.fixture
def instance(tmp_path: Path, fresh_database) -> Iterator[dg.DagsterInstance]:
    """A persistent instance on the pooled storage in a fresh database, from its dagster.yaml."""
    with fresh_database("kf_pool") as url:
        config = {"storage": storage_config(url.replace("+psycopg2", "")), "telemetry": {"enabled": False}}
        (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        with dg.DagsterInstance.from_config(str(tmp_path)) as opened:
            yield opened


def _count(engine, event_name: str) -> list[int]:
    counter = [0]

    def bump(*_args) -> None:
        counter[0] += 1

    event.listen(engine, event_name, bump)
    return counter


def test_instance_runs_on_pooled_storages_and_reuses_connections(instance: dg.DagsterInstance) -> None:
    run_storage = instance._run_storage
    assert isinstance(run_storage, PooledPostgresRunStorage)
    assert isinstance(instance._event_storage, PooledPostgresEventLogStorage)
    assert isinstance(instance._schedule_storage, PooledPostgresScheduleStorage)
    connects = _count(run_storage._engine, "connect")
    for _ in range(5):
        assert dg.materialize([numbers], instance=instance).success
    assert len(instance.get_runs()) == 5
    assert instance.get_latest_materialization_event(numbers.key) is not None
    # Dozens of run-storage calls, one thread: one connection, opened once and reused.
    assert connects[0] == 1


def test_run_worker_rebuilds_the_same_storages_from_the_instance_ref(instance: dg.DagsterInstance) -> None:
    assert dg.materialize([numbers], instance=instance).success
    with dg.DagsterInstance.from_ref(instance.get_ref()) as worker_view:
        assert isinstance(worker_view._run_storage, PooledPostgresRunStorage)
        assert [r.run_id for r in worker_view.get_runs()] == [r.run_id for r in instance.get_runs()]


def test_schema_and_snapshot_checks_are_cached_once_true(instance: dg.DagsterInstance) -> None:
    run_storage = instance._run_storage
    result = dg.materialize([numbers], instance=instance)
    snapshot_id = instance.get_run_by_id(result.run_id).job_snapshot_id
    assert run_storage.has_backfill_id_column() and run_storage.has_job_snapshot(snapshot_id)
    statements = _count(run_storage._engine, "before_cursor_execute")
    assert run_storage.has_backfill_id_column() and run_storage.has_run_stats_index_cols()
    assert run_storage.has_job_snapshot(snapshot_id)
    assert statements[0] == 0
    assert not run_storage.has_job_snapshot("0" * 40)  # an unknown snapshot is still looked up
    assert statements[0] == 1
    run_storage.wipe()
    assert not run_storage.has_job_snapshot(snapshot_id)  # wiped: the cache forgets it


def test_idle_connection_killed_by_the_server_is_replaced_before_use(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dg.materialize([numbers], instance=instance).success
    database = instance._run_storage._engine.url.database
    admin = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    admin.autocommit = True
    with admin.cursor() as cur:  # as a PostgreSQL restart or an idle timeout would
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (database,)
        )
        assert cur.fetchone()[0] >= 1
    admin.close()
    monkeypatch.setattr(pooled_postgres, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert len(instance.get_runs()) == 1  # no error: the dead pooled connection was swapped
    assert dg.materialize([numbers], instance=instance).success


def test_forked_child_opens_its_own_connections(instance: dg.DagsterInstance) -> None:
    assert dg.materialize([numbers], instance=instance).success
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the inherited pool was reset, so this uses a connection of its own
        try:
            os.write(write, str(len(instance.get_runs())).encode())
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 16) == b"1"
    os.waitpid(pid, 0)
    assert len(instance.get_runs()) == 1  # the parent's connection was not disturbed by the child
