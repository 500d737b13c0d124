"""A tenant's built-in Definitions, assembled in one place, with no work done at import.

``build_definitions(tenant)`` turns a tenant config into Definitions: the
shared workflow library's templates the tenant enabled, with its parameters,
run tags and resources, governed by :func:`klikkflow_pipelines.governance.govern_definitions`.
:mod:`klikkflow_pipelines.definitions` is the code location built from it for ``$KLIKKFLOW_TENANT``.
"""

from __future__ import annotations

import dagster as dg

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.events.config import load_events_config
from klikkflow_pipelines.events.definitions import build_event_definitions
from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.registry import TEMPLATES, build_workflow
from klikkflow_pipelines.workflows.template import WorkflowDefs
from sensors.compliance_audit import build_compliance_audit_sensor


def build_workflows(tenant: TenantConfig) -> list[WorkflowDefs]:
    """Build every workflow the tenant enabled; all parameter problems are reported together."""
    file = tenant.source_path or f"tenant {tenant.id}"
    built, problems = [], []
    for name, settings in tenant.workflows.items():
        if not settings.enabled and name in TEMPLATES:
            continue
        try:
            fields = (("workflows", name), ("workflows", name, "params"))
            built.append(build_workflow(tenant, name, settings.params, file, fields))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return built


def build_definitions(tenant: TenantConfig) -> dg.Definitions:
    """The tenant's Definitions: its enabled workflows, per-environment resources and the
    event triggers (webhook/queue outbox sensors, failure alerts, dead letters) of its jobs,
    governed by the same wrapper as every tenant code location (KlikkFlow's resources bound,
    every IO manager wrapped by the compliance IO manager)."""
    workflows = build_workflows(tenant)
    events_config = load_events_config(tenant.id)
    jobs = [j for w in workflows for j in w.jobs]
    workflow_defs = dg.Definitions(
        assets=[a for w in workflows for a in w.assets],
        asset_checks=[c for w in workflows for c in w.asset_checks],
        jobs=jobs,
        schedules=[s for w in workflows for s in w.schedules],
        sensors=[
            *(s for w in workflows for s in w.sensors),
            build_compliance_audit_sensor(tenant.id, events_config.audit_chain_interval_seconds),
        ],
    )
    drop_sources = {name: source for w in workflows for name, source in w.drop_sources.items()}
    events = build_event_definitions(tenant, jobs, events_config, drop_sources=drop_sources)
    location = tenant.source_path or f"tenant {tenant.id}"
    return govern_definitions(dg.Definitions.merge(workflow_defs, events), tenant, location)
