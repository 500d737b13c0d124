"""Per-tenant Kubernetes manifests: namespace, quotas, network policies and RBAC.

Everything a tenant owns on the cluster lives in its namespace ``kf-<id>``:
its Dagster daemon and code servers (installed there with the Helm values from
:mod:`klikkflow_pipelines.tenancy.helm_values`) and every run pod the
K8sRunLauncher creates. The namespace enforces Pod Security ``restricted``;
network traffic is denied unless a policy of
:mod:`klikkflow_pipelines.tenancy.network_policies` allows it. The platform's
gateway may manage (terminate) the tenant's run Jobs; run pods have no
Kubernetes API access at all.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import yaml
from kubernetes.utils.quantity import parse_quantity

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import (
    RUN_SERVICE_ACCOUNT,
    DeploySettings,
    tenant_namespace,
)
from klikkflow_pipelines.tenancy.grpc_workspace import location_names
from klikkflow_pipelines.tenancy.network_policies import tenant_policy_specs

Manifest = dict[str, Any]
GATEWAY_SERVICE_ACCOUNT = "klikkflow-gateway"
_MIB = Decimal(1024 * 1024)


def _labels(tenant: TenantConfig, settings: DeploySettings) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "klikkflow",
        "app.kubernetes.io/managed-by": "klikkflow-tenant",
        "klikkflow.io/tenant": tenant.id,
        **settings.extra_labels,
    }


def _meta(name: str, tenant: TenantConfig, settings: DeploySettings) -> dict[str, Any]:
    return {"name": name, "namespace": tenant_namespace(tenant.id), "labels": _labels(tenant, settings)}


def _cpu(millicores: Decimal) -> str:
    return f"{int(millicores.to_integral_value(ROUND_CEILING))}m"


def _memory(bytes_: Decimal) -> str:
    return f"{int((bytes_ / _MIB).to_integral_value(ROUND_CEILING))}Mi"


def _times(quantity: str, factor: int, cpu: bool) -> str:
    value = parse_quantity(quantity) * factor
    return _cpu(value * 1000) if cpu else _memory(value)


def restricted_namespace(name: str, labels: dict[str, str]) -> Manifest:
    """A namespace ``name`` with ``labels`` that enforces the Pod Security ``restricted`` profile."""
    labels = {**labels, "kubernetes.io/metadata.name": name}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def namespace(tenant: TenantConfig, settings: DeploySettings) -> Manifest:
    """The tenant namespace, enforcing the Pod Security ``restricted`` profile."""
    labels = {**_labels(tenant, settings), "klikkflow.io/region": tenant.region}
    return restricted_namespace(tenant_namespace(tenant.id), labels)


def service_pods(tenant: TenantConfig) -> int:
    """Long-running pods of the tenant's release: the daemon and one code server per location."""
    return 1 + len(location_names(tenant))


def resource_quota(tenant: TenantConfig, settings: DeploySettings) -> Manifest:
    """Caps the namespace at the plan's concurrent runs times the per-run resources.

    One extra run-sized slot per service pod (:func:`service_pods`) covers the tenant's daemon and
    code servers, whose resources are capped at the plan's per-container limits (see
    ``helm_values.service_resources``).
    """
    plan = tenant.plan
    slots = plan.max_concurrent_runs + service_pods(tenant)
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta("klikkflow-plan", tenant, settings),
        "spec": {
            "hard": {
                "requests.cpu": _times(plan.cpu_request, slots, cpu=True),
                "limits.cpu": _times(plan.cpu_limit, slots, cpu=True),
                "requests.memory": _times(plan.memory_request, slots, cpu=False),
                "limits.memory": _times(plan.memory_limit, slots, cpu=False),
                "pods": str(2 * (plan.max_concurrent_runs + service_pods(tenant))),
                "count/jobs.batch": str(10 * plan.max_concurrent_runs),
                "services.loadbalancers": "0",
                "services.nodeports": "0",
            }
        },
    }


def limit_range(tenant: TenantConfig, settings: DeploySettings) -> Manifest:
    """Default and maximum container resources: the plan's per-run requests and limits."""
    plan = tenant.plan
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta("klikkflow-plan", tenant, settings),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": plan.cpu_limit, "memory": plan.memory_limit},
                    "defaultRequest": {"cpu": plan.cpu_request, "memory": plan.memory_request},
                    "max": {"cpu": plan.cpu_limit, "memory": plan.memory_limit},
                }
            ]
        },
    }


def network_policies(tenant: TenantConfig, settings: DeploySettings) -> list[Manifest]:
    """The namespace's NetworkPolicies (see :mod:`klikkflow_pipelines.tenancy.network_policies`)."""
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(name, tenant, settings),
            "spec": spec,
        }
        for name, spec in tenant_policy_specs(tenant, settings).items()
    ]


def run_service_account(tenant: TenantConfig, settings: DeploySettings) -> Manifest:
    """ServiceAccount of run pods: no token mounted and no Role bound (run pods never call the API,
    and NetworkPolicy gives them no route to it; steps run inside the run pod)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(RUN_SERVICE_ACCOUNT, tenant, settings),
        "automountServiceAccountToken": False,
    }


def gateway_rbac(tenant: TenantConfig, settings: DeploySettings) -> list[Manifest]:
    """Role + RoleBinding letting the platform gateway's ServiceAccount terminate the tenant's runs:
    the in-process Dagster webserver deletes a run's Job through the K8sRunLauncher."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(GATEWAY_SERVICE_ACCOUNT, tenant, settings),
            "rules": [
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "delete"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(GATEWAY_SERVICE_ACCOUNT, tenant, settings),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": GATEWAY_SERVICE_ACCOUNT,
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": GATEWAY_SERVICE_ACCOUNT,
                    "namespace": settings.platform_namespace,
                }
            ],
        },
    ]


def render_manifests(tenant: TenantConfig, settings: DeploySettings | None = None) -> list[Manifest]:
    """Every manifest of the tenant, namespace first (the order ``kubectl apply`` needs)."""
    settings = settings or DeploySettings()
    return [
        namespace(tenant, settings),
        resource_quota(tenant, settings),
        limit_range(tenant, settings),
        *network_policies(tenant, settings),
        run_service_account(tenant, settings),
        *gateway_rbac(tenant, settings),
    ]


def manifests_yaml(tenant: TenantConfig, settings: DeploySettings | None = None) -> str:
    """The manifests as one multi-document YAML file."""
    header = f"# Kubernetes manifests of tenant {tenant.id!r}, rendered by `klikkflow tenant create`.\n"
    return header + yaml.safe_dump_all(
        render_manifests(tenant, settings), sort_keys=False, explicit_start=True
    )


def write_manifests(tenant: TenantConfig, path: Path, settings: DeploySettings | None = None) -> Path:
    """Write the tenant's manifests to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifests_yaml(tenant, settings), encoding="utf-8")
    return path
