"""The shared workflow library: every template a tenant can enable, by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, validate_mapping
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.claims.workflow import CLAIMS
from klikkflow_pipelines.workflows.onboarding.workflow import ONBOARDING
from klikkflow_pipelines.workflows.operations.workflow import OPERATIONS
from klikkflow_pipelines.workflows.template import WorkflowDefs, WorkflowTemplate

TEMPLATES: dict[str, WorkflowTemplate] = {t.name: t for t in (ONBOARDING, CLAIMS, OPERATIONS)}


def build_workflow(
    tenant: TenantConfig,
    template_name: str,
    params: Mapping[str, Any],
    file: str,
    fields: tuple[Sequence[str], Sequence[str]],
) -> WorkflowDefs:
    """Build one template for ``tenant`` with ``params``.

    Problems raise :class:`ConfigError` naming ``file`` and the field: ``fields``
    is where the template name and where its parameters sit in that file.
    """
    template_field, params_field = fields
    template = TEMPLATES.get(template_name)
    if template is None:
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    ".".join(template_field),
                    f"unknown workflow template {template_name!r}",
                    f"use one of {', '.join(sorted(TEMPLATES))}",
                )
            ]
        )
    validated = validate_mapping(file, dict(params), template.params_model, params_field)
    return template.build(tenant, validated)
