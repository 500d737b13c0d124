"""The platform namespace's manifests: the gateway (the only way in) and the audit checkpointer.

Rendered to ``deploy/k8s/platform/manifests.yaml`` by ``klikkflow platform render`` and by every
``klikkflow tenant create|delete`` (the gateway's workspaces and NetworkPolicies name every
tenant). Secrets are referenced by name only; their values come from the env files
``klikkflow platform init`` writes (``kubectl create secret generic ... --from-env-file``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import (
    AUDIT_SIGNING_KEY_FILE,
    AUDIT_SIGNING_SECRET,
    DETOKENIZE_KEYS_SECRET,
    GATEWAY_ENV_SECRET,
    DeploySettings,
)
from klikkflow_pipelines.tenancy.grpc_workspace import (
    GATEWAY_WORKSPACES_CONFIGMAP,
    GATEWAY_WORKSPACES_DIR_ENV,
    grpc_workspace_yaml,
    k8s_code_server_endpoints,
)
from klikkflow_pipelines.tenancy.helm_values import container_security_context, pod_security_context
from klikkflow_pipelines.tenancy.k8s_manifests import GATEWAY_SERVICE_ACCOUNT, restricted_namespace
from klikkflow_pipelines.tenancy.network_policies import (
    CHECKPOINTER_POD,
    GATEWAY_POD,
    GATEWAY_PORT,
    platform_policy_specs,
)

Manifest = dict[str, Any]
GATEWAY = "klikkflow-gateway"
CHECKPOINTER = "klikkflow-audit-checkpointer"
WITNESS_CLAIM = "klikkflow-audit-witness"
WORKSPACES_MOUNT = "/etc/klikkflow/workspaces"
DETOKENIZE_MOUNT = "/var/run/secrets/klikkflow/detokenize"
SIGNING_MOUNT = "/var/run/secrets/klikkflow/audit-signing"
WITNESS_MOUNT = "/var/lib/klikkflow/witness"


def _labels(settings: DeploySettings, **extra: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "klikkflow",
        "app.kubernetes.io/managed-by": "klikkflow-platform",
        **settings.extra_labels,
        **extra,
    }


def _meta(name: str, settings: DeploySettings, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": settings.platform_namespace, "labels": _labels(settings, **labels)}


def namespace(settings: DeploySettings) -> Manifest:
    """The platform namespace, enforcing Pod Security ``restricted`` (no tenant label: policies that
    admit "tenant namespaces" never match it)."""
    return restricted_namespace(settings.platform_namespace, _labels(settings))


def service_accounts(settings: DeploySettings) -> list[Manifest]:
    """The gateway's (its token reaches the API to terminate runs, see the tenants' Roles) and the
    checkpointer's (no token)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(GATEWAY_SERVICE_ACCOUNT, settings),
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(CHECKPOINTER, settings),
            "automountServiceAccountToken": False,
        },
    ]


