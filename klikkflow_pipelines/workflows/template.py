"""What a workflow template is: parameters in, Dagster definitions out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import dagster as dg
from dagster._utils.schedules import is_valid_cron_string
from pydantic import BaseModel, ConfigDict, Field, field_validator

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.run_tags import WORKFLOW_TAG, tenant_run_tags

ParamsT = TypeVar("ParamsT", bound="TemplateParams")

GOVERNED_IO_MANAGER = "governed_io_manager"
"""IO manager key of assets whose frames go through the compliance layer before storage."""


class TemplateParams(BaseModel):
    """Parameters every template accepts; templates add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str = Field(default="0 6 * * *", description="cron string, in the tenant's time zone")
    schedule_enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a valid cron string; use five fields, e.g. '0 6 * * *'")
        return value


def run_workflow(run: dg.DagsterRun) -> str:
    """The workflow a run belongs to: its ``klikkflow/workflow`` tag, else its job name."""
    return run.tags.get(WORKFLOW_TAG, run.job_name)


def workflow_job_name(workflow: str) -> str:
    """The name of a workflow's job (``customer_onboarding`` -> ``customer_onboarding_job``)."""
    return f"{workflow}_job"


def workflow_job(tenant: TenantConfig, workflow: str, group: str, description: str) -> Any:
    """The asset job of one workflow: its asset group, with the tenant's run tags and the workflow tag."""
    return dg.define_asset_job(
        workflow_job_name(workflow),
        selection=dg.AssetSelection.groups(group),
        tags={**tenant_run_tags(tenant), WORKFLOW_TAG: workflow},
        description=description,
    )


@dataclass
class WorkflowDefs:
    """The Dagster objects one workflow contributes to a tenant's Definitions."""

    assets: list[Any] = field(default_factory=list)
    asset_checks: list[Any] = field(default_factory=list)
    jobs: list[Any] = field(default_factory=list)
    schedules: list[Any] = field(default_factory=list)
    sensors: list[Any] = field(default_factory=list)
    drop_sources: dict[str, Any] = field(default_factory=dict)
    """Inbox of each dynamic partitions definition (by name), for event-triggered runs naming a drop."""


@dataclass(frozen=True)
class WorkflowTemplate(Generic[ParamsT]):
    """A reusable workflow: a name, a parameter model and a builder."""

    name: str
    description: str
    params_model: type[ParamsT]
    build: Callable[[TenantConfig, ParamsT], WorkflowDefs]
