"""The one module on dagster-webserver internals: pinned version, permission sets, request contexts
and per-tenant instances (workspaces of several locations: tests/gateway/test_tenant_locations.py)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import dagster
import pytest
import yaml
from dagster._core.workspace.permissions import EDITOR_PERMISSIONS

from klikkflow_pipelines.gateway.dagster_mount import (
    DAGSTER_VERSION,
    ROLE_STATE_KEY,
    permissions_for_role,
    role_of_source,
)
from klikkflow_pipelines.gateway.roles import ROLES
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.instance import tenant_instance

from .conftest import LiveGateway


def test_pinned_dagster_version() -> None:
    assert dagster.__version__ == DAGSTER_VERSION, "re-check dagster_mount.py against the new webserver"


@pytest.mark.parametrize("role", ROLES)
def test_permission_sets_cover_every_dagster_permission(role: str) -> None:
    permissions = permissions_for_role(role)
    assert set(permissions) == set(EDITOR_PERMISSIONS)
    for result in permissions.values():
        assert result.enabled or role in result.disabled_reason


def test_roles_only_add_permissions() -> None:
    enabled = [{k for k, v in permissions_for_role(role).items() if v.enabled} for role in ROLES]
    assert enabled[0] == set()
    for lower, higher in itertools.pairwise(enabled):
        assert lower < higher


def test_role_of_source_defaults_to_viewer() -> None:
    assert role_of_source(None) == "viewer"
    assert role_of_source(SimpleNamespace(scope={})) == "viewer"
    assert role_of_source(SimpleNamespace(scope={"state": {ROLE_STATE_KEY: "root"}})) == "viewer"
    assert role_of_source(SimpleNamespace(scope={"state": {ROLE_STATE_KEY: "editor"}})) == "editor"


def test_request_context_carries_the_role(live_gateway: LiveGateway) -> None:
    from klikkflow_pipelines.gateway.dagster_mount import TenantWorkspaceProcessContext

    context = live_gateway.gateway.workspaces["acme"]
    assert isinstance(context, TenantWorkspaceProcessContext)
    request = context.create_request_context(SimpleNamespace(scope={"state": {ROLE_STATE_KEY: "launcher"}}))
    assert request.has_permission("launch_pipeline_execution")
    assert not request.has_permission("start_schedule")
    location = next(iter(request.get_current_workspace().code_location_entries))
    assert request.has_permission_for_location("terminate_pipeline_execution", location)
    assert not request.has_permission_for_location("wipe_assets", location)


def test_tenant_instance_has_the_tenant_home_written_in(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    tenant = TenantConfig(id="acme", name="Acme")
    with tenant_instance(tenant) as instance:
        config = yaml.safe_load(
            (tmp_path / "klikkflow_home" / "tenants" / "acme" / "dagster.yaml").read_text()
        )
        assert config["storage"]["sqlite"]["base_dir"] == str(
            tmp_path / "klikkflow_home" / "tenants" / "acme"
        )
        assert instance.get_ref().local_artifact_storage_data is not None
        assert not instance.is_ephemeral
