"""The tenant run coordinator on the production instance config: pooled Postgres storage, run-key claims.

The tenant's rendered production ``dagster.yaml`` (only the database name pointed at a fresh
database, and the recording launcher) with the tenant code location that forges tags: a sensor
run is stamped with the tenant's tags in the Postgres tag rows, and the run-key claim of the
pooled run storage still refuses a second run for the same key. Stamping is one transaction:
a kill between the run body and its tag rows leaves neither changed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.errors import DagsterRunAlreadyExists
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import RunsFilter
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.sensor import execute_sensor_iteration
from sqlalchemy import event
from sqlalchemy.engine import make_url

from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.instance import render_instance_config
from klikkflow_pipelines.tenancy.migrate import upgrade_dagster_storage
from klikkflow_pipelines.tenancy.pooled_postgres import PooledPostgresRunStorage, storage_config
from klikkflow_pipelines.tenancy.run_tags import LOCATION_TAG, TENANT_TAG, WORKFLOW_TAG, tenant_run_tags

from .tenant_code_defs import plain_job

pytestmark = pytest.mark.postgres
LOGGER = logging.getLogger("test_run_tags_pooled_postgres")


def test_sensor_run_on_pooled_postgres_is_stamped_and_its_run_key_stays_claimed(
    tmp_path: Path, fresh_database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a sensor run forging tenant and priority, on the production storage; then a second
    creator of the same run key (another submit thread or a resumed tick)."""
    acme = load_tenant("acme")
    with fresh_database("kf_runtags") as url:
        database = make_url(url)
        for key, value in {
            "KLIKKFLOW_PG_HOST": database.host,
            "KLIKKFLOW_PG_PORT": str(database.port),
            "KLIKKFLOW_PG_USER": database.username,
            "KLIKKFLOW_PG_PASSWORD": database.password or "trust-auth",
        }.items():
            monkeypatch.setenv(key, value)
        config = render_instance_config(acme, production=True)
        config["storage"]["custom"]["config"]["postgres_db"]["db_name"] = database.database
        config["run_launcher"] = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
        upgrade_dagster_storage(config)  # the migration: production processes create no tables
        (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        origin = LoadableTargetOrigin(
            python_file=str(Path(__file__).with_name("tenant_code_defs.py")), attribute="defs"
        )
        target = InProcessTestWorkspaceLoadTarget(
            InProcessCodeLocationOrigin(origin, location_name="tenant-code")
        )
        with (
            DagsterInstance.from_config(str(tmp_path)) as instance,
            create_test_daemon_workspace_context(target, instance) as context,
        ):
            assert isinstance(instance._run_storage, PooledPostgresRunStorage)
            for _ in range(2):
                list(execute_sensor_iteration(context, LOGGER, None, None))
                time.sleep(1.1)
            (run,) = instance.get_runs(RunsFilter(tags={SENSOR_NAME_TAG: "forged_sensor"}))
            expected = {**tenant_run_tags(acme), LOCATION_TAG: "tenant-code", WORKFLOW_TAG: "plain_job"}
            assert {key: run.tags[key] for key in expected} == expected
            # the tag rows (which the UI filters by and the claim reads) were updated, not only the body
            assert [r.run_id for r in instance.get_runs(RunsFilter(tags={TENANT_TAG: "acme"}))] == [
                run.run_id
            ]
            assert not instance.get_runs(RunsFilter(tags={TENANT_TAG: "globex"}))
            claim = {
                k: v for k, v in run.tags.items() if k in (RUN_KEY_TAG, SENSOR_NAME_TAG, REPOSITORY_LABEL_TAG)
            }
            with pytest.raises(DagsterRunAlreadyExists):
                instance.create_run_for_job(plain_job, tags=claim)


class _KilledMidway(Exception):
    """Raised by the fault injector in place of the process dying between two statements."""


def test_stamping_killed_between_body_and_tag_rows_leaves_the_run_as_it_was(
    tmp_path: Path, fresh_database
) -> None:
    """Kill in the middle: the run body is rewritten with the new tags, then the tag rows fail.

    Before the atomic ``add_run_tags`` the body kept the new tags while the tag rows did not, and
    a second stamping saw nothing to change: the run stayed invisible to tag filters for good.
    """
    with fresh_database("kf_runtags") as url:
        config = {"storage": storage_config(url.replace("+psycopg2", "")), "telemetry": {"enabled": False}}
        (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            run = instance.create_run_for_job(plain_job, tags={TENANT_TAG: "globex"})
            engine = instance._run_storage._engine

            def kill_at_tag_rows(_conn, _cursor, statement: str, *_args: object) -> None:
                if statement.lstrip().upper().startswith("INSERT INTO RUN_TAGS"):
                    raise _KilledMidway

            event.listen(engine, "before_cursor_execute", kill_at_tag_rows)
            try:
                with pytest.raises(_KilledMidway):
                    instance.add_run_tags(run.run_id, {TENANT_TAG: "acme", LOCATION_TAG: "tenant-code"})
            finally:
                event.remove(engine, "before_cursor_execute", kill_at_tag_rows)
            stored = instance.get_run_by_id(run.run_id)
            assert stored.tags[TENANT_TAG] == "globex" and LOCATION_TAG not in stored.tags
            assert instance.get_runs(RunsFilter(tags={TENANT_TAG: "globex"}))

            instance.add_run_tags(run.run_id, {TENANT_TAG: "acme", LOCATION_TAG: "tenant-code"})
            assert instance.get_run_by_id(run.run_id).tags[TENANT_TAG] == "acme"
            tagged = instance.get_runs(RunsFilter(tags={TENANT_TAG: "acme", LOCATION_TAG: "tenant-code"}))
            assert [r.run_id for r in tagged] == [run.run_id]
            assert not instance.get_runs(RunsFilter(tags={TENANT_TAG: "globex"}))
