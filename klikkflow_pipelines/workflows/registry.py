"""The shared workflow library: every template a tenant can enable, by name."""

from __future__ import annotations

from klikkflow_pipelines.workflows.claims.workflow import CLAIMS
from klikkflow_pipelines.workflows.onboarding.workflow import ONBOARDING
from klikkflow_pipelines.workflows.operations.workflow import OPERATIONS
from klikkflow_pipelines.workflows.template import WorkflowTemplate

TEMPLATES: dict[str, WorkflowTemplate] = {t.name: t for t in (ONBOARDING, CLAIMS, OPERATIONS)}
