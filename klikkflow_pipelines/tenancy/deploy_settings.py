"""Cluster-wide settings that the per-tenant manifests and Helm values are rendered with.

They describe the platform, not a tenant: the image every tenant runs, the
platform namespace (gateway, shared Postgres), the Kubernetes API address the
Dagster daemon must reach, and the Postgres server holding ``klikkflow_<id>``.
Each has a ``KLIKKFLOW_*`` environment variable so CI and operators can set them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

RUN_SERVICE_ACCOUNT = "klikkflow-run"
POSTGRES_PASSWORD_SECRET = "klikkflow-postgresql"  # key postgresql-password, read by Dagster's chart
ENV_SECRET = "klikkflow-env"  # KLIKKFLOW_PG_PASSWORD and other secrets, loaded with envFrom
RUN_USER_ID = 10001


def tenant_namespace(tenant_id: str) -> str:
    """The Kubernetes namespace where the tenant's Dagster deployment and its runs live."""
    return f"kf-{tenant_id}"


@dataclass(frozen=True)
class DeploySettings:
    """Platform settings shared by every tenant's rendered deployment files."""

    image_repository: str = "ghcr.io/klikkflow/klikkflow"
    image_tag: str = "0.1.0"
    platform_namespace: str = "klikkflow-system"
    kube_api_cidr: str | None = None
    postgres_host: str = "postgresql.klikkflow-system.svc.cluster.local"
    postgres_port: int = 5432
    postgres_user: str = "klikkflow"
    extra_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> DeploySettings:
        """Settings from ``KLIKKFLOW_IMAGE``, ``KLIKKFLOW_IMAGE_TAG``, ``KLIKKFLOW_PLATFORM_NAMESPACE``,
        ``KLIKKFLOW_KUBE_API_CIDR`` and ``KLIKKFLOW_K8S_PG_HOST/PORT/USER`` (defaults otherwise)."""
        default = cls()
        return cls(
            image_repository=os.environ.get("KLIKKFLOW_IMAGE", default.image_repository),
            image_tag=os.environ.get("KLIKKFLOW_IMAGE_TAG", default.image_tag),
            platform_namespace=os.environ.get("KLIKKFLOW_PLATFORM_NAMESPACE", default.platform_namespace),
            kube_api_cidr=os.environ.get("KLIKKFLOW_KUBE_API_CIDR") or None,
            postgres_host=os.environ.get("KLIKKFLOW_K8S_PG_HOST", default.postgres_host),
            postgres_port=int(os.environ.get("KLIKKFLOW_K8S_PG_PORT", str(default.postgres_port))),
            postgres_user=os.environ.get("KLIKKFLOW_K8S_PG_USER", default.postgres_user),
        )
