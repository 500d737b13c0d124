"""Each tenant's own Dagster instance.

The repo-root ``dagster.yaml`` (embedded default, SQLite) or
``deploy/dagster.production.yaml`` (``KLIKKFLOW_ENV=production``, Postgres) is
rendered into the tenant's home with the tenant's plan limits and database
name, so that every tenant has its own storage and its own run queue.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance

from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenancy.deploy_settings import (
    RUN_SERVICE_ACCOUNT,
    is_production,
    tenant_database_name,
    tenant_namespace,
    tenant_postgres_secret,
)
from klikkflow_pipelines.tenancy.run_tags import tenant_run_tags

EMBEDDED_CONFIG = PROJECT_ROOT / "dagster.yaml"
PRODUCTION_CONFIG = PROJECT_ROOT / "deploy" / "dagster.production.yaml"
RUN_LAUNCHER_ENV = "KLIKKFLOW_RUN_LAUNCHER"
"""``k8s`` in the gateway's pod: its tenant instances terminate runs through dagster-k8s."""


def k8s_run_launcher_config(tenant: TenantConfig) -> dict[str, Any]:
    """The K8sRunLauncher of the gateway's instance of ``tenant`` on Kubernetes.

    The gateway never launches a run (its run coordinator queues them; the tenant's daemon
    launches them with the chart's launcher); it terminates them: the in-process webserver's
    "terminate" deletes the run's Job in ``kf-<id>``, as the tenant's ``klikkflow-gateway`` Role
    allows. The launch fields name the tenant's release so a launch would match the daemon's.
    """
    return {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            "job_namespace": tenant_namespace(tenant.id),
            "load_incluster_config": True,
            "instance_config_map": f"kf-{tenant.id}-dagster-instance",
            "service_account_name": RUN_SERVICE_ACCOUNT,
            "postgres_password_secret": tenant_postgres_secret(tenant.id),
            "dagster_home": "/opt/dagster/dagster_home",
            "image_pull_policy": "IfNotPresent",
        },
    }


def render_instance_config(
    tenant: TenantConfig, production: bool | None = None, home: Path | None = None
) -> dict[str, Any]:
    """The tenant's ``dagster.yaml`` content: the base config with its plan's queue limits.

    The run coordinator gets the tenant's run tags (stamped on every run before it is
    queued), and run monitoring the plan's maximum runtime as the default for any run
    without a ``dagster/max_runtime`` tag.

    The embedded config's SQLite ``base_dir`` becomes the literal tenant home
    (``home``, default the tenant's home under ``KLIKKFLOW_HOME``): the code
    servers and run workers Dagster starts re-read the instance config in
    their own environment, where ``DAGSTER_HOME`` may name another tenant or
    nothing at all.
    """
    production = is_production() if production is None else production
    base = PRODUCTION_CONFIG if production else EMBEDDED_CONFIG
    config = yaml.safe_load(base.read_text(encoding="utf-8"))
    runs = config["concurrency"]["runs"]
    runs["max_concurrent_runs"] = tenant.plan.max_concurrent_runs
    for limit in runs["tag_concurrency_limits"]:
        if limit["key"] == "klikkflow/tenant":
            limit["limit"] = tenant.plan.max_concurrent_runs
    config["run_coordinator"]["config"]["tenant_tags"] = tenant_run_tags(tenant)
    config["run_monitoring"]["max_runtime_seconds"] = tenant.plan.max_runtime_seconds
    if production:
        config["storage"]["custom"]["config"]["postgres_db"]["db_name"] = tenant_database_name(tenant.id)
        launcher = os.environ.get(RUN_LAUNCHER_ENV, "").strip()
        if launcher == "k8s":
            config["run_launcher"] = k8s_run_launcher_config(tenant)
        elif launcher:
            raise ValueError(
                f"{RUN_LAUNCHER_ENV}={launcher!r}: use k8s (the gateway on Kubernetes) or leave it unset"
            )
    else:
        config["storage"]["sqlite"]["base_dir"] = str(home or tenant_home(tenant.id))
    return config


def write_instance_config(tenant: TenantConfig, directory: Path | None = None) -> Path:
    """Write the tenant's ``dagster.yaml`` into its home (or ``directory``); return that directory."""
    directory = directory or tenant_home(tenant.id)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "dagster.yaml"
    text = yaml.safe_dump(render_instance_config(tenant, home=directory), sort_keys=False)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return directory


def tenant_instance(tenant_id: str | TenantConfig) -> DagsterInstance:
    """Open the tenant's own persistent Dagster instance (its config written first)."""
    tenant = tenant_id if isinstance(tenant_id, TenantConfig) else load_tenant(tenant_id)
    return DagsterInstance.from_config(str(write_instance_config(tenant)))
