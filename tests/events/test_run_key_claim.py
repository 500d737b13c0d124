"""A run for one event (sensor run key) cannot be created twice, and a killed creator leaves no half-run.

Real Dagster instance on the production storage (pooled Postgres), real
threads and a real SIGKILLed process; no mocks.

* Concurrent creators of the same sensor run key (threads standing in for the
  daemon's submit threads, a resumed and a fresh tick): exactly one run.
* A process creating runs from 8 threads is SIGKILLed several times: every
  stored run has its ``dagster/run_key`` tag row, so Dagster's run-key
  de-duplication (which looks runs up by tag) can always see it. Before the
  fix the run row and its tags were two autocommitted statements.
* Retries and re-executions (``dagster/parent_run_id``) of a run keep its run
  key and are still allowed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.errors import DagsterRunAlreadyExists
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, ROOT_RUN_ID_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from sqlalchemy import create_engine, text

from .conftest import dagster_yaml
from .run_creator import intake_job

HERE = Path(__file__).parent
SENSOR = "intake_job_outbox_sensor"

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]


@pytest.fixture
def dagster_home(tmp_path: Path, pg_dagster_url: str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(pg_dagster_url), encoding="utf-8")
    return home


@pytest.fixture
def instance(dagster_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with dg.DagsterInstance.get() as instance:
        yield instance


def _create(instance: dg.DagsterInstance, run_key: str, **extra_tags: str) -> dg.DagsterRun:
    return instance.create_run_for_job(
        intake_job,
        run_id=str(uuid.uuid4()),
        tags={RUN_KEY_TAG: run_key, SENSOR_NAME_TAG: SENSOR, **extra_tags},
    )


def _race(instance: dg.DagsterInstance, run_key: str, creators: int = 8) -> list[str]:
    """``creators`` threads create a first run of ``run_key`` at the same moment; their outcomes."""
    barrier = threading.Barrier(creators)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            _create(instance, run_key)
            outcomes.append("created")
        except DagsterRunAlreadyExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=create) for _ in range(creators)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_concurrent_creators_of_one_event_run_key_make_exactly_one_run(instance) -> None:
    for attempt in range(5):
        run_key = f"evt_race_{attempt}"
        outcomes = _race(instance, run_key)
        runs = instance.get_runs(dg.RunsFilter(tags={RUN_KEY_TAG: run_key}))
        assert len(runs) == 1, f"{len(runs)} runs for one event (attempt {attempt}): {outcomes}"
        assert outcomes == ["created"] + ["refused"] * 7
    assert instance.get_runs_count() == 5


def test_retry_of_an_event_run_keeps_its_run_key_and_is_allowed(instance) -> None:
    first = _create(instance, "evt_retried")
    retry = _create(
        instance, "evt_retried", **{PARENT_RUN_ID_TAG: first.run_id, ROOT_RUN_ID_TAG: first.run_id}
    )
    assert retry.run_id != first.run_id
    with pytest.raises(DagsterRunAlreadyExists, match=first.run_id):
        _create(instance, "evt_retried")  # but not a second first run


def test_killed_run_creator_leaves_no_run_without_its_run_key_tag(
    tmp_path, dagster_home, pg_dagster_url
) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    engine = create_engine(pg_dagster_url)
    kills = 0
    for round_number in range(8):
        log = tmp_path / f"creator-{round_number}.log"
        with log.open("w") as handle:
            creator = subprocess.Popen(
                [sys.executable, str(HERE / "run_creator.py")],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        deadline = time.time() + 60
        while "creating runs" not in log.read_text() and time.time() < deadline:
            assert creator.poll() is None, log.read_text()
            time.sleep(0.05)
        time.sleep(0.5 + 0.15 * round_number)  # in the middle of creating runs
        os.kill(creator.pid, signal.SIGKILL)
        creator.wait()
        kills += 1
    time.sleep(1)  # statements the server received before the kill have finished
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM runs")).scalar_one()
        untagged = conn.execute(
            text(
                "SELECT count(*) FROM runs r WHERE NOT EXISTS "
                "(SELECT 1 FROM run_tags t WHERE t.run_id = r.run_id AND t.key = :key)"
            ),
            {"key": RUN_KEY_TAG},
        ).scalar_one()
    engine.dispose()
    assert kills == 8 and total > 50, f"the creator made only {total} runs"
    assert untagged == 0, f"{untagged} of {total} runs were stored without their run key tag"
