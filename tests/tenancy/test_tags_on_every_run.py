"""Every run of a tenant instance carries the tenant's tags, whatever tenant code or the launcher set.

A real tenant instance (its rendered ``dagster.yaml``, only the run launcher swapped for Dagster's
recording test launcher so launches are recorded instead of executed) and a tenant code location
that forges tags on everything (tests/tenancy/tenant_code_defs.py). Runs are asked for the way
Dagster asks for them: GraphQL ``launchRun`` as the UI does (a direct asset materialization of
the implicit ``__ASSET_JOB``, a job, launchpad tags), GraphQL ``launchPartitionBackfill`` then
the backfill daemon's iteration, the sensor daemon's and the scheduler's iterations. The queue
daemon then dequeues them, and run monitoring enforces the stamped runtime limit.

Before the tenant run coordinator, all of these runs kept the forged tags (or none at all).
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.events import DagsterEvent
from dagster._core.events.log import EventLogEntry
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import RunsFilter
from dagster._core.storage.tags import BACKFILL_ID_TAG, SCHEDULE_NAME_TAG, SENSOR_NAME_TAG
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.monitoring.run_monitoring import check_run_timeout
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._daemon.sensor import execute_sensor_iteration
from dagster._scheduler.scheduler import launch_scheduled_runs
from dagster_graphql.test.utils import execute_dagster_graphql
from dagster_k8s.job import get_user_defined_k8s_config

from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenancy.instance import write_instance_config
from klikkflow_pipelines.tenancy.run_tags import LOCATION_TAG, TENANT_TAG, WORKFLOW_TAG, tenant_run_tags

from .tenant_code_defs import FORGED_TAGS

LOCATION = "tenant-code"
RECORDING_LAUNCHER = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
LOGGER = logging.getLogger("test_tags_on_every_run")
REPLACED = "KlikkFlow replaced run tags"

LAUNCH_RUN = """
mutation($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

LAUNCH_BACKFILL = """
mutation($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
  }
}
"""


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    return load_tenant("acme")


@contextmanager
def _tenant_site(
    tenant: TenantConfig, home: Path
) -> Iterator[tuple[DagsterInstance, WorkspaceProcessContext]]:
    """The tenant's instance from its rendered dagster.yaml, and a workspace of the tenant's own code."""
    write_instance_config(tenant, home)
    config_file = home / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["run_launcher"] = RECORDING_LAUNCHER
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    origin = LoadableTargetOrigin(
        python_file=str(Path(__file__).with_name("tenant_code_defs.py")), attribute="defs"
    )
    target = InProcessTestWorkspaceLoadTarget(InProcessCodeLocationOrigin(origin, location_name=LOCATION))
    with (
        DagsterInstance.from_config(str(home)) as instance,
        create_test_daemon_workspace_context(target, instance) as context,
    ):
        yield instance, context


@pytest.fixture(scope="module")
def site(
    acme: TenantConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DagsterInstance, WorkspaceProcessContext]]:
    """One tenant instance and workspace for the module; each test looks only at its own runs."""
    with _tenant_site(acme, tmp_path_factory.mktemp("acme")) as opened:
        yield opened


def _launch(
    context: WorkspaceProcessContext, job: str, tags: dict[str, str], assets: list[str] | None = None
) -> str:
    """Launch a run over GraphQL as the UI's launchpad and its Materialize button do; its run id."""
    selector: dict = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "jobName": job}
    if assets:
        selector["assetSelection"] = [{"path": [name]} for name in assets]
    params = {
        "selector": selector,
        "mode": "default",
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    result = execute_dagster_graphql(
        context.create_request_context(), LAUNCH_RUN, {"executionParams": params}
    )
    assert not result.errors, result.errors
    launched = result.data["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _expected(tenant: TenantConfig, workflow: str) -> dict[str, str]:
    return {**tenant_run_tags(tenant), LOCATION_TAG: LOCATION, WORKFLOW_TAG: workflow}


def _assert_governed(instance: DagsterInstance, tenant: TenantConfig, run_id: str, workflow: str) -> None:
    """The stored run carries the tenant's tags, in its body and in the tag rows the UI filters by."""
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == DagsterRunStatus.QUEUED
    expected = _expected(tenant, workflow)
    assert {key: run.tags.get(key) for key in expected} == expected
    for key, value in expected.items():
        assert run_id in {r.run_id for r in instance.get_runs(RunsFilter(tags={key: value}))}, key
    # what dagster-k8s's K8sRunLauncher builds the run pod from: the plan's resources, nothing privileged
    pod = get_user_defined_k8s_config(run.tags)
    plan_pod = json.loads(expected["dagster-k8s/config"])["container_config"]
    assert pod.container_config == plan_pod
    assert not instance.get_runs(RunsFilter(tags={TENANT_TAG: "globex"}))


def _replacements(instance: DagsterInstance, run_id: str) -> list[str]:
    """Messages of the engine events in the run's logs that report replaced tags."""
    return [
        entry.dagster_event.message or ""
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
        if entry.dagster_event and REPLACED in (entry.dagster_event.message or "")
    ]


def _assert_forgeries_reported(instance: DagsterInstance, run_id: str, *extra: str) -> None:
    (message,) = _replacements(instance, run_id)
    for key in (*FORGED_TAGS, *extra):
        assert f"{key} (" in message, (key, message)
    assert "'globex' -> 'acme'" in message and "'100' -> '10'" in message


def _finish_launched(instance: DagsterInstance) -> None:
    """End the runs the recording launcher started, freeing their queue slots."""
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTING])):
        event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
        instance.report_dagster_event(event, run_id=run.run_id)


