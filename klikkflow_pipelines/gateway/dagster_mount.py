"""The one module that touches dagster-webserver internals (pinned: Dagster 1.13.27).

It builds each tenant's webserver app with ``create_app_from_workspace_process_context``
on a :class:`TenantWorkspaceProcessContext`, whose request contexts report the
signed-in user's permission set, so the Dagster UI itself hides launch,
terminate, schedule and sensor actions the user may not use, and Dagster's own
resolvers refuse them too. The gateway puts the role into the ASGI scope's
``state`` under :data:`ROLE_STATE_KEY` before the request reaches Dagster;
a request without it gets viewer permissions.

Tested by tests/gateway/test_dagster_mount.py; re-check on every Dagster upgrade.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._core.workspace.permissions import (
    EDITOR_PERMISSIONS,
    LOCATION_SCOPED_PERMISSIONS,
    PermissionResult,
    Permissions,
)
from dagster_webserver.app import create_app_from_workspace_process_context
from starlette.types import ASGIApp

ROLE_STATE_KEY = "klikkflow_role"
DAGSTER_VERSION = "1.13.27"

_LAUNCHER_PERMISSIONS = {
    Permissions.LAUNCH_PIPELINE_EXECUTION,
    Permissions.LAUNCH_PIPELINE_REEXECUTION,
    Permissions.TERMINATE_PIPELINE_EXECUTION,
}
_ADMIN_ONLY_PERMISSIONS = {Permissions.EDIT_CONCURRENCY_LIMIT}


def _enabled_for(role: str, permission: str) -> bool:
    if role == "viewer":
        return False
    if role == "launcher":
        return permission in _LAUNCHER_PERMISSIONS
    if permission in _ADMIN_ONLY_PERMISSIONS:
        return role == "admin"
    return EDITOR_PERMISSIONS[permission]


def permissions_for_role(role: str) -> dict[str, PermissionResult]:
    """Dagster's permission map for a KlikkFlow tenant role."""
    result: dict[str, PermissionResult] = {}
    for permission in EDITOR_PERMISSIONS:
        enabled = _enabled_for(role, permission)
        reason = None if enabled else f"Your {role} role in this tenant does not allow this"
        result[permission] = PermissionResult(enabled=enabled, disabled_reason=reason)
    return result


_PERMISSIONS_BY_ROLE = {
    role: permissions_for_role(role) for role in ("viewer", "launcher", "editor", "admin")
}
_LOCATION_PERMISSIONS_BY_ROLE = {
    role: {k: v for k, v in perms.items() if k in LOCATION_SCOPED_PERMISSIONS}
    for role, perms in _PERMISSIONS_BY_ROLE.items()
}


def role_of_source(source: Any) -> str:
    """The role the gateway attached to the request (viewer when absent)."""
    scope = getattr(source, "scope", None) or {}
    role = (scope.get("state") or {}).get(ROLE_STATE_KEY)
    return role if role in _PERMISSIONS_BY_ROLE else "viewer"


class RoleRequestContext(WorkspaceRequestContext):
    """A request context whose permissions come from the user's tenant role."""

    def __init__(self, *args: Any, role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._role = role

    @property
    def permissions(self) -> Mapping[str, PermissionResult]:
        return _PERMISSIONS_BY_ROLE[self._role]

    def permissions_for_location(self, *, location_name: str) -> Mapping[str, PermissionResult]:
        return _LOCATION_PERMISSIONS_BY_ROLE[self._role]

    def has_permission_for_location(self, permission: str, location_name: str) -> bool:
        self._checked_permissions.add(permission)
        return _PERMISSIONS_BY_ROLE[self._role][permission].enabled


class TenantWorkspaceProcessContext(WorkspaceProcessContext):
    """A tenant's workspace whose request contexts carry the signed-in user's role."""

    def create_request_context(self, source: object | None = None) -> WorkspaceRequestContext:
        return RoleRequestContext(
            instance=self._instance,
            current_workspace=self.get_current_workspace(),
            process_context=self,
            version=self.version,
            source=source,
            read_only=False,
            role=role_of_source(source),
        )


def open_tenant_workspace(instance: DagsterInstance, workspace_file: Path) -> TenantWorkspaceProcessContext:
    """Start the tenant's workspace: one managed code server per location listed in ``workspace_file``.

    A location that fails to load is kept in the workspace with its error (the UI's code location
    page and the ``workspaceOrError`` GraphQL field show it); the other locations serve.
    """
    target = WorkspaceFileTarget(paths=[str(workspace_file)])
    return TenantWorkspaceProcessContext(
        instance=instance, workspace_load_target=target, version=DAGSTER_VERSION
    )


def location_load_errors(context: WorkspaceProcessContext) -> dict[str, str]:
    """The locations of ``context`` that failed to load, with the message of each error."""
    request = context.create_request_context()
    return {
        name: error.to_string()
        for name, entry in request.get_code_location_entries().items()
        if (error := entry.load_error) is not None
    }


def tenant_dagster_app(context: TenantWorkspaceProcessContext, tenant_id: str) -> ASGIApp:
    """The tenant's Dagster webserver app, serving UI and GraphQL under ``/t/<tenant>``."""
    return create_app_from_workspace_process_context(context, path_prefix=f"/t/{tenant_id}")
