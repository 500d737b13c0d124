"""The insurance claims processing workflow template."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from compliance.quality import SUITES_DIR, suite_asset_check
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.claims.assets import (
    GROUP,
    build_claims_assets,
    build_routed_claims_check,
    claims_partitions,
)
from klikkflow_pipelines.workflows.template import (
    TemplateParams,
    WorkflowDefs,
    WorkflowTemplate,
    workflow_job,
)
from sensors.schedules import build_tenant_schedule, business_date_partition


class ClaimsParams(TemplateParams):
    """Routing thresholds of the claims workflow."""

    schedule: str = "0 7-18 * * 1-5"
    review_threshold: int = Field(default=40, ge=0, le=100)
    fraud_threshold: int = Field(default=70, ge=0, le=100)
    auto_approve_limit: float = Field(default=20_000, gt=0, description="largest amount paid without review")

    @field_validator("fraud_threshold")
    @classmethod
    def _above_review(cls, value: int, info: ValidationInfo) -> int:
        review = info.data.get("review_threshold")
        if review is not None and value <= review:
            raise ValueError(f"fraud_threshold ({value}) must be greater than review_threshold ({review})")
        return value


def build_claims(tenant: TenantConfig, params: ClaimsParams) -> WorkflowDefs:
    """Assets, job and schedule of claims processing for one tenant, one partition per local business date."""
    partitions = claims_partitions(tenant.timezone)
    assets = build_claims_assets(
        params.review_threshold, params.fraud_threshold, params.auto_approve_limit, partitions
    )
    job = workflow_job(
        tenant, "claims_processing", GROUP, "Validate, score, route and record the day's insurance claims."
    )
    schedule = build_tenant_schedule(
        "claims_processing_business_hours",
        job,
        params.schedule,
        tenant.timezone,
        partition_keys_for=business_date_partition,
        enabled=params.schedule_enabled,
    )
    return WorkflowDefs(
        assets=assets,
        asset_checks=[
            build_routed_claims_check(partitions),
            suite_asset_check("routed_claims", SUITES_DIR / "routed_claims.yaml", partitions),
        ],
        jobs=[job],
        schedules=[schedule],
    )


CLAIMS = WorkflowTemplate(
    name="claims_processing",
    description="Insurance claims: validate, score with transparent rules, route to queues, record outcomes.",
    params_model=ClaimsParams,
    build=build_claims,
)
