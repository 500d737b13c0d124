"""The rehearsal's processes, each started like its pod and with only its pod's environment.

Per tenant: one ``dagster api grpc`` code server per location (the chart's
dagster-user-deployments, with their ``dagsterApiGrpcArgs``) and one ``dagster-daemon run`` whose
workspace lists those code servers as ``grpc_server`` entries. The instance (``DAGSTER_HOME``) is
the tenant's production ``dagster.yaml`` with two stand-ins for what the chart's instance
ConfigMap says: Dagster's default run launcher (run workers are processes the code server starts,
where the chart's K8sRunLauncher starts run pods) and ``NoOpComputeLogManager`` (the chart's).
Platform: the gateway (``klikkflow serve``, its Deployment's arguments) reading the same gRPC
workspaces, and the audit checkpointer. They run under :class:`~klikkflow_pipelines.tenancy.
supervisor.Supervisor` (prefixed output into the log file, stopped together).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.pod_env import checkpointer_pod_env, gateway_pod_env, tenant_pod_env
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.grpc_workspace import (
    location_deployment_name,
    location_names,
    write_grpc_workspace,
)
from klikkflow_pipelines.tenancy.helm_values import render_helm_values
from klikkflow_pipelines.tenancy.instance import render_instance_config
from klikkflow_pipelines.tenancy.supervisor import ProcessSpec

NOOP_COMPUTE_LOGS = {
    "module": "dagster._core.storage.noop_compute_log_manager",
    "class": "NoOpComputeLogManager",
}
CHECKPOINT_SECONDS = "20"
"""``KLIKKFLOW_AUDIT_CHECKPOINT_SECONDS`` of the rehearsal: a checkpoint at least every 10 s."""


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(name: str) -> str:
    """A console script of this environment (the image's ``PATH``)."""
    return str(Path(sys.executable).with_name(name))


def rehearsal_instance_config(tenant: TenantConfig) -> dict:
    """The tenant's production ``dagster.yaml`` with the default run launcher and no compute logs."""
    config = render_instance_config(tenant, production=True)
    config.pop("run_launcher", None)  # DefaultRunLauncher stands in for the K8sRunLauncher
    config["compute_logs"] = NOOP_COMPUTE_LOGS
    return config


@dataclass
class TenantPods:
    """One tenant's code servers (location -> port), daemon workspace and process specs."""

    tenant: TenantConfig
    ports: dict[str, int]
    specs: list[ProcessSpec] = field(default_factory=list)


def tenant_pods(layout: Layout, tenant: TenantConfig, settings: DeploySettings) -> TenantPods:
    """Write the tenant's instance config and workspaces (daemon's and gateway's); its process specs."""
    dagster_home = layout.dagster_home(tenant.id)
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_dump(rehearsal_instance_config(tenant), sort_keys=False)
    (dagster_home / "dagster.yaml").write_text(config, encoding="utf-8")
    layout.pod_home(tenant.id).mkdir(parents=True, exist_ok=True)
    pods = TenantPods(tenant, {name: free_port() for name in location_names(tenant)})
    endpoints = {name: ("127.0.0.1", port) for name, port in pods.ports.items()}
    workspace = write_grpc_workspace(tenant, endpoints, layout.pod(tenant.id) / "workspace")
    write_grpc_workspace(tenant, endpoints, layout.workspaces_dir)
    values = render_helm_values(tenant, settings)
    deployments = {d["name"]: d for d in values["dagster-user-deployments"]["deployments"]}
    for name, port in pods.ports.items():
        grpc_args = deployments[location_deployment_name(tenant.id, name)]["dagsterApiGrpcArgs"]
        argv = [executable("dagster"), "api", "grpc", "--host", "127.0.0.1", "--port", str(port), *grpc_args]
        env = tenant_pod_env(layout, tenant, settings, name)
        pods.specs.append(
            ProcessSpec(f"{tenant.id}/code-server-{name}", argv, env, PROJECT_ROOT, inherit_env=False)
        )
    daemon = [executable("dagster-daemon"), "run", "-w", str(workspace)]
    env = tenant_pod_env(layout, tenant, settings, None)
    pods.specs.append(ProcessSpec(f"{tenant.id}/daemon", daemon, env, PROJECT_ROOT, inherit_env=False))
    return pods


def _console_script(args: list[str]) -> list[str]:
    return [executable(args[0]), *args[1:]]


def gateway_spec(
    layout: Layout,
    tenants: list[TenantConfig],
    settings: DeploySettings,
    port: int,
) -> ProcessSpec:
    """``klikkflow serve`` as the gateway's Deployment runs it, on a loopback port."""
    env, args = gateway_pod_env(layout, tenants, settings, f"http://127.0.0.1:{port}")
    args[args.index("--host") + 1], args[args.index("--port") + 1] = "127.0.0.1", str(port)
    layout.pod_home("gateway").mkdir(parents=True, exist_ok=True)
    return ProcessSpec("platform/gateway", _console_script(args), env, PROJECT_ROOT, inherit_env=False)


def checkpointer_env(
    layout: Layout, tenants: list[TenantConfig], settings: DeploySettings
) -> tuple[dict, list]:
    """The checkpointer's environment (with the rehearsal's checkpoint interval) and arguments."""
    env, args = checkpointer_pod_env(layout, tenants, settings)
    return {**env, "KLIKKFLOW_AUDIT_CHECKPOINT_SECONDS": CHECKPOINT_SECONDS}, args


def checkpointer_spec(layout: Layout, tenants: list[TenantConfig], settings: DeploySettings) -> ProcessSpec:
    """``klikkflow audit checkpoint --loop`` as the checkpointer's Deployment runs it."""
    env, args = checkpointer_env(layout, tenants, settings)
    layout.pod_home("checkpointer").mkdir(parents=True, exist_ok=True)
    return ProcessSpec("platform/checkpointer", _console_script(args), env, PROJECT_ROOT, inherit_env=False)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    """Poll ``condition`` until it holds; raise ``TimeoutError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def code_server_answers(port: int) -> bool:
    """True when a ``dagster api grpc`` server answers a ping on ``port``."""
    from dagster._grpc.client import DagsterGrpcClient

    try:
        DagsterGrpcClient(port=port, host="127.0.0.1").ping("ready")
    except Exception:  # not listening yet, or still loading
        return False
    return True


def gateway_answers(base_url: str) -> bool:
    """True when the gateway answers ``/healthz``."""
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