def workspaces_config_map(tenants: list[TenantConfig], settings: DeploySettings) -> Manifest:
    """One key ``<id>.yaml`` per tenant: its code servers as ``grpc_server`` entries (cluster DNS)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(GATEWAY_WORKSPACES_CONFIGMAP, settings),
        "data": {
            f"{tenant.id}.yaml": grpc_workspace_yaml(tenant, k8s_code_server_endpoints(tenant))
            for tenant in sorted(tenants, key=lambda t: t.id)
        },
    }


def _env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def _container(name: str, settings: DeploySettings, args: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"{settings.image_repository}:{settings.image_tag}",
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "securityContext": container_security_context(),
        **fields,
    }


def _pod_spec(service_account: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict:
    return {
        "serviceAccountName": service_account,
        "securityContext": pod_security_context(),
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {}}, *volumes],
    }


def _deployment(
    name: str,
    settings: DeploySettings,
    pod_labels: dict[str, str],
    spec: dict,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    template_meta: dict[str, Any] = {"labels": _labels(settings, **pod_labels)}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, settings, **pod_labels),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": pod_labels},
            "template": {"metadata": template_meta, "spec": spec},
        },
    }


def gateway_env(settings: DeploySettings) -> dict[str, str]:
    """The gateway's plain environment (its secrets come from ``klikkflow-gateway-env``)."""
    env = {
        "KLIKKFLOW_ENV": "production",
        "KLIKKFLOW_PG_HOST": settings.postgres_host,
        "KLIKKFLOW_PG_PORT": str(settings.postgres_port),
        "KLIKKFLOW_PUBLIC_URL": f"https://{settings.gateway_host}",
        "KLIKKFLOW_DETOKENIZE_KEY_DIR": DETOKENIZE_MOUNT,
        GATEWAY_WORKSPACES_DIR_ENV: WORKSPACES_MOUNT,
        "KLIKKFLOW_RUN_LAUNCHER": "k8s",
    }
    if settings.ingress_cidr:
        env["KLIKKFLOW_GATEWAY_TRUSTED_PROXIES"] = settings.ingress_cidr
    return env


def _healthz_probe(failure_threshold: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": failure_threshold,
    }


