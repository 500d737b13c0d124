"""Plan quotas enforced by Dagster's real QueuedRunCoordinator daemon on a real instance.

The instance config is the tenant's rendered ``dagster.yaml`` (plan limits filled in); only the
run launcher is Dagster's recording test launcher, so launches are counted instead of executed.
Runs are created and submitted through the instance exactly as the webserver submits them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterRunStatus, instance_for_test
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, RunsFilter
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenancy.instance import render_instance_config
from klikkflow_pipelines.tenancy.run_tags import tenant_run_tags

from .queue_defs import tenant_job

RECORDING_LAUNCHER = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}


def _instance_overrides(tenant: TenantConfig, **runs_overrides: object) -> dict:
    config = render_instance_config(tenant, production=False)
    config.pop("storage")  # instance_for_test supplies a temporary SQLite storage
    config["concurrency"]["runs"].update(runs_overrides)
    config["run_launcher"] = RECORDING_LAUNCHER
    return config


@pytest.fixture
def globex() -> TenantConfig:
    tenant = load_tenant("globex")
    assert tenant.plan.max_concurrent_runs == 2
    return tenant


@contextmanager
def _daemon_context(instance: dg.DagsterInstance):  # type: ignore[no-untyped-def]
    """The daemon's workspace: the code location the runs are submitted from, loaded in process."""
    origin = LoadableTargetOrigin(
        python_file=str(Path(__file__).with_name("queue_defs.py")), attribute="defs"
    )
    target = InProcessTestWorkspaceLoadTarget(InProcessCodeLocationOrigin(origin))
    with create_test_daemon_workspace_context(target, instance) as context:
        yield context


def _submit(instance: dg.DagsterInstance, workspace, tags: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """Create and submit a run the way the webserver does: with its code origins, through the coordinator."""
    location = workspace.get_code_location(workspace.code_location_names[0])
    remote_job = next(iter(location.get_repositories().values())).get_full_job("tenant_job")
    run = instance.create_run_for_job(
        tenant_job,
        tags=tags,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
    )
    instance.submit_run(run.run_id, workspace)
    return run.run_id


def _finish_in_progress(instance: dg.DagsterInstance) -> None:
    for run in instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES))):
        event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
        instance.report_dagster_event(event, run_id=run.run_id)


def _in_progress(instance: dg.DagsterInstance) -> int:
    return len(instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES))))


@pytest.fixture
def daemon() -> Iterator[QueuedRunCoordinatorDaemon]:
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as coordinator:
        yield coordinator


def test_plan_limit_two_of_ten_queued_and_priority_first(globex: TenantConfig, daemon) -> None:
    base_tags = tenant_run_tags(globex)
    with (
        instance_for_test(overrides=_instance_overrides(globex)) as instance,
        _daemon_context(instance) as context,
    ):
        workspace = context.create_request_context()
        expected_order = []
        background = []
        for index in range(10):
            # every third run is a background re-run the tenant demoted below its plan priority
            # (a boost above the plan is replaced by the tenant run coordinator)
            priority = int(base_tags["dagster/priority"]) - (5 if index % 3 == 0 else 0)
            run_id = _submit(instance, workspace, {**base_tags, "dagster/priority": str(priority)})
            (background if index % 3 == 0 else expected_order).append(run_id)
        expected_order = expected_order + background
        assert len(instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))) == 10

        launched: list[str] = []
        max_seen = 0
        for _ in range(12):
            list(daemon.run_iteration(context))
            max_seen = max(max_seen, _in_progress(instance))
            # a second pass without any run finishing must not launch more
            list(daemon.run_iteration(context))
            max_seen = max(max_seen, _in_progress(instance))
            launched = [run.run_id for run in instance.run_launcher.queue()]
            _finish_in_progress(instance)
            if len(launched) == 10:
                break

    assert max_seen == 2
    assert launched == expected_order
    assert len(set(launched)) == 10


def test_one_tenant_cannot_take_another_tenants_slots(daemon) -> None:
    """With a shared instance, the per-tenant tag limit keeps a busy tenant from starving a quiet one.

    A shared instance runs Dagster's plain queued coordinator: a tenant instance's coordinator
    would stamp its own tenant's tags on the other tenant's runs.
    """
    acme, globex = load_tenant("acme"), load_tenant("globex")
    overrides = _instance_overrides(acme, max_concurrent_runs=10)
    overrides["run_coordinator"] = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}
    overrides["concurrency"]["runs"]["tag_concurrency_limits"][0]["limit"] = 2
    with (
        instance_for_test(overrides=overrides) as instance,
        _daemon_context(instance) as context,
    ):
        workspace = context.create_request_context()
        acme_runs = [_submit(instance, workspace, tenant_run_tags(acme)) for _ in range(10)]
        globex_runs = [_submit(instance, workspace, tenant_run_tags(globex)) for _ in range(3)]
        list(daemon.run_iteration(context))
        launched = [run.run_id for run in instance.run_launcher.queue()]

    assert launched[:2] == acme_runs[:2]  # acme has the higher plan priority
    assert sorted(launched[2:]) == sorted(globex_runs[:2])
    assert len(launched) == 4
