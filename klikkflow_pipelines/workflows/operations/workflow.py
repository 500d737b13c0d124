"""The daily operations report workflow template."""

from __future__ import annotations

from pydantic import Field

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.operations.assets import GROUP, build_operations_assets
from klikkflow_pipelines.workflows.template import (
    TemplateParams,
    WorkflowDefs,
    WorkflowTemplate,
    workflow_job,
)
from sensors.schedules import build_tenant_schedule


class OperationsParams(TemplateParams):
    """Window of the operations report."""

    schedule: str = "30 7 * * *"
    lookback_hours: int = Field(default=24, ge=1, le=24 * 31)


def build_operations(tenant: TenantConfig, params: OperationsParams) -> WorkflowDefs:
    """Assets, job and schedule of the daily operations report for one tenant."""
    job = workflow_job(
        tenant,
        "operations_report",
        GROUP,
        "Runs, rows and failures per workflow from this tenant's Dagster instance.",
    )
    schedule = build_tenant_schedule(
        "operations_report_daily", job, params.schedule, tenant.timezone, enabled=params.schedule_enabled
    )
    return WorkflowDefs(
        assets=build_operations_assets(params.lookback_hours, tenant.timezone),
        jobs=[job],
        schedules=[schedule],
    )


OPERATIONS = WorkflowTemplate(
    name="operations_report",
    description="Daily operations report: runs, rows and failures per workflow.",
    params_model=OperationsParams,
    build=build_operations,
)
