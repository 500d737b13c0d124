"""The customer onboarding workflow template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from compliance.quality import SUITES_DIR, suite_asset_check
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.events.dead_letters import DeadLetters
from klikkflow_pipelines.events.drop_inbox import DropProblem, check_drop, reject_drop, rejected_path
from klikkflow_pipelines.paths import klikkflow_home, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine
from klikkflow_pipelines.workflows.onboarding.assets import (
    CUSTOMER_DROPS,
    DROP_PROBLEM_METADATA,
    DROP_SUFFIXES,
    GROUP,
    build_onboarding_assets,
    clean_customers_unique_email,
    drop_partition_key,
    drop_version,
)
from klikkflow_pipelines.workflows.onboarding.cleaning import REQUIRED_COLUMNS
from klikkflow_pipelines.workflows.template import (
    TemplateParams,
    WorkflowDefs,
    WorkflowTemplate,
    workflow_job,
)
from sensors.event_partitions import DropSource
from sensors.file_arrival import ArrivedFile, Rejecter, build_file_arrival_sensor
from sensors.processed_drops import build_failed_drop_sensor, build_processed_drop_sensor
from sensors.schedules import build_tenant_schedule, unfinished_dynamic_partitions


class OnboardingParams(TemplateParams):
    """Parameters of the customer onboarding workflow."""

    inbox_dir: str | None = Field(
        default=None, description="drop folder; default <tenant home>/inbox/onboarding"
    )
    sensor_interval_seconds: int = Field(default=30, ge=5)
    min_file_age_seconds: float = Field(default=2.0, ge=0)
    max_drop_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="larger drops are rejected (moved to rejected/)"
    )


def onboarding_inbox(tenant: TenantConfig, params: OnboardingParams) -> Path:
    """The folder the file-arrival sensor watches; never inside another tenant's home.

    Raises :class:`ConfigError` naming ``inbox_dir`` when it resolves into the tenants' folder
    outside this tenant's own home.
    """
    default = tenant_home(tenant.id) / "inbox" / "onboarding"
    if not params.inbox_dir:
        return default
    inbox = Path(params.inbox_dir).resolve()
    homes = (klikkflow_home() / "tenants").resolve()
    if inbox.is_relative_to(homes) and not inbox.is_relative_to(homes / tenant.id):
        raise ConfigError(
            [
                ConfigProblem(
                    tenant.source_path or f"tenant {tenant.id}",
                    "workflows.customer_onboarding.params.inbox_dir",
                    f"{params.inbox_dir!r} resolves to {inbox}, another tenant's folder under {homes}",
                    f"use a folder of tenant {tenant.id!r}, e.g. the default {default}",
                )
            ]
        )
    return inbox


def _drop_partition(arrived: ArrivedFile) -> str:
    return drop_partition_key(arrived.path.name, arrived.mtime_ns)


def _drop_run_config(path: Path) -> dict[str, Any]:
    return {"ops": {"raw_customer_drops": {"config": {"paths": [str(path)]}}}}


def _rejecter(tenant: TenantConfig, inbox: Path, workflow: str) -> Rejecter:
    """Dead-letter a drop that failed validation, then move it to ``rejected/`` with its reason.

    Dead-lettered first: a crash in between leaves the file in the inbox, and the next tick (same
    cursor) rejects it again, idempotently. If the file changed meanwhile (a newer version of the
    same name), nothing moves and the entry is withdrawn; the new version gets its own check.
    """

    def reject(arrived: ArrivedFile, problem: DropProblem) -> int | None:
        name, mtime_ns = arrived.path.name, arrived.mtime_ns
        letters = DeadLetters(tenant_storage_engine(tenant.id))
        try:
            entry = letters.add_rejected_drop(
                tenant=tenant.id,
                workflow=workflow,
                inbox=inbox,
                name=name,
                mtime_ns=mtime_ns,
                rejected_file=rejected_path(inbox, name, mtime_ns),
                problem=problem,
            )
            if reject_drop(inbox, name, mtime_ns, problem, workflow) is None:
                letters.purge(entry_ids=[entry.id])
                return None
            return entry.id
        finally:
            letters.engine.dispose()

    return reject


def build_onboarding(tenant: TenantConfig, params: OnboardingParams) -> WorkflowDefs:
    """Assets, job, schedule and file-arrival sensor of customer onboarding for one tenant."""
    inbox = onboarding_inbox(tenant, params)
    assets = build_onboarding_assets(inbox)
    job = workflow_job(
        tenant,
        "customer_onboarding",
        GROUP,
        "Ingest customer drops, clean and de-duplicate them, load the warehouse.",
    )
    schedule = build_tenant_schedule(
        "customer_onboarding_daily",
        job,
        params.schedule,
        tenant.timezone,
        partition_keys_for=unfinished_dynamic_partitions(CUSTOMER_DROPS, "warehouse_customers"),
        enabled=params.schedule_enabled,
    )
    rejecter = _rejecter(tenant, inbox, job.name)
    sensor = build_file_arrival_sensor(
        "customer_drop_arrival",
        job,
        inbox,
        DROP_SUFFIXES,
        run_config_for=_drop_run_config,
        min_age_seconds=params.min_file_age_seconds,
        interval_seconds=params.sensor_interval_seconds,
        partitions=(CUSTOMER_DROPS, _drop_partition),
        check=lambda path: check_drop(path, inbox, DROP_SUFFIXES, REQUIRED_COLUMNS, params.max_drop_bytes),
        on_reject=rejecter,
    )
    processed = build_processed_drop_sensor(
        "customer_drop_processed",
        job,
        inbox,
        version_of=drop_version,
        reader_asset="raw_customer_drops",
        interval_seconds=params.sensor_interval_seconds,
    )
    failed = build_failed_drop_sensor(
        "customer_drop_failed",
        job,
        inbox,
        version_of=drop_version,
        problem_metadata_key=DROP_PROBLEM_METADATA,
        reject=rejecter,
        partitions_def=CUSTOMER_DROPS,
        interval_seconds=params.sensor_interval_seconds,
    )
    return WorkflowDefs(
        assets=assets,
        asset_checks=[
            clean_customers_unique_email,
            suite_asset_check("clean_customers", SUITES_DIR / "clean_customers.yaml", CUSTOMER_DROPS),
        ],
        jobs=[job],
        schedules=[schedule],
        sensors=[sensor, processed, failed],
        drop_sources={
            CUSTOMER_DROPS.name: DropSource(inbox, DROP_SUFFIXES, _drop_partition, _drop_run_config)
        },
    )


ONBOARDING = WorkflowTemplate(
    name="customer_onboarding",
    description="Customer onboarding ETL: CSV/JSON drops → clean, de-duplicated customers in the warehouse.",
    params_model=OnboardingParams,
    build=build_onboarding,
)
