"""Per-tenant values for Dagster's official Helm chart (``dagster/dagster``).

Each tenant is one Helm release installed into its own namespace ``kf-<id>``:
webserver, daemon and the tenant's code location run the KlikkFlow image
with ``KLIKKFLOW_TENANT=<id>``; the K8sRunLauncher starts run pods in the same
namespace with the plan's resources, node pool and a hardened security
context; storage is the tenant's Postgres database ``klikkflow_<id>``; the
tenant run coordinator enforces the plan's concurrency limit and stamps the tenant's run tags
on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes.utils.quantity import parse_quantity

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import (
    ENV_SECRET,
    POSTGRES_PASSWORD_SECRET,
    RUN_SERVICE_ACCOUNT,
    RUN_USER_ID,
    DeploySettings,
    tenant_namespace,
)
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.k8s_manifests import USER_CODE_GRPC_PORT, WEBSERVER_PORT
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
    """Plain environment of every KlikkFlow process of the tenant (secrets come from ``ENV_SECRET``).

    ``KLIKKFLOW_PG_*`` reach the tenant's own KlikkFlow tables (outbox, audit) in ``klikkflow_<id>``;
    ``KLIKKFLOW_PG_PASSWORD`` is a key of the ``klikkflow-env`` Secret.
    """
    return {
        "KLIKKFLOW_TENANT": tenant.id,
        "KLIKKFLOW_ENV": "production",
        "KLIKKFLOW_PG_HOST": settings.postgres_host,
        "KLIKKFLOW_PG_PORT": str(settings.postgres_port),
        "KLIKKFLOW_PG_USER": settings.postgres_user,
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


def location_deployment_name(tenant_id: str, location: str) -> str:
    """The user-deployment name of a tenant location: ``kf-<tenant>-<location>`` (DNS label, <= 60)."""
    return f"kf-{tenant_id}-{location.replace('_', '-')}"


def _service_component(tenant: TenantConfig, settings: DeploySettings) -> dict[str, Any]:
    """Settings shared by the webserver and daemon deployments."""
    return {
        "image": _image(settings),
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        "env": [{"name": k, "value": v} for k, v in tenant_env(tenant, settings).items()],
        "envSecrets": [{"name": ENV_SECRET}],
        "volumes": _scratch_volumes(),
        "volumeMounts": _scratch_mounts(),
        "checkDbReadyInitContainer": False,
        "resources": service_resources(tenant, cpu="1", memory="1Gi"),
        "labels": {"klikkflow.io/tenant": tenant.id},
    }


def render_helm_values(tenant: TenantConfig, settings: DeploySettings | None = None) -> dict[str, Any]:
    """The values file of the tenant's Helm release of ``dagster/dagster``."""
    settings = settings or DeploySettings()
    namespace = tenant_namespace(tenant.id)
    webserver = {
        **_service_component(tenant, settings),
        "replicaCount": 1,
        "service": {"type": "ClusterIP", "port": WEBSERVER_PORT},
        "pathPrefix": f"/t/{tenant.id}",
    }
    daemon = {
        **_service_component(tenant, settings),
        "enabled": True,
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
    code_location = {
        "name": f"klikkflow-{tenant.id}",
        "image": _image(settings),
        "dagsterApiGrpcArgs": ["--module-name", "klikkflow_pipelines.definitions"],
        "port": USER_CODE_GRPC_PORT,
        "env": [{"name": k, "value": v} for k, v in tenant_env(tenant, settings).items()],
        "envSecrets": [{"name": ENV_SECRET}],
        # Off: run pods get namespace, service account, env and resources from the run launcher's
        # plan-derived runK8sConfig only, never merged with the code server's own (smaller) settings.
        "includeConfigInLaunchedRuns": {"enabled": False},
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        "volumes": _scratch_volumes(),
        "volumeMounts": _scratch_mounts(),
        "resources": service_resources(tenant, cpu="1", memory="2Gi"),
        "labels": {"klikkflow.io/tenant": tenant.id},
    }
    # One code server per tenant location, in the tenant's own image (default: the KlikkFlow image).
    tenant_locations = [
        {
            **code_location,
            "name": location_deployment_name(tenant.id, location.name),
            "image": _location_image(location.image) if location.image else _image(settings),
            "dagsterApiGrpcArgs": [
                "--module-name",
                LOCATIONS_MODULE,
                "--attribute",
                location_attribute(tenant.id, location.name),
                "--location-name",
                location.name,
            ],
            "labels": {"klikkflow.io/tenant": tenant.id, "klikkflow.io/code-location": location.name},
        }
        for location in tenant.code_locations
    ]
    return {
        "global": {
            "postgresqlSecretName": POSTGRES_PASSWORD_SECRET,
            "serviceAccountName": f"kf-{tenant.id}-dagster",
        },
        "serviceAccount": {"create": True},
        "dagsterWebserver": webserver,
        "dagsterDaemon": daemon,
        "dagster-user-deployments": {
            "enabled": True,
            "enableSubchart": True,
            "deployments": [code_location, *tenant_locations],
        },
        "runLauncher": {
            "type": "K8sRunLauncher",
            "config": {
                "k8sRunLauncher": {
                    "jobNamespace": namespace,
                    "loadInclusterConfig": True,
                    "imagePullPolicy": "IfNotPresent",
                    "envConfigMaps": [],
                    "envSecrets": [{"name": ENV_SECRET}],
                    "envVars": [f"{k}={v}" for k, v in tenant_env(tenant, settings).items()],
                    "volumeMounts": [],
                    "volumes": [],
                    "labels": {"klikkflow.io/tenant": tenant.id},
                    "failPodOnRunFailure": True,
                    "runK8sConfig": run_k8s_config(tenant),
                }
            },
        },
        "postgresql": {
            "enabled": False,
            "postgresqlHost": settings.postgres_host,
            "postgresqlUsername": settings.postgres_user,
            "postgresqlDatabase": tenant_database_name(tenant.id),
            "service": {"port": settings.postgres_port},
        },
        "generatePostgresqlPasswordSecret": False,
        "computeLogManager": {"type": "NoOpComputeLogManager"},
        "telemetry": {"enabled": False},
        "migrate": {"enabled": True},
    }


def helm_values_yaml(tenant: TenantConfig, settings: DeploySettings | None = None) -> str:
    """The values as YAML text with a header naming the install command."""
    header = (
        f"# Helm values of tenant {tenant.id!r} for the dagster/dagster chart,\n"
        "# rendered by `klikkflow tenant create`. Install with:\n"
        f"# helm upgrade --install kf-{tenant.id} dagster/dagster \\\n"
        f"#   -n {tenant_namespace(tenant.id)} -f <this file>\n"
    )
    return header + yaml.safe_dump(render_helm_values(tenant, settings), sort_keys=False)


def write_helm_values(tenant: TenantConfig, path: Path, settings: DeploySettings | None = None) -> Path:
    """Write the tenant's Helm values to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(helm_values_yaml(tenant, settings), encoding="utf-8")
    return path
