"""Cluster-wide settings that the per-tenant and platform manifests and Helm values are rendered with.

They describe the platform, not a tenant: the image every pod runs, the
platform namespace (gateway, checkpointer, in-cluster Postgres), the networks
NetworkPolicies name (Kubernetes API, Postgres, object store, OIDC provider,
ingress controller) and the gateway's public host. Each has a ``KLIKKFLOW_*``
environment variable so CI and operators can set them. Names of Secrets are
derived here and never carry a value: the values are created with ``kubectl``
from the files ``klikkflow platform init`` / ``tenant create`` write.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

RUN_SERVICE_ACCOUNT = "klikkflow-run"
RUN_USER_ID = 10001
PLATFORM_NAMESPACE = "klikkflow-system"
GATEWAY_ENV_SECRET = "klikkflow-gateway-env"
"""The gateway's Secret (envFrom): KLIKKFLOW_GATEWAY_SECRET, KLIKKFLOW_GATEWAY_DB_URL, KLIKKFLOW_PG_*, ..."""
DETOKENIZE_KEYS_SECRET = "klikkflow-detokenize-keys"
"""One key ``<tenant>.key`` per tenant; mounted as files only into the gateway."""
AUDIT_SIGNING_SECRET = "klikkflow-audit-signing"
"""Key ``audit-signing.key`` (Ed25519 seed, hex); mounted only into the audit checkpointer."""
AUDIT_SIGNING_KEY_FILE = "audit-signing.key"


def is_production() -> bool:
    """True when ``KLIKKFLOW_ENV=production`` selects the Postgres instance config."""
    return os.environ.get("KLIKKFLOW_ENV", "local") == "production"


def tenant_database_name(tenant_id: str) -> str:
    """The Postgres database that holds a tenant's Dagster storage in production."""
    return f"klikkflow_{tenant_id.replace('-', '_')}"


def tenant_namespace(tenant_id: str) -> str:
    """The Kubernetes namespace where the tenant's Dagster deployment and its runs live."""
    return f"kf-{tenant_id}"


def tenant_env_secret(tenant_id: str) -> str:
    """The tenant's Secret loaded with envFrom by its daemon, code servers and run pods."""
    return f"kf-{tenant_id}-env"


def tenant_postgres_secret(tenant_id: str) -> str:
    """The tenant's Secret with key ``postgresql-password``, read by Dagster's chart (DAGSTER_PG_PASSWORD)."""
    return f"kf-{tenant_id}-postgresql"


def _optional(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _cidr(name: str) -> str | None:
    raw = _optional(name)
    if raw is None:
        return None
    try:
        return str(ipaddress.ip_network(raw, strict=True))
    except ValueError as exc:
        raise ValueError(
            f"{name}={raw!r} is not a network in CIDR notation ({exc}); "
            "write it like 10.96.0.1/32 or 10.0.0.0/16 (no host bits set)"
        ) from None


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"{name} must be a TCP port (1-65535), not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class DeploySettings:
    """Platform settings shared by every rendered deployment file.

    Network settings left ``None`` render no rule, so that traffic stays denied: the Kubernetes
    API (tenant daemons, gateway), the object store (tenant pods), the OIDC provider (gateway).
    ``postgres_cidr`` unset means Postgres runs in the platform namespace as pods labelled
    ``app.kubernetes.io/name: postgresql`` (a tenant's ``network.database_cidr`` overrides it
    for that tenant).
    """

    image_repository: str = "ghcr.io/klikkflow/klikkflow"
    image_tag: str = "0.1.0"
    platform_namespace: str = PLATFORM_NAMESPACE
    kube_api_cidr: str | None = None
    postgres_host: str = "postgresql.klikkflow-system.svc.cluster.local"
    postgres_port: int = 5432
    postgres_cidr: str | None = None
    object_store_cidr: str | None = None
    object_store_port: int = 443
    oidc_cidr: str | None = None
    gateway_host: str = "klikkflow.example.com"
    gateway_tls_secret: str = "klikkflow-gateway-tls"
    ingress_class: str = "nginx"
    ingress_namespace: str = "ingress-nginx"
    ingress_cidr: str | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> DeploySettings:
        """Settings from the environment (defaults otherwise).

        ``KLIKKFLOW_IMAGE``, ``KLIKKFLOW_IMAGE_TAG``, ``KLIKKFLOW_PLATFORM_NAMESPACE``,
        ``KLIKKFLOW_KUBE_API_CIDR``, ``KLIKKFLOW_K8S_PG_HOST``/``PORT``, ``KLIKKFLOW_K8S_PG_CIDR``,
        ``KLIKKFLOW_OBJECT_STORE_CIDR``/``PORT``, ``KLIKKFLOW_OIDC_CIDR``, ``KLIKKFLOW_GATEWAY_HOST``,
        ``KLIKKFLOW_GATEWAY_TLS_SECRET``, ``KLIKKFLOW_INGRESS_CLASS``, ``KLIKKFLOW_INGRESS_NAMESPACE``
        (the ingress controller's namespace: the only source of traffic to the gateway) and
        ``KLIKKFLOW_INGRESS_CIDR`` (the ingress controller pods' network, the gateway's trusted proxies).
        """
        default = cls()
        return cls(
            image_repository=os.environ.get("KLIKKFLOW_IMAGE", default.image_repository),
            image_tag=os.environ.get("KLIKKFLOW_IMAGE_TAG", default.image_tag),
            platform_namespace=os.environ.get("KLIKKFLOW_PLATFORM_NAMESPACE", default.platform_namespace),
            kube_api_cidr=_cidr("KLIKKFLOW_KUBE_API_CIDR"),
            postgres_host=os.environ.get("KLIKKFLOW_K8S_PG_HOST", default.postgres_host),
            postgres_port=_port("KLIKKFLOW_K8S_PG_PORT", default.postgres_port),
            postgres_cidr=_cidr("KLIKKFLOW_K8S_PG_CIDR"),
            object_store_cidr=_cidr("KLIKKFLOW_OBJECT_STORE_CIDR"),
            object_store_port=_port("KLIKKFLOW_OBJECT_STORE_PORT", default.object_store_port),
            oidc_cidr=_cidr("KLIKKFLOW_OIDC_CIDR"),
            gateway_host=os.environ.get("KLIKKFLOW_GATEWAY_HOST", default.gateway_host),
            gateway_tls_secret=os.environ.get("KLIKKFLOW_GATEWAY_TLS_SECRET", default.gateway_tls_secret),
            ingress_class=os.environ.get("KLIKKFLOW_INGRESS_CLASS", default.ingress_class),
            ingress_namespace=os.environ.get("KLIKKFLOW_INGRESS_NAMESPACE", default.ingress_namespace),
            ingress_cidr=_cidr("KLIKKFLOW_INGRESS_CIDR"),
        )
