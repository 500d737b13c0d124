"""The demo: run the sample workflows on a tenant's own embedded instance and summarise them.

Partitioned workflows run per partition, as the sensors and schedules run them:
each onboarding drop is added as its own dynamic partition and materialized in its
own run; claims run for today's business date in the tenant's time zone. The sample drops the
demo seeds into an empty inbox are removed when it ends, so the inbox is left as it was found.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster import DagsterEventType, DagsterInstance
from sqlalchemy.engine import make_url

from klikkflow_pipelines.events.drop_inbox import drop_mtime_ns, is_drop_candidate
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenant_definitions import build_definitions
from klikkflow_pipelines.workflows.onboarding.assets import CUSTOMER_DROPS, DROP_SUFFIXES, drop_partition_key
from klikkflow_pipelines.workflows.onboarding.sample_data import write_sample_drops
from klikkflow_pipelines.workflows.onboarding.workflow import OnboardingParams, onboarding_inbox

DEMO_JOBS = ("customer_onboarding_job", "claims_processing_job", "operations_report_job")


@dataclass(frozen=True)
class JobSummary:
    """What one demo run did."""

    job: str
    partition: str | None
    run_id: str
    success: bool
    assets: int
    rows: int
    checks_passed: int
    checks_failed: int
    seconds: float


def _inbox(tenant: TenantConfig) -> Path:
    settings = tenant.workflows.get("customer_onboarding")
    return onboarding_inbox(tenant, OnboardingParams.model_validate(settings.params if settings else {}))


@dataclass(frozen=True)
class Seeded:
    """What the demo put into an inbox: the files (with the version it wrote) and new folders."""

    files: dict[Path, int]
    folders: list[Path]


def seed_inbox(tenant: TenantConfig) -> Seeded:
    """Put the bundled sample drops in the onboarding inbox when it holds no drop; what was written."""
    inbox = _inbox(tenant)
    if inbox.is_dir() and any(is_drop_candidate(p) and p.suffix in DROP_SUFFIXES for p in inbox.iterdir()):
        return Seeded({}, [])
    folders = [d for d in (inbox.parent, inbox) if not d.exists()]
    written = write_sample_drops(inbox)
    return Seeded({p: p.stat().st_mtime_ns for p in written}, folders)


def clean_inbox(seeded: Seeded) -> None:
    """Remove what :func:`seed_inbox` wrote: its files, unless replaced since (a user's file of the
    same name stays), and the folders it created, when empty. Nothing else is touched."""
    for path, mtime_ns in seeded.files.items():
        if drop_mtime_ns(path) == mtime_ns:
            path.unlink()
    for folder in reversed(seeded.folders):
        with suppress(OSError):  # not empty: something else was put there
            folder.rmdir()


def drop_partitions(tenant: TenantConfig, instance: DagsterInstance) -> list[str]:
    """Add one dynamic partition per drop in the tenant's inbox (as the file sensor does); their keys."""
    inbox = _inbox(tenant)
    drops = sorted(p for p in inbox.glob("*") if p.is_file() and p.suffix in DROP_SUFFIXES)
    keys = [drop_partition_key(p.name, p.stat().st_mtime_ns) for p in drops]
    new = [k for k in keys if not instance.has_dynamic_partition(CUSTOMER_DROPS.name, k)]
    if new:
        instance.add_dynamic_partitions(CUSTOMER_DROPS.name, new)
    return keys


def business_date_today(tenant: TenantConfig) -> str:
    """Today's date in the tenant's time zone (not the host's): the claims partition of today."""
    return datetime.now(ZoneInfo(tenant.timezone)).date().isoformat()


def summarise(
    result: dg.ExecuteInProcessResult, job: str, seconds: float, partition: str | None = None
) -> JobSummary:
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
        job,
        partition,
        result.run_id,
        result.success,
        assets,
        rows,
        passed,
        len(evaluations) - passed,
        seconds,
    )


def run_demo(
    tenant: TenantConfig,
    instance: DagsterInstance,
    on_start: Callable[[str], None] = lambda _job: None,
) -> list[JobSummary]:
    """Run every demo job of ``tenant`` on ``instance`` in order, partitioned jobs once per partition;
    returns one summary per run. The sample drops it seeds are removed again afterwards."""
    seeded = seed_inbox(tenant)
    try:
        return _run_jobs(tenant, instance, on_start)
    finally:
        clean_inbox(seeded)  # a following `klikkflow dev` finds no demo drop to run


def _run_jobs(
    tenant: TenantConfig, instance: DagsterInstance, on_start: Callable[[str], None]
) -> list[JobSummary]:
    defs = build_definitions(tenant)
    partitions: dict[str, list[str | None]] = {
        "customer_onboarding_job": list(drop_partitions(tenant, instance)),
        "claims_processing_job": [business_date_today(tenant)],
    }
    summaries = []
    available = {job.name for job in defs.jobs}
    for job_name in (j for j in DEMO_JOBS if j in available):
        job = defs.resolve_job_def(job_name)
        for partition in partitions.get(job_name, [None]):
            on_start(f"{job_name} [{partition}]" if partition else job_name)
            started = time.perf_counter()
            result = job.execute_in_process(
                instance=instance,
                partition_key=partition,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                raise_on_error=False,
            )
            summaries.append(summarise(result, job_name, time.perf_counter() - started, partition))
    return summaries


def demo_warehouse(tenant: TenantConfig) -> str:
    """Where the demo's warehouse tables went: ``KLIKKFLOW_WAREHOUSE_URL`` (password hidden) when
    set, as the tenant's resources choose, else the tenant's embedded SQLite file."""
    if url := os.environ.get("KLIKKFLOW_WAREHOUSE_URL"):
        return make_url(url).render_as_string(hide_password=True)
    return str(tenant_home(tenant.id) / "warehouse.db")
