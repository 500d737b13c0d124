"""The production gateway opens a tenant through running code servers (``grpc_server`` entries).

Two real ``dagster api grpc`` servers serve tenant acme's built-in location and its own location
``shop`` on loopback ports, as the tenant's dagster-user-deployments do on Kubernetes; the
workspace file under ``KLIKKFLOW_GATEWAY_WORKSPACES_DIR`` (the mounted ConfigMap in production)
points the real ``open_gateway`` at them. The gateway starts no code server of its own and writes
no subprocess workspace; a tenant without a workspace file there is not served.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._grpc.client import DagsterGrpcClient
from dagster_graphql.test.utils import execute_dagster_graphql

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.server import open_gateway
from klikkflow_pipelines.gateway.settings import GatewaySettings
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants
from klikkflow_pipelines.tenancy.grpc_workspace import (
    GATEWAY_WORKSPACES_DIR_ENV,
    grpc_workspace_config,
    k8s_code_server_endpoints,
    location_deployment_name,
    write_grpc_workspace,
)
from klikkflow_pipelines.tenancy.platform_manifests import render_platform_manifests
from klikkflow_pipelines.tenant_code.targets import LOCATIONS_MODULE, location_attribute

SHOP = """
import dagster as dg


@dg.asset
def acme_shop_asset() -> int:
    return 1


defs = dg.Definitions(assets=[acme_shop_asset], jobs=[dg.define_asset_job("shop_job")])
"""
LOCATIONS_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename
  ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } } } } } } }
"""
_ENV = ("KLIKKFLOW_HOME", "KLIKKFLOW_TENANTS_DIR", "KLIKKFLOW_TENANT", GATEWAY_WORKSPACES_DIR_ENV)


def _start_code_server(tenant_id: str, location: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    """``dagster api grpc`` as a tenant's dagster-user-deployment runs it (the same arguments)."""
    command = [
        sys.executable, "-m", "dagster", "api", "grpc", "--host", "127.0.0.1", "--port", str(port),
        "--module-name", LOCATIONS_MODULE, "--attribute", location_attribute(tenant_id, location),
        "--location-name", location,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**env, "KLIKKFLOW_TENANT": tenant_id},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_until_serving(process: subprocess.Popen, port: int, timeout: float = 90.0) -> None:
    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"code server on {port} exited: {process.stderr.read().decode()[-2000:]}")
        try:
            client.ping("ready")
            return
        except Exception:  # not listening yet
            time.sleep(0.3)
    raise TimeoutError(f"code server on port {port} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, free_port) -> Iterator[tuple[Gateway, dict, Path]]:
    root = tmp_path_factory.mktemp("grpc-workspace")
    saved = {key: os.environ.get(key) for key in _ENV}
    os.environ["KLIKKFLOW_HOME"] = str(root / "home")
    os.environ["KLIKKFLOW_TENANTS_DIR"] = str(root / "tenants")
    os.environ.pop("KLIKKFLOW_TENANT", None)
    (root / "tenants").mkdir()
    (root / "acme-code").mkdir()
    (root / "acme-code" / "acme_shop.py").write_text(textwrap.dedent(SHOP))
    acme = {
        "id": "acme",
        "name": "Acme",
        "code_locations": [{"name": "shop", "module": "acme_shop", "path": "../acme-code"}],
    }
    (root / "tenants" / "acme.yaml").write_text(yaml.safe_dump(acme))
    (root / "tenants" / "globex.yaml").write_text(yaml.safe_dump({"id": "globex", "name": "Globex"}))
    tenants, errors = load_all_tenants()
    assert not errors
    ports = {"acme": free_port(), "shop": free_port()}
    processes = [_start_code_server("acme", name, port, dict(os.environ)) for name, port in ports.items()]
    try:
        for process, port in zip(processes, ports.values(), strict=True):
            _wait_until_serving(process, port)
        endpoints = {name: ("127.0.0.1", port) for name, port in ports.items()}
        write_grpc_workspace(tenants["acme"], endpoints, root / "workspaces")  # none for globex
        os.environ[GATEWAY_WORKSPACES_DIR_ENV] = str(root / "workspaces")
        settings = GatewaySettings(secret_key="k" * 48, database_url=f"sqlite:///{root / 'gateway.db'}")
        with open_gateway(settings, tenants) as gateway:
            yield gateway, ports, root
    finally:
        # The environment first: a teardown error must not leave these set for the tests that follow.
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a code server waits up to 60 s for RPCs in flight
                process.kill()
                process.wait()


def test_the_gateway_opens_the_tenant_through_its_running_code_servers(served) -> None:
    gateway, ports, root = served
    request = gateway.workspaces["acme"].create_request_context()
    entries = request.get_code_location_entries()
    assert list(entries) == ["acme", "shop"]
    for name, entry in entries.items():
        assert isinstance(entry.origin, GrpcServerCodeLocationOrigin), entry.origin
        assert (entry.origin.host, entry.origin.port) == ("127.0.0.1", ports[name])
        assert entry.load_error is None, entry.load_error
    result = execute_dagster_graphql(request, LOCATIONS_QUERY)
    assert result.errors is None, result.errors
    shop = next(e for e in result.data["workspaceOrError"]["locationEntries"] if e["name"] == "shop")
    assets = {
        "/".join(n["assetKey"]["path"])
        for r in shop["locationOrLoadError"]["repositories"]
        for n in r["assetNodes"]
    }
    assert assets == {"acme_shop_asset"}
    # nothing was started as a subprocess of the gateway: no python_module workspace was written
    assert not (root / "home" / "tenants" / "acme" / "workspace.yaml").exists()
    assert "acme" in gateway.tenant_apps


def test_a_tenant_without_a_workspace_file_is_not_served(served) -> None:
    gateway, _ports, root = served
    assert "globex" not in gateway.tenant_apps and "globex" not in gateway.workspaces
    assert not (root / "home" / "tenants" / "globex" / "workspace.yaml").exists()


def test_endpoints_must_name_exactly_the_tenants_locations() -> None:
    tenant = TenantConfig(id="acme", name="Acme", code_locations=[{"name": "shop", "module": "acme_shop"}])
    with pytest.raises(ValueError, match=r"missing \['shop'\], unknown \[\]"):
        grpc_workspace_config(tenant, {"acme": ("127.0.0.1", 4000)})
    with pytest.raises(ValueError, match=r"unknown \['other'\]"):
        grpc_workspace_config(tenant, {"acme": ("h", 1), "shop": ("h", 2), "other": ("h", 3)})


def test_the_kubernetes_workspace_points_at_the_tenants_services() -> None:
    """The ConfigMap the gateway mounts names each location after the location and reaches its
    dagster-user-deployment's Service in the tenant's namespace on 3030."""
    tenant = TenantConfig(id="acme", name="Acme", code_locations=[{"name": "shop_v2", "module": "acme_shop"}])
    assert k8s_code_server_endpoints(tenant) == {
        "acme": ("klikkflow-acme.kf-acme.svc.cluster.local", 3030),
        "shop_v2": ("kf-acme-shop-v2.kf-acme.svc.cluster.local", 3030),
    }
    assert location_deployment_name("acme", "shop_v2") == "kf-acme-shop-v2"
    (config_map,) = [m for m in render_platform_manifests([tenant]) if m["kind"] == "ConfigMap"]
    assert yaml.safe_load(config_map["data"]["acme.yaml"]) == grpc_workspace_config(
        tenant, k8s_code_server_endpoints(tenant)
    )
