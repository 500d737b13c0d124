"""The one place where a tenant's Dagster Definitions are assembled.

``build_definitions(tenant)`` turns a tenant config into Definitions: the
shared workflow library's templates the tenant enabled, with its parameters,
run tags and resources. The module-level ``defs`` is the code location of
the tenant named by ``$KLIKKFLOW_TENANT`` (default ``default``), so each
tenant's code location is this module run with its own environment.
"""

from __future__ import annotations

import os

import dagster as dg

from compliance.io_manager import CompliantIOManager
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, validate_mapping
from klikkflow_pipelines.events.definitions import build_event_definitions
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenancy.instance import is_production
from klikkflow_pipelines.workflows.registry import TEMPLATES
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER, WorkflowDefs
from resources.frame_io import ParquetFrameIOManager
from resources.secrets import TENANT_KEY_ENV, SecretsResource, local_tenant_key_file
from resources.warehouse import WarehouseResource
from sensors.compliance_audit import build_compliance_audit_sensor

DEFAULT_POLICY = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"


def build_resources(tenant: TenantConfig) -> dict[str, object]:
    """Resources for the tenant, chosen per environment.

    Frames of governed assets pass the compliance layer (classification and
    the tenant's policy) before the Parquet storage writes them.

    ``KLIKKFLOW_WAREHOUSE_URL`` (read by Dagster at run time through
    ``dg.EnvVar``, so no URL or password is stored in code or run config)
    selects the production warehouse; without it the warehouse is a SQLite
    file in the tenant's home. ``KLIKKFLOW_STORAGE_DIR`` moves frame storage.
    """
    home = tenant_home(tenant.id)
    warehouse_url = (
        dg.EnvVar("KLIKKFLOW_WAREHOUSE_URL")
        if os.environ.get("KLIKKFLOW_WAREHOUSE_URL")
        else f"sqlite:///{home / 'warehouse.db'}"
    )
    storage_dir = os.environ.get("KLIKKFLOW_STORAGE_DIR") or str(home / "storage")
    frames = ParquetFrameIOManager(base_dir=storage_dir)
    if os.environ.get(TENANT_KEY_ENV):
        secrets = SecretsResource(tenant_key=dg.EnvVar(TENANT_KEY_ENV))
    elif is_production():
        secrets = SecretsResource()  # hash/tokenize rules then fail with "set KLIKKFLOW_TENANT_KEY"
    else:
        secrets = SecretsResource(tenant_key_file=str(local_tenant_key_file(home)))
    governed = CompliantIOManager(
        inner=frames,
        secrets=secrets,
        tenant_id=tenant.id,
        policy_path=str(tenant.policy_path() or DEFAULT_POLICY),
        destination="storage",
        region=tenant.region,
    )
    return {
        "warehouse": WarehouseResource(url=warehouse_url),
        "io_manager": frames,
        GOVERNED_IO_MANAGER: governed,
        "secrets": secrets,
    }


def build_workflows(tenant: TenantConfig) -> list[WorkflowDefs]:
    """Build every workflow the tenant enabled; all parameter problems are reported together."""
    file = tenant.source_path or f"tenant {tenant.id}"
    built, problems = [], []
    for name, settings in tenant.workflows.items():
        template = TEMPLATES.get(name)
        if template is None:
            problems.append(
                ConfigProblem(
                    file,
                    f"workflows.{name}",
                    "unknown workflow template",
                    f"use one of {', '.join(sorted(TEMPLATES))}",
                )
            )
            continue
        if not settings.enabled:
            continue
        try:
            params = validate_mapping(
                file, settings.params, template.params_model, ("workflows", name, "params")
            )
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        built.append(template.build(tenant, params))
    if problems:
        raise ConfigError(problems)
    return built


def build_definitions(tenant: TenantConfig) -> dg.Definitions:
    """The tenant's Definitions: its enabled workflows, per-environment resources and the
    event triggers (webhook/queue outbox sensors, failure alerts, dead letters) of its jobs."""
    workflows = build_workflows(tenant)
    jobs = [j for w in workflows for j in w.jobs]
    workflow_defs = dg.Definitions(
        assets=[a for w in workflows for a in w.assets],
        asset_checks=[c for w in workflows for c in w.asset_checks],
        jobs=jobs,
        schedules=[s for w in workflows for s in w.schedules],
        sensors=[*(s for w in workflows for s in w.sensors), build_compliance_audit_sensor(tenant.id)],
        resources=build_resources(tenant),
    )
    return dg.Definitions.merge(workflow_defs, build_event_definitions(tenant, jobs))


def current_tenant_id() -> str:
    """The tenant this process serves: ``$KLIKKFLOW_TENANT`` or ``default``."""
    return os.environ.get("KLIKKFLOW_TENANT", "default")


defs = build_definitions(load_tenant(current_tenant_id()))
