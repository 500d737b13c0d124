"""Create and delete tenants: config file, storage, instance config, code location, k8s files.

``provision_tenant`` is idempotent (re-running it re-renders files and keeps
existing storage). ``delete_tenant`` removes exactly one tenant's files and
storage, and only when the caller repeats the tenant id as confirmation.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.paths import PROJECT_ROOT, klikkflow_home, tenants_config_dir
from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants, load_tenant_file
from klikkflow_pipelines.tenancy.db_roles import Platform
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.grpc_workspace import location_names
from klikkflow_pipelines.tenancy.helm_values import write_helm_values
from klikkflow_pipelines.tenancy.instance import render_instance_config
from klikkflow_pipelines.tenancy.k8s_manifests import write_manifests
from klikkflow_pipelines.tenancy.platform_manifests import write_platform_manifests
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.secret_files import PodDatabase, SecretFile
from klikkflow_pipelines.tenancy.tenant_database import delete_tenant_database, provision_tenant_database
from klikkflow_pipelines.tenant_code.launch import launcher_path, write_launcher
from klikkflow_pipelines.tenant_code.targets import LOCATIONS_MODULE, location_attribute

Storage = Literal["sqlite", "postgres"]


def k8s_dir(deploy_root: Path | None = None) -> Path:
    """Where rendered per-tenant Kubernetes files go: ``<deploy root>/k8s/<id>/``.

    The deploy root is ``deploy_root``, else ``$KLIKKFLOW_DEPLOY_DIR``, else the checkout's ``deploy/``.
    """
    root = deploy_root or Path(os.environ.get("KLIKKFLOW_DEPLOY_DIR") or PROJECT_ROOT / "deploy")
    return root / "k8s"


@dataclass(frozen=True)
class TenantLocation:
    """Every path one tenant owns on this machine and in the repository."""

    tenant_id: str
    tenants_dir: Path
    deploy_root: Path | None = None

    @property
    def tenant_file(self) -> Path:
        return self.tenants_dir / f"{self.tenant_id}.yaml"

    @property
    def home(self) -> Path:
        return klikkflow_home() / "tenants" / self.tenant_id

    @property
    def instance_config(self) -> Path:
        return self.home / "dagster.yaml"

    @property
    def workspace_file(self) -> Path:
        return self.home / "workspace.yaml"

    @property
    def k8s_dir(self) -> Path:
        return k8s_dir(self.deploy_root) / self.tenant_id

    @property
    def manifests(self) -> Path:
        return self.k8s_dir / "manifests.yaml"

    @property
    def helm_values(self) -> Path:
        return self.k8s_dir / "helm-values.yaml"


@dataclass
class ProvisionResult:
    """What provisioning or deletion did, for the CLI to report (with the secret files written)."""

    tenant_id: str
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secrets: list[SecretFile] = field(default_factory=list)


def tenant_file_text(tenant: TenantConfig) -> str:
    """The YAML text of a tenant file (only fields that differ from the defaults, plus id and name)."""
    data = tenant.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {"id": tenant.id, "name": tenant.name, **data}
    return f"# Tenant {tenant.id!r}, created by `klikkflow tenant create`.\n" + yaml.safe_dump(
        data, sort_keys=False
    )


def workspace_config(tenant: TenantConfig) -> dict:
    """The tenant's workspace for webserver, daemon and gateway: the built-in location, then its own.

    Every entry loads ``klikkflow_pipelines.tenant_code.locations`` with the attribute naming tenant
    and location, so the file needs no ``KLIKKFLOW_TENANT`` and one gateway process can open many
    tenants' workspaces. Each entry is its own code server: a broken tenant location stops only
    itself. The built-in location (named after the tenant) is always listed, also without enabled
    workflows: it holds the tenant-wide sensors (compliance audit chain, run-failure alerts, dead
    letters) that watch the runs of every location.

    Every entry's ``executable_path`` is the tenant's launcher
    (:mod:`klikkflow_pipelines.tenant_code.launch`): whichever process opens the workspace, the
    code servers start with the tenant's allow-listed environment, not that process's.
    """
    names = location_names(tenant)
    return {
        "load_from": [
            {
                "python_module": {
                    "module_name": LOCATIONS_MODULE,
                    "attribute": location_attribute(tenant.id, name),
                    "location_name": name,
                    "working_directory": str(PROJECT_ROOT),
                    "executable_path": str(launcher_path(tenant.id)),
                }
            }
            for name in names
        ]
    }


def write_workspace(tenant: TenantConfig, path: Path) -> Path:
    """Write the tenant's launcher and workspace file (:func:`workspace_config`), each if it changed; return
    the workspace file's path."""
    write_launcher(tenant.id)
    _write_if_changed(path, yaml.safe_dump(workspace_config(tenant), sort_keys=False))
    return path


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it holds it already; atomically (a second ``create`` of the
    same tenant, running at the same time, never reads a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
    return True


def render_deploy_files(
    tenant: TenantConfig, deploy_root: Path | None = None, settings: DeploySettings | None = None
) -> list[Path]:
    """Write the tenant's Kubernetes manifests and Helm values under ``deploy/k8s/<id>/``."""
    directory = k8s_dir(deploy_root) / tenant.id
    return [
        write_manifests(tenant, directory / "manifests.yaml", settings),
        write_helm_values(tenant, directory / "helm-values.yaml", settings),
    ]


def render_platform_files(
    tenants_dir: Path | None = None, deploy_root: Path | None = None, settings: DeploySettings | None = None
) -> tuple[Path, list[str]]:
    """Write ``deploy/k8s/platform/manifests.yaml`` for every tenant in ``tenants_dir``; return its path
    and the ids of tenant files left out because they do not load (each names its fix elsewhere)."""
    tenants, broken = load_all_tenants(tenants_dir)
    path = k8s_dir(deploy_root) / "platform" / "manifests.yaml"
    return write_platform_manifests(list(tenants.values()), path, settings), sorted(broken)


def _render_platform(
    result: ProvisionResult, tenants_dir: Path, deploy_root: Path | None, settings: DeploySettings | None
) -> None:
    path, broken = render_platform_files(tenants_dir, deploy_root, settings)
    left_out = f" (left out broken tenant files: {', '.join(broken)})" if broken else ""
    result.actions.append(f"wrote {path}{left_out}")


def provision_tenant(
    tenant: TenantConfig,
    *,
    storage: Storage = "sqlite",
    server: PostgresServer | None = None,
    tenants_dir: Path | None = None,
    deploy_root: Path | None = None,
    settings: DeploySettings | None = None,
    platform: Platform = Platform(),
    rotate_password: bool = False,
    pod_database: PodDatabase | None = None,
) -> ProvisionResult:
    """Provision a tenant: write its file (if new), storage, instance config, code location and k8s files.

    An existing tenant file with the same id is kept when it holds the same config, and is an
    error otherwise (so ``create`` never silently overwrites another tenant's settings).
    Postgres storage is :func:`~.tenant_database.provision_tenant_database` (roles, database,
    migrations, secret env files); ``platform``, ``rotate_password`` and ``pod_database`` go to it.
    """
    where = TenantLocation(tenant.id, tenants_dir or tenants_config_dir(), deploy_root)
    result = ProvisionResult(tenant.id)
    existing = load_tenant_file(where.tenant_file) if where.tenant_file.exists() else None
    if existing and existing.model_dump(exclude={"source_path"}) != tenant.model_dump(
        exclude={"source_path"}
    ):
        raise ConfigError(
            [
                ConfigProblem(
                    str(where.tenant_file),
                    "id",
                    f"a different tenant {tenant.id!r} already exists",
                    f"choose another id, or edit {where.tenant_file.name} and run "
                    f"`klikkflow tenant create {tenant.id}` without options to re-provision it",
                )
            ]
        )
    # Storage first: if the database cannot be created, no tenant file is left behind.
    if storage == "postgres":
        database = provision_tenant_database(
            existing or tenant,
            server=server or PostgresServer.from_env(),
            platform=platform,
            rotate_password=rotate_password,
            pod_database=pod_database,
        )
        result.actions += database.actions
        result.warnings += database.warnings
        result.secrets = database.secrets
    where.home.mkdir(parents=True, exist_ok=True)
    if storage == "sqlite":
        result.actions.append(f"SQLite storage in {where.home}")
    if existing:
        tenant = existing
    else:
        _write_if_changed(where.tenant_file, tenant_file_text(tenant))
        tenant = load_tenant_file(where.tenant_file)
        result.actions.append(f"wrote tenant file {where.tenant_file}")
    instance = render_instance_config(tenant, production=storage == "postgres", home=where.home)
    _write_if_changed(where.instance_config, yaml.safe_dump(instance, sort_keys=False))
    result.actions.append(f"wrote instance config {where.instance_config}")
    write_workspace(tenant, where.workspace_file)
    result.actions.append(f"wrote code location {where.workspace_file}")
    for path in render_deploy_files(tenant, deploy_root, settings):
        result.actions.append(f"wrote {path}")
    _render_platform(result, where.tenants_dir, deploy_root, settings)
    return result


def delete_tenant(
    tenant_id: str,
    *,
    confirm: str,
    drop_database: bool = False,
    server: PostgresServer | None = None,
    tenants_dir: Path | None = None,
    deploy_root: Path | None = None,
    platform: Platform = Platform(),
    settings: DeploySettings | None = None,
) -> ProvisionResult:
    """Remove one tenant's file, local home, rendered k8s files and (optionally) its Postgres database,
    roles and secret env files (:func:`~.tenant_database.delete_tenant_database`).

    ``confirm`` must equal ``tenant_id``. Only paths and the database derived from this id are
    touched; every path is checked to lie inside its expected parent before removal. The platform
    manifests are rendered again without the tenant.
    """
    if confirm != tenant_id:
        raise ValueError(
            f"confirmation {confirm!r} does not match tenant id {tenant_id!r}; nothing was deleted"
        )
    where = TenantLocation(tenant_id, tenants_dir or tenants_config_dir(), deploy_root)
    if where.tenant_file.exists() and load_tenant_file(where.tenant_file).id != tenant_id:
        raise ValueError(f"{where.tenant_file} does not describe tenant {tenant_id!r}; nothing was deleted")
    result = ProvisionResult(tenant_id)
    for path, parent in (
        (where.home, klikkflow_home() / "tenants"),
        (where.k8s_dir, k8s_dir(deploy_root)),
    ):
        if path.resolve().parent != parent.resolve() or path.name != tenant_id:
            raise ValueError(f"refusing to delete {path}: not the directory of tenant {tenant_id!r}")
        if path.exists():
            shutil.rmtree(path)
            result.actions.append(f"removed {path}")
    if drop_database:
        server = server or PostgresServer.from_env()
        result.actions += delete_tenant_database(tenant_id, server=server, platform=platform)
    if where.tenant_file.exists():
        where.tenant_file.unlink()
        result.actions.append(f"removed tenant file {where.tenant_file}")
    _render_platform(result, where.tenants_dir, deploy_root, settings)
    return result
