"""Tenants' own code locations in the gateway: one workspace.yaml per tenant, one code server per location.

Two tenants on one machine, each with its own location (acme also with a broken one), opened by the
real ``open_gateway`` from the tenants' workspace files: each workspace lists only its tenant's
locations and assets, and the broken location shows its error while the others load.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster_graphql.test.utils import execute_dagster_graphql

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.dagster_mount import location_load_errors
from klikkflow_pipelines.gateway.server import open_gateway
from klikkflow_pipelines.gateway.settings import GatewaySettings
from klikkflow_pipelines.tenancy.config import load_all_tenants

ASSETS = """
import dagster as dg


@dg.asset
def {asset}() -> int:
    return 1


defs = dg.Definitions(assets=[{asset}])
"""

WORKSPACE_QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message errorChain { error { message } } }
          ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } }
        }
      }
    }
  }
}
"""

_ENV = ("KLIKKFLOW_HOME", "KLIKKFLOW_TENANTS_DIR", "KLIKKFLOW_TENANT")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("locations")


@pytest.fixture(scope="module")
def gateway(root: Path) -> Iterator[Gateway]:
    saved = {key: os.environ.get(key) for key in _ENV}
    os.environ["KLIKKFLOW_HOME"] = str(root / "home")
    os.environ["KLIKKFLOW_TENANTS_DIR"] = str(root / "tenants")
    os.environ.pop("KLIKKFLOW_TENANT", None)
    (root / "tenants").mkdir()
    for tenant_id, locations in {
        "acme": {"shop": "acme_shop", "broken": "acme_broken"},
        "globex": {"ledger": "globex_ledger"},
    }.items():
        code = root / f"{tenant_id}-code"
        code.mkdir()
        for module in locations.values():
            (code / f"{module}.py").write_text(textwrap.dedent(ASSETS.format(asset=f"{module}_asset")))
        entries = [{"name": n, "module": m, "path": f"../{tenant_id}-code"} for n, m in locations.items()]
        data = {"id": tenant_id, "name": tenant_id, "code_locations": entries}
        (root / "tenants" / f"{tenant_id}.yaml").write_text(yaml.safe_dump(data))
    (root / "acme-code" / "acme_broken.py").write_text(
        "raise RuntimeError('acme broke this location on purpose')\n"
    )
    tenants, errors = load_all_tenants()
    assert not errors
    settings = GatewaySettings(secret_key="k" * 48, database_url=f"sqlite:///{root / 'gateway.db'}")
    try:
        with open_gateway(settings, tenants) as opened:
            yield opened
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _entries(gateway: Gateway, tenant_id: str) -> dict[str, dict]:
    request = gateway.workspaces[tenant_id].create_request_context()
    result = execute_dagster_graphql(request, WORKSPACE_QUERY)
    assert result.errors is None, result.errors
    return {entry["name"]: entry for entry in result.data["workspaceOrError"]["locationEntries"]}


def _assets(entry: dict) -> set[str]:
    location = entry["locationOrLoadError"]
    return {
        "/".join(node["assetKey"]["path"]) for repo in location["repositories"] for node in repo["assetNodes"]
    }


def test_the_gateway_serves_every_location_of_the_tenant_workspace(gateway: Gateway, root: Path) -> None:
    entries = _entries(gateway, "acme")
    assert set(entries) == {"acme", "shop", "broken"}  # built-in location first, then the tenant's own
    assert entries["shop"]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    assert _assets(entries["shop"]) == {"acme_shop_asset"}
    assert entries["acme"]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    workspace = yaml.safe_load((root / "home/tenants/acme/workspace.yaml").read_text())
    assert [e["python_module"]["location_name"] for e in workspace["load_from"]] == ["acme", "shop", "broken"]


def test_a_broken_location_shows_its_error_and_stops_only_itself(gateway: Gateway) -> None:
    broken = _entries(gateway, "acme")["broken"]
    assert (
        broken["locationOrLoadError"]["__typename"] == "PythonError"
    )  # what the UI's code location page shows
    error = broken["locationOrLoadError"]
    messages = [error["message"], *(link["error"]["message"] for link in error["errorChain"])]
    assert any("RuntimeError: acme broke this location on purpose" in m for m in messages), messages
    errors = location_load_errors(gateway.workspaces["acme"])
    assert set(errors) == {"broken"} and "acme_broken.py" in errors["broken"]


def test_each_tenant_sees_only_its_own_locations_and_assets(gateway: Gateway) -> None:
    globex = _entries(gateway, "globex")
    assert set(globex) == {"globex", "ledger"}
    assert set().union(*(_assets(e) for e in globex.values())) == {"globex_ledger_asset"}
    acme_assets = set().union(
        *(_assets(e) for e in _entries(gateway, "acme").values() if e["name"] != "broken")
    )
    assert acme_assets == {"acme_shop_asset"}
