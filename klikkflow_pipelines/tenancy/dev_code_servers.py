"""``klikkflow dev``'s code servers: one per tenant location, shared by the tenant's daemon and the gateway.

Plain ``dagster dev`` starts one ``dagster code-server start`` per location and hands its webserver
and daemon a workspace of ``grpc_server`` entries pointing at them. ``klikkflow dev`` does the same
per tenant: each location of each tenant is one supervised ``dagster code-server start`` on a unix
socket in a private (0700) directory of the run, like ``dagster dev``'s, so no TCP port besides the
UI's is opened; the tenant's daemon and the gateway both read the tenant's
``grpc_server`` workspace (:func:`~klikkflow_pipelines.tenancy.grpc_workspace.write_grpc_workspace`,
the layout production's gateway reads). ``code-server start`` is a proxy that loads the code in a
``dagster api grpc`` child: the UI's "Reload" (GraphQL ``reloadRepositoryLocation``) makes it start
a fresh child, so edited code is re-imported; the daemon sees the new server id and follows.

Isolation: a code server (and the child, run workers and step processes it starts) gets the
tenant's environment only (:func:`~klikkflow_pipelines.tenant_code.environment.tenant_environment`:
no other tenant's variables, no platform signing or private keys, no gateway settings), not the
environment of ``klikkflow dev``. The workspaces are written to the platform's directory, not the
tenant's home (which tenant code may write), so tenant code cannot point its own daemon or the
gateway at another tenant's code server.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compliance.home import platform_home
from klikkflow_pipelines.paths import PROJECT_ROOT, tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.grpc_workspace import location_names, write_grpc_workspace
from klikkflow_pipelines.tenancy.supervisor import ProcessSpec, Supervisor
from klikkflow_pipelines.tenant_code.environment import tenant_environment
from klikkflow_pipelines.tenant_code.targets import LOCATIONS_MODULE, location_attribute

CODE_SERVER_ROLE = "code-server"
#: Where the dev workspaces go: ``<platform>/dev-workspaces/<tenant>.yaml``.
WORKSPACES_DIR = "dev-workspaces"


@dataclass(frozen=True)
class TenantCodeServers:
    """One tenant's code servers: location -> unix socket, their workspace file and process specs."""

    tenant_id: str
    sockets: dict[str, Path]
    workspace: Path
    specs: list[ProcessSpec]


def code_server_name(tenant_id: str, location: str) -> str:
    """The supervisor's name (log prefix) of a location's code server: ``<tenant>/code-server-<location>``."""
    return f"{tenant_id}/{CODE_SERVER_ROLE}-{location}"


def code_server_argv(tenant_id: str, location: str, socket: Path) -> list[str]:
    """``dagster code-server start`` for ``location`` of ``tenant_id``, answering on ``socket``."""
    return [
        *(sys.executable, "-m", "dagster", "code-server", "start", "--socket", str(socket)),
        *("--location-name", location, "--module-name", LOCATIONS_MODULE),
        *("--attribute", location_attribute(tenant_id, location), "--working-directory", str(PROJECT_ROOT)),
        *("--use-python-environment-entry-point", "--log-level", "warning"),
    ]


def code_server_environment(tenant: TenantConfig, home: Path) -> dict[str, str]:
    """The whole environment of ``tenant``'s code servers: the tenant's allow-list and nothing else."""
    env = tenant_environment(tenant.id, os.environ, home)
    if tenant.source_path:  # a tenant file outside the default directory (a project, a test fixture)
        env["KLIKKFLOW_TENANTS_DIR"] = str(Path(tenant.source_path).parent)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def tenant_code_servers(tenant: TenantConfig, socket_dir: Path) -> TenantCodeServers:
    """A unix socket in ``socket_dir`` (a private directory of this run) per location of ``tenant``,
    its ``grpc_server`` workspace (written to the platform directory) and its code servers' specs."""
    sockets = {name: socket_dir / f"{tenant.id}-{i}.sock" for i, name in enumerate(location_names(tenant))}
    directory = platform_home() / WORKSPACES_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    workspace = write_grpc_workspace(tenant, dict(sockets), directory)
    home = tenant_home(tenant.id)
    env = code_server_environment(tenant, home)
    specs = [  # inherit_env=False: ``env`` is the whole environment, never the platform's
        ProcessSpec(
            code_server_name(tenant.id, name),
            code_server_argv(tenant.id, name, socket),
            env,
            home,
            inherit_env=False,
        )
        for name, socket in sockets.items()
    ]
    return TenantCodeServers(tenant.id, sockets, workspace, specs)


def code_server_answers(socket: Path) -> bool:
    """True when the code server on ``socket`` answers a ping (its code loaded or its load error known)."""
    from dagster._grpc.client import DagsterGrpcClient

    try:
        DagsterGrpcClient(socket=str(socket)).ping("ready")
    except Exception:  # not listening yet
        return False
    return True


def wait_for_code_servers(
    servers: Sequence[TenantCodeServers],
    supervisor: Supervisor,
    timeout: float = 180.0,
    stop: threading.Event | None = None,
) -> list[str]:
    """Wait until every code server answers a ping (its code is loaded, or its load error is known).

    A code server the supervisor gave up on (crash loop) is not waited for; a set ``stop`` ends the
    wait. Returns the names of those that did not answer within ``timeout`` seconds or were given
    up (their locations then show a load error in the UI; the other tenants serve).
    """
    sockets = {code_server_name(s.tenant_id, loc): path for s in servers for loc, path in s.sockets.items()}
    pending = dict(sockets)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline and not (stop and stop.is_set()):
        for name, path in list(pending.items()):
            if supervisor.processes[name].given_up or code_server_answers(path):
                del pending[name]
        if pending:
            time.sleep(0.25)
    return [name for name in sockets if name in pending or supervisor.processes[name].given_up]
