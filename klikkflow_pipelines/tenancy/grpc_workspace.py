"""A tenant's workspace of running code servers (``grpc_server`` entries), as production uses it.

Locally each code location is a subprocess the opening process starts
(:func:`klikkflow_pipelines.tenancy.provisioning.workspace_config`). In
production every location is a long-running ``dagster api grpc`` server: on
Kubernetes one dagster-user-deployment per location in the tenant's namespace,
reached as ``<deployment>.kf-<id>.svc.cluster.local:3030``; in the rehearsal a
process on a loopback port. The gateway reads the tenant's workspace from
``$KLIKKFLOW_GATEWAY_WORKSPACES_DIR/<tenant id>.yaml`` when that variable is set
(on Kubernetes the mounted ConfigMap ``klikkflow-gateway-workspaces``).

Location names are the same everywhere (the tenant id for the built-in
location, the ``code_locations`` names for the tenant's own), so runs,
schedules and sensors started through the gateway are found by the tenant's
daemon, whose chart-rendered workspace lists the same names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import tenant_namespace

USER_CODE_GRPC_PORT = 3030
GATEWAY_WORKSPACES_DIR_ENV = "KLIKKFLOW_GATEWAY_WORKSPACES_DIR"
GATEWAY_WORKSPACES_CONFIGMAP = "klikkflow-gateway-workspaces"

Endpoint = tuple[str, int] | Path
"""Where a code server answers: ``(host, port)``, or the path of its unix socket (``klikkflow dev``)."""


def location_names(tenant: TenantConfig) -> list[str]:
    """Every code location of the tenant: the built-in one (named after the tenant), then its own."""
    return [tenant.id, *(location.name for location in tenant.code_locations)]


def location_deployment_name(tenant_id: str, location: str) -> str:
    """The dagster-user-deployment (and Service) name of a location: ``klikkflow-<id>`` for the
    built-in one, ``kf-<id>-<location>`` (underscores as dashes) for the tenant's own."""
    if location == tenant_id:
        return f"klikkflow-{tenant_id}"
    return f"kf-{tenant_id}-{location.replace('_', '-')}"


def k8s_code_server_endpoints(tenant: TenantConfig) -> dict[str, Endpoint]:
    """Where the tenant's code servers answer on Kubernetes, by location name (cluster DNS names)."""
    return {
        name: (
            f"{location_deployment_name(tenant.id, name)}.{tenant_namespace(tenant.id)}.svc.cluster.local",
            USER_CODE_GRPC_PORT,
        )
        for name in location_names(tenant)
    }


def grpc_workspace_config(tenant: TenantConfig, endpoints: Mapping[str, Endpoint]) -> dict[str, Any]:
    """The tenant's workspace: one ``grpc_server`` entry per location at ``endpoints[location]``
    (host and port, or a unix socket).

    ``endpoints`` must name every location of the tenant and nothing else (a ``ValueError`` says
    which are missing or unknown), so a workspace never silently drops a location.
    """
    names = location_names(tenant)
    missing = [name for name in names if name not in endpoints]
    unknown = sorted(set(endpoints) - set(names))
    if missing or unknown:
        raise ValueError(
            f"tenant {tenant.id!r}: code server endpoints must cover exactly its locations {names}; "
            f"missing {missing}, unknown {unknown}"
        )
    return {"load_from": [{"grpc_server": _grpc_server_entry(endpoints[name], name)} for name in names]}


def _grpc_server_entry(endpoint: Endpoint, location: str) -> dict[str, Any]:
    if isinstance(endpoint, Path):
        return {"socket": str(endpoint), "location_name": location}
    return {"host": endpoint[0], "port": endpoint[1], "location_name": location}


def grpc_workspace_yaml(tenant: TenantConfig, endpoints: Mapping[str, Endpoint]) -> str:
    """:func:`grpc_workspace_config` as YAML text."""
    return yaml.safe_dump(grpc_workspace_config(tenant, endpoints), sort_keys=False)


def write_grpc_workspace(tenant: TenantConfig, endpoints: Mapping[str, Endpoint], directory: Path) -> Path:
    """Write the tenant's workspace to ``<directory>/<tenant id>.yaml`` (the gateway's layout); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{tenant.id}.yaml"
    path.write_text(grpc_workspace_yaml(tenant, endpoints), encoding="utf-8")
    return path


def gateway_workspace_file(tenant_id: str) -> Path | None:
    """The tenant's workspace file under ``$KLIKKFLOW_GATEWAY_WORKSPACES_DIR``; ``None`` when unset.

    Raises ``FileNotFoundError`` (naming the variable and the fix) when the directory is set but
    holds no file for the tenant: the gateway then leaves that tenant out rather than starting its
    code as subprocesses of its own.
    """
    directory = os.environ.get(GATEWAY_WORKSPACES_DIR_ENV, "").strip()
    if not directory:
        return None
    path = Path(directory) / f"{tenant_id}.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"{GATEWAY_WORKSPACES_DIR_ENV}={directory}: no workspace file {path.name} for tenant "
            f"{tenant_id!r}. Fix: re-render the platform manifests (`klikkflow platform render`) and "
            f"apply the ConfigMap {GATEWAY_WORKSPACES_CONFIGMAP}, or write it with write_grpc_workspace"
        )
    return path