def test_ui_asset_materialization_with_launchpad_forgeries_gets_tenant_tags(site, acme) -> None:
    """Attack: a launching user adds forged tags to a direct materialization (implicit asset job)."""
    instance, context = site
    run_id = _launch(context, "__ASSET_JOB", FORGED_TAGS, assets=["tenant_numbers"])
    _assert_governed(instance, acme, run_id, workflow=LOCATION)
    _assert_forgeries_reported(instance, run_id)
    log_types = [e.dagster_event.event_type for e in instance.all_logs(run_id) if e.dagster_event]
    assert log_types.index(DagsterEventType.ENGINE_EVENT) < log_types.index(DagsterEventType.RUN_ENQUEUED)


def test_job_with_forged_tags_keeps_its_workflow_and_loses_the_forgeries(site, acme) -> None:
    """Attack: the tenant's job definition sets another tenant, top priority, no runtime limit,
    a privileged pod; the launching user also claims a built-in workflow's name."""
    instance, context = site
    run_id = _launch(context, "forged_job", {WORKFLOW_TAG: "orders"})
    _assert_governed(instance, acme, run_id, workflow="tenant_reports")
    _assert_forgeries_reported(instance, run_id, WORKFLOW_TAG)
    clean = _launch(context, "forged_job", {})
    assert WORKFLOW_TAG not in _replacements(instance, clean)[0]


