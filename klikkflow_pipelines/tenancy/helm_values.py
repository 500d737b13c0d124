"""Per-tenant values for Dagster's official Helm chart (``dagster/dagster``).

Each tenant is one Helm release installed into its own namespace ``kf-<id>``:
the daemon and one code server per code location run with
``KLIKKFLOW_TENANT=<id>``; the K8sRunLauncher starts run pods in the same
namespace with the plan's resources, node pool and a hardened security
context; storage is the tenant's Postgres database ``klikkflow_<id>`` reached
as the tenant's own login role ``klikkflow_<id>``; the tenant run coordinator
enforces the plan's concurrency limit and stamps the tenant's run tags on
every run. The chart's webserver is scaled to zero: the KlikkFlow gateway in
the platform namespace serves every tenant's Dagster UI in-process.

Secrets are referenced by name only (``kf-<id>-env``, ``kf-<id>-postgresql``):
no password, key or URL is rendered into the values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes.utils.quantity import parse_quantity

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import (
    RUN_SERVICE_ACCOUNT,
    RUN_USER_ID,
    DeploySettings,
    tenant_env_secret,
    tenant_namespace,
    tenant_postgres_secret,
)
from klikkflow_pipelines.tenancy.grpc_workspace import (
    USER_CODE_GRPC_PORT,
    location_deployment_name,
    location_names,
)
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.run_tags import TENANT_TAG, k8s_run_config, tenant_run_tags
from klikkflow_pipelines.tenant_code.targets import LOCATIONS_MODULE, location_attribute


def _scratch_volumes() -> list[dict[str, Any]]:
    """An emptyDir for /tmp: the only writable path, since the root filesystem is read-only."""
    return [{"name": "tmp", "emptyDir": {}}]


def _scratch_mounts() -> list[dict[str, Any]]:
    return [{"name": "tmp", "mountPath": "/tmp"}]


def pod_security_context() -> dict[str, Any]:
    """Pod-level security context satisfying Pod Security ``restricted``."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_USER_ID,
        "runAsGroup": RUN_USER_ID,
        "fsGroup": RUN_USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    """Container-level security context: non-root, read-only root, no capabilities, no escalation."""
    return {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def run_k8s_config(tenant: TenantConfig) -> dict[str, Any]:
    """The chart's ``runK8sConfig``: the k8s config every run tag carries (plan resources, node pool,
    security contexts, labels) plus the run service account, a scratch volume and job deadlines.

    dagster-k8s accepts the snake_case field names of the Kubernetes Python client, which is how
    :func:`klikkflow_pipelines.tenancy.run_tags.k8s_run_config` spells them.
    """
    config = k8s_run_config(tenant)
    return {
        "containerConfig": {**config["container_config"], "volume_mounts": _scratch_mounts()},
        "podSpecConfig": {
            **config["pod_spec_config"],
            "service_account_name": RUN_SERVICE_ACCOUNT,
            "automount_service_account_token": False,
            "volumes": _scratch_volumes(),
        },
        "podTemplateSpecMetadata": config["pod_template_spec_metadata"],
        "jobMetadata": config["job_metadata"],
        "jobSpecConfig": {
            "active_deadline_seconds": tenant.plan.max_runtime_seconds + 600,
            "ttl_seconds_after_finished": 86400,
        },
    }


def run_coordinator(tenant: TenantConfig) -> dict[str, Any]:
    """The chart's ``customRunCoordinator``: the queued coordinator with the plan's limits that stamps
    the tenant's run tags on every run (``klikkflow_pipelines.tenancy.run_coordinator``).

    The chart writes ``config`` into the instance's ``dagster.yaml`` as it is, so it is spelt the
    way the coordinator's config schema spells it (snake_case).
    """
    plan = tenant.plan
    return {
        "module": "klikkflow_pipelines.tenancy.run_coordinator",
        "class": "TenantRunCoordinator",
        "config": {
            "max_concurrent_runs": plan.max_concurrent_runs,
            "tag_concurrency_limits": [
                {
                    "key": TENANT_TAG,
                    "value": {"applyLimitPerUniqueValue": True},
                    "limit": plan.max_concurrent_runs,
                }
            ],
            "dequeue_interval_seconds": 5,
            "tenant_tags": tenant_run_tags(tenant),
        },
    }


def tenant_env(tenant: TenantConfig, settings: DeploySettings) -> dict[str, str]:
    """Plain environment of every KlikkFlow process of the tenant; nothing secret.

    ``KLIKKFLOW_PG_HOST``/``PORT`` reach the tenant's own KlikkFlow tables (outbox, audit) in
    ``klikkflow_<id>``; the login (``KLIKKFLOW_PG_USER``, ``KLIKKFLOW_PG_PASSWORD``), the tenant
    and audit writer keys, the warehouse and object-store settings are keys of the tenant's
    Secret ``kf-<id>-env`` (:func:`~klikkflow_pipelines.tenancy.deploy_settings.tenant_env_secret`).
    """
    return {
        "KLIKKFLOW_TENANT": tenant.id,
        "KLIKKFLOW_ENV": "production",
        "KLIKKFLOW_PG_HOST": settings.postgres_host,
        "KLIKKFLOW_PG_PORT": str(settings.postgres_port),
    }


def _at_most(quantity: str, cap: str) -> str:
    return quantity if parse_quantity(quantity) <= parse_quantity(cap) else cap


def service_resources(tenant: TenantConfig, cpu: str, memory: str) -> dict[str, dict[str, str]]:
    """Resources of a Dagster service pod (webserver, daemon, code server): the wanted limits, capped at
    the plan's per-container limits so the namespace's LimitRange admits them."""
    plan = tenant.plan
    limits = {"cpu": _at_most(cpu, plan.cpu_limit), "memory": _at_most(memory, plan.memory_limit)}
    requests = {
        "cpu": _at_most(plan.cpu_request, limits["cpu"]),
        "memory": _at_most(plan.memory_request, limits["memory"]),
    }
    return {"requests": requests, "limits": limits}


def _image(settings: DeploySettings) -> dict[str, str]:
    return {"repository": settings.image_repository, "tag": settings.image_tag, "pullPolicy": "IfNotPresent"}


def _location_image(image: str) -> dict[str, str]:
    """The chart's image of a tenant location from ``registry/repo:tag`` (the config requires a tag)."""
    repository, _, tag = image.rpartition(":")
    return {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}


def _tenant_labels(tenant: TenantConfig) -> dict[str, str]:
    return {"klikkflow.io/tenant": tenant.id}


def _daemon(tenant: TenantConfig, settings: DeploySettings) -> dict[str, Any]:
    """The tenant's daemon: queue (tenant run coordinator), schedules, sensors, run monitoring."""
    return {
        "enabled": True,
        "image": _image(settings),
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        "env": [{"name": k, "value": v} for k, v in tenant_env(tenant, settings).items()],
        "envSecrets": [{"name": tenant_env_secret(tenant.id)}],
        "volumes": _scratch_volumes(),
        "volumeMounts": _scratch_mounts(),
        "resources": service_resources(tenant, cpu="1", memory="1Gi"),
        "labels": _tenant_labels(tenant),
        "runCoordinator": {
            "enabled": True,
            "type": "CustomRunCoordinator",
            "config": {"customRunCoordinator": run_coordinator(tenant)},
        },
        "runMonitoring": {
            "enabled": True,
            "startTimeoutSeconds": 300,
            "maxResumeRunAttempts": 3,
            "pollIntervalSeconds": 60,
            "freeSlotsAfterRunEndSeconds": 0,
        },
        "runRetries": {"enabled": True, "maxRetries": 2},
    }


def _code_server(tenant: TenantConfig, settings: DeploySettings, location: str) -> dict[str, Any]:
    """One dagster-user-deployment: the code server of ``location``, loaded the same way for the
    built-in location and the tenant's own (``tenant_code.locations``, attribute ``<id>__<location>``),
    in the location's image (default: the KlikkFlow image)."""
    image = _image(settings)
    if location != tenant.id:
        _, entry = tenant.code_location(location)
        image = _location_image(entry.image) if entry.image else image
    return {
        "name": location_deployment_name(tenant.id, location),
        "image": image,
        "dagsterApiGrpcArgs": [
            "--module-name",
            LOCATIONS_MODULE,
            "--attribute",
            location_attribute(tenant.id, location),
            "--location-name",
            location,
        ],
        "port": USER_CODE_GRPC_PORT,
        "env": [{"name": k, "value": v} for k, v in tenant_env(tenant, settings).items()],
        "envSecrets": [{"name": tenant_env_secret(tenant.id)}],
        # Off: run pods get namespace, service account, env and resources from the run launcher's
        # plan-derived runK8sConfig only, never merged with the code server's own (smaller) settings.
        "includeConfigInLaunchedRuns": {"enabled": False},
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        "volumes": _scratch_volumes(),
        "volumeMounts": _scratch_mounts(),
        "resources": service_resources(tenant, cpu="1", memory="2Gi"),
        "labels": {**_tenant_labels(tenant), "klikkflow.io/code-location": location},
    }


def _webserver(tenant: TenantConfig, settings: DeploySettings) -> dict[str, Any]:
    """The chart's webserver, never started (``replicaCount: 0``): the gateway is the tenant's
    webserver. Its ``workspace`` still shapes the workspace ConfigMap the daemon reads: one
    ``grpc_server`` per location, named like the location (not like its deployment), as in the
    gateway's workspace, so runs, schedules and sensors started in the gateway are the daemon's."""
    return {
        "replicaCount": 0,
        "image": _image(settings),
        "workspace": {
            "enabled": True,
            "servers": [
                {
                    "host": location_deployment_name(tenant.id, name),
                    "port": USER_CODE_GRPC_PORT,
                    "name": name,
                }
                for name in location_names(tenant)
            ],
        },
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        "labels": _tenant_labels(tenant),
    }


def render_helm_values(tenant: TenantConfig, settings: DeploySettings | None = None) -> dict[str, Any]:
    """The values file of the tenant's Helm release of ``dagster/dagster``."""
    settings = settings or DeploySettings()
    return {
        "global": {
            "postgresqlSecretName": tenant_postgres_secret(tenant.id),
            "serviceAccountName": f"kf-{tenant.id}-dagster",
        },
        "serviceAccount": {"create": True},
        "dagsterWebserver": _webserver(tenant, settings),
        "dagsterDaemon": _daemon(tenant, settings),
        "dagster-user-deployments": {
            "enabled": True,
            "enableSubchart": True,
            "deployments": [_code_server(tenant, settings, name) for name in location_names(tenant)],
        },
        "runLauncher": {
            "type": "K8sRunLauncher",
            "config": {
                "k8sRunLauncher": {
                    "jobNamespace": tenant_namespace(tenant.id),
                    "loadInclusterConfig": True,
                    "imagePullPolicy": "IfNotPresent",
                    "envConfigMaps": [],
                    "envSecrets": [{"name": tenant_env_secret(tenant.id)}],
                    "envVars": [f"{k}={v}" for k, v in tenant_env(tenant, settings).items()],
                    "volumeMounts": [],
                    "volumes": [],
                    "labels": _tenant_labels(tenant),
                    "failPodOnRunFailure": True,
                    "runK8sConfig": run_k8s_config(tenant),
                }
            },
        },
        "postgresql": {
            "enabled": False,
            "postgresqlHost": settings.postgres_host,
            "postgresqlUsername": tenant_database_name(tenant.id),  # the tenant's own login role
            "postgresqlDatabase": tenant_database_name(tenant.id),
            "service": {"port": settings.postgres_port},
        },
        "generatePostgresqlPasswordSecret": False,
        "computeLogManager": {"type": "NoOpComputeLogManager"},
        "telemetry": {"enabled": False},
        "migrate": {"enabled": False},
    }


def helm_values_yaml(tenant: TenantConfig, settings: DeploySettings | None = None) -> str:
    """The values as YAML text with a header naming the install command and why the webserver is off."""
    settings = settings or DeploySettings()
    header = (
        f"# Helm values of tenant {tenant.id!r} for the dagster/dagster chart,\n"
        "# rendered by `klikkflow tenant create`. Install with:\n"
        f"# helm upgrade --install kf-{tenant.id} dagster/dagster \\\n"
        f"#   -n {tenant_namespace(tenant.id)} -f <this file>\n"
        "# dagsterWebserver.replicaCount is 0 on purpose: the KlikkFlow gateway (namespace\n"
        f"# {settings.platform_namespace}) is this tenant's webserver, behind sign-in and roles; no\n"
        "# NetworkPolicy admits traffic to a tenant webserver. migrate is off: `klikkflow tenant\n"
        f"# migrate` creates the schema. Secrets {tenant_env_secret(tenant.id)} and\n"
        f"# {tenant_postgres_secret(tenant.id)} are referenced by name only.\n"
    )
    return header + yaml.safe_dump(render_helm_values(tenant, settings), sort_keys=False)


def write_helm_values(tenant: TenantConfig, path: Path, settings: DeploySettings | None = None) -> Path:
    """Write the tenant's Helm values to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(helm_values_yaml(tenant, settings), encoding="utf-8")
    return path
