"""Who is making a request: from a session cookie or a Bearer API token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from klikkflow_pipelines.gateway.roles import role_at_least
from klikkflow_pipelines.gateway.store import GatewayStore, SessionRecord, sha256_hex
from klikkflow_pipelines.gateway.token_store import TokenRecord

TOKEN_PREFIX = "kft_"


@dataclass
class Principal:
    """An authenticated caller and its tenant roles."""

    username: str
    roles: dict[str, str]
    is_owner: bool = False
    session: SessionRecord | None = None
    token_id: int | None = None
    token_tenant: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def via_token(self) -> bool:
        """True for Bearer-token requests (CSRF does not apply: no ambient credentials)."""
        return self.token_id is not None

    def role_for(self, tenant_id: str) -> str | None:
        """The caller's role in a tenant, or None."""
        if self.via_token and tenant_id != self.token_tenant:
            return None
        return self.roles.get(tenant_id)


def header(scope: dict, name: bytes) -> str | None:
    """One request header from an ASGI scope (names are lower-case bytes)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def cookie(scope: dict, name: str) -> str | None:
    """One cookie value from an ASGI scope (the gateway's cookies are plain tokens, never quoted)."""
    raw = header(scope, b"cookie")
    if not raw:
        return None
    prefix = name + "="
    for part in raw.split(";"):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix) :]
    return None


def bearer_token(scope: dict) -> str | None:
    """The Bearer token of the Authorization header, if any."""
    value = header(scope, b"authorization")
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def token_principal(
    store: GatewayStore, token: str, current_role: Callable[[TokenRecord], str | None]
) -> Principal | None:
    """The principal of a valid API token: known, unrevoked, unexpired, and its creator still holds
    at least the token's role in the token's tenant (``current_role``, from :func:`token_grants`),
    so a role change, removal from the tenant or a lost group disables the creator's tokens too."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = store.tokens.find(sha256_hex(token))
    if record is None or record.revoked or record.expires_at <= time.time():
        return None
    if not role_at_least(current_role(record), record.role):
        return None
    return Principal(
        username=record.username,
        roles={record.tenant: record.role},
        token_id=record.id,
        token_tenant=record.tenant,
    )


def token_grants(
    store: GatewayStore,
    record: TokenRecord,
    owner_groups: Iterable[str],
    group_max_age: float,
    now: float | None = None,
) -> tuple[list[str], list[str], bool]:
    """(identities, groups, is_owner) a token's role is derived from at this use.

    The identities are the creator's (matched against tenant ``members``). Groups are
    those of the creator's last SSO sign-in when it is at most ``group_max_age``
    seconds old, else none; the groups stored with the token at creation are never
    used. Platform owner: a local account by its account row now, an SSO user by those
    groups (``owner_groups``). A local account that no longer exists grants nothing (the tenant
    files may still name it).
    """
    now = time.time() if now is None else now
    if not record.via_sso:
        user = store.get_user(record.username)
        if user is None:
            return [], [], False
        return record.identities, [], bool(user["is_owner"])
    subject = next((i for i in record.identities if i.startswith("oidc:")), None)
    last = store.signin.groups_of(subject) if subject else None
    groups = last[0] if last is not None and now - last[1] <= group_max_age else []
    return record.identities, groups, bool(set(groups) & set(owner_groups))