def test_backfill_runs_get_tenant_tags(site, acme) -> None:
    """Attack: a backfill launched with forged tags; its runs are submitted by the backfill daemon."""
    instance, context = site
    params = {
        "assetSelection": [{"path": ["regional_sales"]}],
        "partitionNames": ["eu", "us"],
        "tags": [{"key": k, "value": v} for k, v in FORGED_TAGS.items()],
    }
    result = execute_dagster_graphql(
        context.create_request_context(), LAUNCH_BACKFILL, {"backfillParams": params}
    )
    launched = result.data["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_filter = RunsFilter(tags={BACKFILL_ID_TAG: launched["backfillId"]})
    for _ in range(5):
        list(execute_backfill_iteration(context, LOGGER))
        if len(instance.get_runs(backfill_filter)) == 2:
            break
    runs = instance.get_runs(backfill_filter)
    assert len(runs) == 2
    for run in runs:
        _assert_governed(instance, acme, run.run_id, workflow=LOCATION)
        _assert_forgeries_reported(instance, run.run_id)


def test_sensor_run_gets_tenant_tags_and_its_run_key_still_dedupes(site, acme) -> None:
    """Attack: a sensor's run request forges tags, on a job that forges the location tag."""
    instance, context = site
    for _ in range(2):  # the second tick asks for the same run key again
        list(execute_sensor_iteration(context, LOGGER, None, None))
        time.sleep(1.1)
    (run,) = instance.get_runs(RunsFilter(tags={SENSOR_NAME_TAG: "forged_sensor"}))
    _assert_governed(instance, acme, run.run_id, workflow="plain_job")
    _assert_forgeries_reported(instance, run.run_id, LOCATION_TAG)


def test_schedule_run_gets_tenant_tags(site, acme) -> None:
    """Attack: a schedule's tags forge the tenant, priority, runtime and pod config."""
    instance, context = site
    now = datetime.datetime.now(datetime.UTC)
    list(launch_scheduled_runs(context, LOGGER, now, {}))  # a running schedule's first sight: its start
    list(launch_scheduled_runs(context, LOGGER, now + datetime.timedelta(seconds=61), {}))  # a minute on
    runs = instance.get_runs(RunsFilter(tags={SCHEDULE_NAME_TAG: "forged_schedule"}))
    assert runs
    for run in runs:
        _assert_governed(instance, acme, run.run_id, workflow="plain_job")
        _assert_forgeries_reported(instance, run.run_id, LOCATION_TAG)


def test_queue_daemon_orders_by_stamped_priority_and_limits_may_only_tighten(site, acme) -> None:
    """Attack: a run boosted to priority 100 must not jump the queue; runtime 0 or nan (which turn
    run monitoring's limit off) are replaced. Lowering one's own priority or runtime is allowed."""
    instance, context = site
    runs = {
        "plain": _launch(context, "plain_job", {}),
        "boosted": _launch(context, "plain_job", {"dagster/priority": "100"}),
        "unlimited": _launch(context, "plain_job", {"dagster/max_runtime": "0"}),
        "short": _launch(context, "plain_job", {"dagster/max_runtime": "60"}),
        "nan": _launch(context, "plain_job", {"dagster/max_runtime": "nan"}),
        "demoted": _launch(context, "plain_job", {"dagster/priority": "-5"}),
    }
    tags = {name: instance.get_run_by_id(run_id).tags for name, run_id in runs.items()}
    priorities = {name: "-5" if name == "demoted" else "10" for name in runs}
    runtimes = {name: "60" if name == "short" else "7200" for name in runs}
    assert {name: t["dagster/priority"] for name, t in tags.items()} == priorities
    assert {name: t["dagster/max_runtime"] for name, t in tags.items()} == runtimes
    assert [name for name, run_id in runs.items() if _replacements(instance, run_id)] == [
        "plain",  # its job's forged klikkflow/location
        "boosted",
        "unlimited",
        "short",
        "nan",
        "demoted",
    ]
    assert "dagster/priority" not in _replacements(instance, runs["demoted"])[0]
    assert "dagster/max_runtime" not in _replacements(instance, runs["short"])[0]

    with QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon:
        for _ in range(5):  # earlier tests' runs queue here too; 8 slots per iteration
            if not instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED])):
                break
            list(daemon.run_iteration(context))
            _finish_launched(instance)
    by_id = {run_id: name for name, run_id in runs.items()}
    launched = [run for run in instance.run_launcher.queue() if run.run_id in by_id]
    assert [by_id[run.run_id] for run in launched] == list(runs)  # FIFO at equal priority, demoted last
    # the launcher (in production the K8sRunLauncher, which reads dagster-k8s/config) gets the tenant's tags
    for run in launched:
        assert run.tags[TENANT_TAG] == "acme"
        assert run.tags["dagster-k8s/config"] == tenant_run_tags(acme)["dagster-k8s/config"]


def test_run_monitoring_stops_a_run_at_the_plan_runtime_despite_a_forged_one(site, acme) -> None:
    """Attack: the job asks for 999999999 s; run monitoring ends it after the plan's 7200 s."""
    instance, context = site
    run_id = _launch(context, "forged_job", {})
    started = time.time() - acme.plan.max_runtime_seconds - 5
    run = instance.get_run_by_id(run_id)
    for event_type in (DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START):
        event = DagsterEvent(event_type_value=event_type.value, job_name=run.job_name)
        instance.handle_new_event(
            EventLogEntry(
                error_info=None,
                level=logging.DEBUG,
                user_message="",
                run_id=run_id,
                timestamp=started,
                dagster_event=event,
            )
        )
    check_run_timeout(
        instance, instance.get_run_record_by_id(run_id), LOGGER, instance.run_monitoring_max_runtime_seconds
    )
    assert instance.get_run_by_id(run_id).status in (DagsterRunStatus.CANCELING, DagsterRunStatus.FAILURE)
    messages = [e.message for e in instance.all_logs(run_id)]
    assert any("maximum runtime of 7200 seconds" in message for message in messages)


def test_rendered_config_without_tenant_tags_refuses_to_load(tmp_path: Path, acme: TenantConfig) -> None:
    """Careless operator: the base dagster.yaml used as is would start an instance that tags nothing."""
    write_instance_config(acme, tmp_path)
    config_file = tmp_path / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["run_coordinator"]["config"]["tenant_tags"] = {}
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    with (
        DagsterInstance.from_config(str(tmp_path)) as instance,
        pytest.raises(dg.DagsterInvariantViolationError, match="tenant_tags: no klikkflow/tenant tag"),
    ):
        instance.run_coordinator  # noqa: B018  # built on first use
