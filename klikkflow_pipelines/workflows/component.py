"""Workflow templates as a Dagster Component, so a ``defs.yaml`` can instantiate one.

The tenant code locations build their workflows from the tenant file
(``workflows:`` in ``deploy/tenants/<id>.yaml``); this component is the same
template library for Dagster Components projects (``dg`` tooling, ``defs/``
folders). Both go through :func:`klikkflow_pipelines.workflows.registry.build_workflow`,
so parameters are validated the same way::

    # defs/claims/defs.yaml
    type: klikkflow_pipelines.workflows.component.WorkflowComponent
    attributes:
      tenant: acme
      template: claims_processing
      params:
        schedule: "0 7 * * *"
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.workflows.registry import build_workflow


class WorkflowComponent(dg.Component, dg.Resolvable, dg.Model):
    """One KlikkFlow workflow template, built for one tenant, with that tenant's resources."""

    tenant: str = Field(description="tenant id (a file in the tenants directory)")
    template: str = Field(description="workflow template name, e.g. customer_onboarding")
    params: dict[str, Any] = Field(default_factory=dict, description="the template's parameters")
    with_resources: bool = Field(
        default=True,
        description="govern with the tenant's warehouse, IO managers and keys (false: its location does)",
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The template's assets, checks, job, schedule and sensors (and the tenant's resources)."""
        tenant = load_tenant(self.tenant)
        file = str(context.path / "defs.yaml")
        fields = (("attributes", "template"), ("attributes", "params"))
        workflow = build_workflow(tenant, self.template, self.params, file, fields)
        defs = dg.Definitions(
            assets=workflow.assets,
            asset_checks=workflow.asset_checks,
            jobs=workflow.jobs,
            schedules=workflow.schedules,
            sensors=workflow.sensors,
        )
        return govern_definitions(defs, tenant, file) if self.with_resources else defs
