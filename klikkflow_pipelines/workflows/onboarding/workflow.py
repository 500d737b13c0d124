"""The customer onboarding workflow template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from compliance.quality import SUITES_DIR, suite_asset_check
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.paths import klikkflow_home, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.onboarding.assets import (
    CUSTOMER_DROPS,
    DROP_SUFFIXES,
    GROUP,
    build_onboarding_assets,
    clean_customers_unique_email,
    drop_partition_key,
)
from klikkflow_pipelines.workflows.template import (
    TemplateParams,
    WorkflowDefs,
    WorkflowTemplate,
    workflow_job,
)
from sensors.event_partitions import DropSource
from sensors.file_arrival import ArrivedFile, build_file_arrival_sensor
from sensors.schedules import build_tenant_schedule, unfinished_dynamic_partitions


class OnboardingParams(TemplateParams):
    """Parameters of the customer onboarding workflow."""

    inbox_dir: str | None = Field(
        default=None, description="drop folder; default <tenant home>/inbox/onboarding"
    )
    sensor_interval_seconds: int = Field(default=30, ge=5)
    min_file_age_seconds: float = Field(default=2.0, ge=0)


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
    sensor = build_file_arrival_sensor(
        "customer_drop_arrival",
        job,
        inbox,
        DROP_SUFFIXES,
        run_config_for=_drop_run_config,
        min_age_seconds=params.min_file_age_seconds,
        interval_seconds=params.sensor_interval_seconds,
        partitions=(CUSTOMER_DROPS, _drop_partition),
    )
    return WorkflowDefs(
        assets=assets,
        asset_checks=[
            clean_customers_unique_email,
            suite_asset_check("clean_customers", SUITES_DIR / "clean_customers.yaml", CUSTOMER_DROPS),
        ],
        jobs=[job],
        schedules=[schedule],
        sensors=[sensor],
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
