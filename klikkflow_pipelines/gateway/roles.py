"""Roles: viewer < launcher < editor < admin per tenant, plus the platform owner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from klikkflow_pipelines.tenancy.config import TenantConfig

ROLES: tuple[str, ...] = ("viewer", "launcher", "editor", "admin")
RANK = {role: index for index, role in enumerate(ROLES)}


def role_at_least(role: str | None, required: str) -> bool:
    """True when ``role`` includes ``required``."""
    return role is not None and RANK[role] >= RANK[required]


def higher(a: str | None, b: str | None) -> str | None:
    """The more powerful of two roles (None means no access)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if RANK[a] >= RANK[b] else b


def resolve_roles(
    tenants: Mapping[str, TenantConfig],
    identities: Iterable[str],
    groups: Iterable[str] = (),
    owner: bool = False,
) -> dict[str, str]:
    """Map tenant id → role for a user known by ``identities`` (username, email, subject).

    A tenant grants a role through ``members`` (matching any identity) or
    ``oidc_groups`` (matching any group). The platform owner is admin everywhere.
    """
    if owner:
        return dict.fromkeys(tenants, "admin")
    names = {i.lower() for i in identities if i}
    group_set = set(groups)
    roles: dict[str, str] = {}
    for tenant_id, tenant in tenants.items():
        role: str | None = None
        for member in tenant.members:
            if member.user.lower() in names:
                role = higher(role, member.role)
        for group, group_role in tenant.oidc_groups.items():
            if group in group_set:
                role = higher(role, group_role)
        if role is not None:
            roles[tenant_id] = role
    return roles
