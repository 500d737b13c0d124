"""Per-tenant Kubernetes manifests: namespace, quotas, network policies and run-pod RBAC.

Everything a tenant owns on the cluster lives in its namespace ``kf-<id>``:
its Dagster deployment (installed there with the Helm values from
:mod:`klikkflow_pipelines.tenancy.helm_values`) and every run pod the
K8sRunLauncher creates. The namespace enforces Pod Security ``restricted``;
network traffic is denied unless a policy below allows it.
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

Manifest = dict[str, Any]
USER_CODE_GRPC_PORT = 3030
WEBSERVER_PORT = 3000
SERVICE_PODS = 3  # webserver, daemon, code server
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


def namespace(tenant: TenantConfig, settings: DeploySettings) -> Manifest:
    """The tenant namespace, enforcing the Pod Security ``restricted`` profile."""
    labels = {
        **_labels(tenant, settings),
        "kubernetes.io/metadata.name": tenant_namespace(tenant.id),
        "klikkflow.io/region": tenant.region,
    }
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": tenant_namespace(tenant.id), "labels": labels},
    }


def resource_quota(tenant: TenantConfig, settings: DeploySettings) -> Manifest:
    """Caps the namespace at the plan's concurrent runs times the per-run resources.

    Three extra run-sized slots cover the tenant's Dagster webserver, daemon and code server, whose
    resources are capped at the plan's per-container limits (see ``helm_values.service_resources``).
    """
    plan = tenant.plan
    slots = plan.max_concurrent_runs + SERVICE_PODS
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
                "pods": str(2 * plan.max_concurrent_runs + 6),
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


def _policy(name: str, tenant: TenantConfig, settings: DeploySettings, spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, tenant, settings),
        "spec": spec,
    }


def network_policies(tenant: TenantConfig, settings: DeploySettings) -> list[Manifest]:
    """Default deny; then DNS, the tenant database, in-namespace Dagster traffic, the gateway,
    the Kubernetes API (when its CIDR is known) and the tenant's declared egress."""
    platform_ns = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.platform_namespace}}
    }
    net = tenant.network
    if net.database_cidr:
        database_peer: dict[str, Any] = {"ipBlock": {"cidr": net.database_cidr}}
    else:
        database_peer = {
            **platform_ns,
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}},
        }
    policies = [
        _policy(
            "default-deny-all", tenant, settings, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        ),
        _policy(
            "allow-dns",
            tenant,
            settings,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
        _policy(
            "allow-tenant-database",
            tenant,
            settings,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [database_peer], "ports": [{"protocol": "TCP", "port": net.database_port}]}
                ],
            },
        ),
        _policy(
            "allow-dagster-code-server",
            tenant,
            settings,
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {}}],
                        "ports": [{"protocol": "TCP", "port": USER_CODE_GRPC_PORT}],
                    }
                ],
                "egress": [
                    {"to": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": USER_CODE_GRPC_PORT}]}
                ],
            },
        ),
        _policy(
            "allow-gateway-to-webserver",
            tenant,
            settings,
            {
                "podSelector": {"matchLabels": {"component": "dagster-webserver"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [platform_ns], "ports": [{"protocol": "TCP", "port": WEBSERVER_PORT}]}],
            },
        ),
    ]
    if settings.kube_api_cidr:
        policies.append(
            _policy(
                "allow-kube-api",
                tenant,
                settings,
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"ipBlock": {"cidr": settings.kube_api_cidr}}],
                            "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}],
                        }
                    ],
                },
            )
        )
    if net.egress:
        policies.append(
            _policy(
                "allow-declared-egress",
                tenant,
                settings,
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"ipBlock": {"cidr": rule.cidr}}],
                            "ports": [{"protocol": rule.protocol, "port": port} for port in rule.ports],
                        }
                        for rule in net.egress
                    ],
                },
            )
        )
    return policies


def run_rbac(tenant: TenantConfig, settings: DeploySettings) -> list[Manifest]:
    """ServiceAccount of run pods, with a Role letting them manage step Jobs (k8s_job_executor)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(RUN_SERVICE_ACCOUNT, tenant, settings),
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(RUN_SERVICE_ACCOUNT, tenant, settings),
            "rules": [
                {
                    "apiGroups": ["batch"],
                    "resources": ["jobs", "jobs/status"],
                    "verbs": ["create", "get", "list", "watch", "delete"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["pods", "pods/log", "pods/status"],
                    "verbs": ["get", "list", "watch"],
                },
                {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(RUN_SERVICE_ACCOUNT, tenant, settings),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RUN_SERVICE_ACCOUNT},
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": RUN_SERVICE_ACCOUNT,
                    "namespace": tenant_namespace(tenant.id),
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
        *run_rbac(tenant, settings),
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
