"""What the rehearsal's stages hand each other: the servers, the tenants and the processes' handles."""

from __future__ import annotations

from dataclasses import dataclass, field

from klikkflow_pipelines.devtools.s3_server import S3Server
from klikkflow_pipelines.rehearsal.database import RehearsalDatabase
from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.supervisor import Supervisor


@dataclass
class Stage:
    """The rehearsal's state: its folders, servers and tenants, then (once started) the supervisor, the
    gateway's address, the webhook secrets and local accounts' passwords, the gateway's Postgres login
    and where the cluster's log stood when provisioning ended."""

    layout: Layout
    database: RehearsalDatabase
    s3: S3Server
    tenants: list[TenantConfig]
    settings: DeploySettings
    supervisor: Supervisor | None = None
    gateway_url: str = ""
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    gateway_login: PostgresServer | None = None
    log_offset: int = 0