def gateway(settings: DeploySettings, workspaces: Manifest) -> list[Manifest]:
    """The gateway Deployment (``klikkflow serve`` on 8080), its Service and the TLS Ingress.

    The gateway reads the tenants' workspaces (the ConfigMap ``workspaces``) when it starts; the pod
    template carries their digest, so applying changed workspaces rolls the gateway.
    """
    container = _container(
        "gateway",
        settings,
        ["klikkflow", "serve", "--host", "0.0.0.0", "--port", str(GATEWAY_PORT)],
        ports=[{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        env=_env(gateway_env(settings)),
        envFrom=[{"secretRef": {"name": GATEWAY_ENV_SECRET}}],
        volumeMounts=[
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "detokenize-keys", "mountPath": DETOKENIZE_MOUNT, "readOnly": True},
            {"name": "workspaces", "mountPath": WORKSPACES_MOUNT, "readOnly": True},
        ],
        readinessProbe=_healthz_probe(3),
        livenessProbe=_healthz_probe(6),
        startupProbe=_healthz_probe(60),
        resources={"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    )
    volumes = [
        {"name": "detokenize-keys", "secret": {"secretName": DETOKENIZE_KEYS_SECRET, "defaultMode": 0o440}},
        {"name": "workspaces", "configMap": {"name": GATEWAY_WORKSPACES_CONFIGMAP}},
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(GATEWAY, settings, **GATEWAY_POD),
        "spec": {
            "type": "ClusterIP",
            "selector": GATEWAY_POD,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(GATEWAY, settings, **GATEWAY_POD),
        "spec": {
            "ingressClassName": settings.ingress_class,
            "tls": [{"hosts": [settings.gateway_host], "secretName": settings.gateway_tls_secret}],
            "rules": [
                {
                    "host": settings.gateway_host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": GATEWAY, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    spec = _pod_spec(GATEWAY_SERVICE_ACCOUNT, [container], volumes)
    digest = hashlib.sha256(yaml.safe_dump(workspaces["data"], sort_keys=True).encode()).hexdigest()
    annotations = {"klikkflow.io/workspaces-sha256": digest}
    return [_deployment(GATEWAY, settings, GATEWAY_POD, spec, annotations), service, ingress]


def _from_gateway_secret(*keys: str) -> list[dict[str, Any]]:
    return [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": GATEWAY_ENV_SECRET, "key": key}}} for key in keys
    ]


def checkpointer(settings: DeploySettings) -> list[Manifest]:
    """The audit checkpointer: the only pod holding the signing key, with the witness on a volume.

    It takes the database login and the public key from the gateway's Secret key by key (not the
    cookie secret or the writer key).
    """
    env = _env(
        {
            "KLIKKFLOW_ENV": "production",
            "KLIKKFLOW_PG_HOST": settings.postgres_host,
            "KLIKKFLOW_PG_PORT": str(settings.postgres_port),
            "KLIKKFLOW_AUDIT_SIGNING_KEY_FILE": f"{SIGNING_MOUNT}/{AUDIT_SIGNING_KEY_FILE}",
            "KLIKKFLOW_AUDIT_WITNESS_DIR": WITNESS_MOUNT,
        }
    ) + _from_gateway_secret(
        "KLIKKFLOW_PG_USER", "KLIKKFLOW_PG_PASSWORD", "KLIKKFLOW_GATEWAY_DB_URL", "KLIKKFLOW_AUDIT_PUBLIC_KEY"
    )
    container = _container(
        "checkpointer",
        settings,
        ["klikkflow", "audit", "checkpoint", "--loop", "--interval", "5"],
        env=env,
        volumeMounts=[
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "signing-key", "mountPath": SIGNING_MOUNT, "readOnly": True},
            {"name": "witness", "mountPath": WITNESS_MOUNT},
        ],
        resources={
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
    )
    volumes = [
        {
            "name": "signing-key",
            "secret": {
                "secretName": AUDIT_SIGNING_SECRET,
                "defaultMode": 0o440,
                "items": [{"key": AUDIT_SIGNING_KEY_FILE, "path": AUDIT_SIGNING_KEY_FILE}],
            },
        },
        {"name": "witness", "persistentVolumeClaim": {"claimName": WITNESS_CLAIM}},
    ]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(WITNESS_CLAIM, settings),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    spec = _pod_spec(CHECKPOINTER, [container], volumes)
    return [claim, _deployment(CHECKPOINTER, settings, CHECKPOINTER_POD, spec)]


def network_policies(tenants: list[TenantConfig], settings: DeploySettings) -> list[Manifest]:
    """The platform namespace's NetworkPolicies (see :mod:`klikkflow_pipelines.tenancy.network_policies`)."""
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(name, settings),
            "spec": spec,
        }
        for name, spec in platform_policy_specs(tenants, settings).items()
    ]


def render_platform_manifests(
    tenants: list[TenantConfig], settings: DeploySettings | None = None
) -> list[Manifest]:
    """Every platform manifest, namespace first (the order ``kubectl apply`` needs)."""
    settings = settings or DeploySettings()
    tenants = sorted(tenants, key=lambda t: t.id)
    workspaces = workspaces_config_map(tenants, settings)
    return [
        namespace(settings),
        *service_accounts(settings),
        workspaces,
        *gateway(settings, workspaces),
        *checkpointer(settings),
        *network_policies(tenants, settings),
    ]


def platform_manifests_yaml(tenants: list[TenantConfig], settings: DeploySettings | None = None) -> str:
    """The platform manifests as one multi-document YAML file."""
    header = (
        "# Kubernetes manifests of the KlikkFlow platform namespace (gateway, audit checkpointer),\n"
        "# rendered by `klikkflow platform render` / `klikkflow tenant create` for tenants "
        f"{', '.join(sorted(t.id for t in tenants)) or '(none)'}.\n"
        f"# Secrets referenced by name only: {GATEWAY_ENV_SECRET}, {DETOKENIZE_KEYS_SECRET},\n"
        f"# {AUDIT_SIGNING_SECRET} (checkpointer only) and the Ingress TLS Secret.\n"
    )
    return header + yaml.dump_all(
        render_platform_manifests(tenants, settings), Dumper=_Dumper, sort_keys=False, explicit_start=True
    )


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the workspace files in the ConfigMap) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def write_platform_manifests(
    tenants: list[TenantConfig], path: Path, settings: DeploySettings | None = None
) -> Path:
    """Write the platform manifests to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(platform_manifests_yaml(tenants, settings), encoding="utf-8")
    return path
