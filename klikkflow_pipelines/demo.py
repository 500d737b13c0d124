"""The demo: run the sample workflows on a tenant's own embedded instance and summarise them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg
from dagster import DagsterEventType, DagsterInstance

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.onboarding.sample_data import write_sample_drops
from klikkflow_pipelines.workflows.onboarding.workflow import OnboardingParams, onboarding_inbox

DEMO_JOBS = ("customer_onboarding_job", "claims_processing_job", "operations_report_job")


@dataclass(frozen=True)
class JobSummary:
    """What one demo run did."""

    job: str
    run_id: str
    success: bool
    assets: int
    rows: int
    checks_passed: int
    checks_failed: int
    seconds: float


def seed_inbox(tenant: TenantConfig) -> int:
    """Put the bundled sample drops in the onboarding inbox when it is empty; returns files written."""
    settings = tenant.workflows.get("customer_onboarding")
    params = OnboardingParams.model_validate(settings.params if settings else {})
    inbox = onboarding_inbox(tenant, params)
    if inbox.is_dir() and any(inbox.iterdir()):
        return 0
    return len(write_sample_drops(inbox))


def summarise(result: dg.ExecuteInProcessResult, job: str, seconds: float) -> JobSummary:
    """Assets, rows and check outcomes of one finished run."""
    rows = assets = 0
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        assets += 1
        count = materialization.metadata.get("dagster/row_count")
        rows += int(count.value) if count is not None and count.value is not None else 0
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    passed = sum(1 for e in evaluations if e.passed)
    return JobSummary(
        job, result.run_id, result.success, assets, rows, passed, len(evaluations) - passed, seconds
    )


def run_demo(
    tenant: TenantConfig,
    instance: DagsterInstance,
    on_start: Callable[[str], None] = lambda _job: None,
) -> list[JobSummary]:
    """Run every demo job of ``tenant`` on ``instance`` in order; returns one summary per job."""
    seed_inbox(tenant)
    defs = build_definitions(tenant)
    run_config = {"ops": {"raw_claims": {"config": {"business_date": date.today().isoformat()}}}}
    summaries = []
    available = {job.name for job in defs.jobs}
    for job_name in (j for j in DEMO_JOBS if j in available):
        on_start(job_name)
        job = defs.resolve_job_def(job_name)
        config = {
            "ops": {k: v for k, v in run_config["ops"].items() if k in job.graph.node_names()},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        }
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
        summaries.append(summarise(result, job_name, time.perf_counter() - started))
    return summaries


def demo_warehouse_path(tenant: TenantConfig) -> str:
    """Where the embedded warehouse of ``tenant`` lives."""
    return str(tenant_home(tenant.id) / "warehouse.db")
