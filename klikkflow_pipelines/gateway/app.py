"""The gateway ASGI app: sign-in pages and API on the root, tenant Dagster apps under ``/t/<tenant>/``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from compliance.audit.log import AuditLog
from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.events.routing import TenantWebhooks
from klikkflow_pipelines.events.webhook_app import create_webhook_app
from klikkflow_pipelines.gateway.accounts import Accounts
from klikkflow_pipelines.gateway.error_pages import http_exception, server_error
from klikkflow_pipelines.gateway.forwarded import TrustedProxies
from klikkflow_pipelines.gateway.gate import TenantGate, origin_of
from klikkflow_pipelines.gateway.housekeeping import periodic_purge
from klikkflow_pipelines.gateway.metrics import GatewayMetrics
from klikkflow_pipelines.gateway.oidc import OidcClient
from klikkflow_pipelines.gateway.principal import (
    Principal,
    bearer_token,
    cookie,
    header,
    token_grants,
    token_principal,
)
from klikkflow_pipelines.gateway.ratelimit import TokenBuckets
from klikkflow_pipelines.gateway.roles import resolve_roles
from klikkflow_pipelines.gateway.security_headers import SecurityHeaders
from klikkflow_pipelines.gateway.sessions import CSRF_HEADER, SESSION_COOKIE, SessionManager
from klikkflow_pipelines.gateway.settings import GatewaySettings
from klikkflow_pipelines.gateway.store import GatewayStore
from klikkflow_pipelines.gateway.token_store import TokenRecord
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant_file

log = logging.getLogger("klikkflow.gateway")
MAX_AUDIT_TARGET = 200
MAX_AUDIT_DETAILS = 8192


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    """(mtime, size) of a file, or None when it does not exist."""
    try:
        stat = os.stat(path) if path else None
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


class Gateway:
    """The whole gateway. Call it as an ASGI app.

    ``tenant_apps`` maps tenant id to that tenant's Dagster ASGI app (built by
    :mod:`klikkflow_pipelines.gateway.dagster_mount`); ``audit_logs`` maps tenant
    id to its audit log, ``workspaces`` to its workspace process context. They
    are plain mappings so more tenants plug in.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        tenants: Mapping[str, TenantConfig],
        tenant_apps: Mapping[str, ASGIApp],
        audit_logs: Mapping[str, AuditLog],
        store: GatewayStore | None = None,
        workspaces: Mapping[str, Any] | None = None,
    ) -> None:
        from klikkflow_pipelines.gateway.routes import build_routes

        self.settings = settings
        self.tenants = dict(tenants)
        self.tenant_apps = dict(tenant_apps)
        self.audit_logs = dict(audit_logs)
        self.workspaces = dict(workspaces or {})
        self.store = store or GatewayStore(settings.database_url)
        self.platform_audit = AuditLog(self.store.engine, "platform")
        for audit in (self.platform_audit, *self.audit_logs.values()):
            _ = audit.key  # resolve the writer (HMAC chain) key now, not from a request's environment
        self.accounts = Accounts(
            self.store, settings.max_failed_logins, settings.lockout_seconds, secret_key=settings.secret_key
        )
        self.sessions = SessionManager(
            self.store, settings.secret_key, settings.session_ttl_seconds, settings.session_cache_seconds
        )
        self.metrics = GatewayMetrics()
        self.user_buckets = TokenBuckets(settings.rate_per_user, settings.burst_per_user)
        self.tenant_buckets = TokenBuckets(settings.rate_per_tenant, settings.burst_per_tenant)
        self.signin_buckets = TokenBuckets(
            settings.signin_rate_per_address, settings.signin_burst_per_address
        )
        self.oidc = (
            OidcClient(settings.oidc, settings.public_url + "/auth/callback") if settings.oidc else None
        )
        self.public_origin = origin_of(settings.public_url)
        # local account name -> (exists, TOTP enabled, checked at), re-read every session_cache_seconds
        self._local_accounts: dict[str, tuple[bool, bool, float]] = {}
        self._tenant_stamps = {tid: _file_stamp(t.source_path) for tid, t in self.tenants.items()}
        self._tenants_checked_at = time.monotonic()
        self._limiter: anyio.CapacityLimiter | None = None
        self.gate = TenantGate(self)

        # Signed webhooks (HMAC per workflow, no session) for the tenants this gateway serves.
        def served_tenants() -> Mapping[str, TenantConfig]:
            self.refresh_tenants()
            return self.tenants

        routes = TenantWebhooks(served_tenants)
        hooks = create_webhook_app(secret_lookup=routes.secret, workflow_lookup=routes.workflow)
        self.web = Starlette(
            routes=[*build_routes(self), Mount("/hooks", app=hooks)],
            exception_handlers={HTTPException: http_exception, Exception: server_error},
            lifespan=lambda _app: periodic_purge(
                self.store, settings.purge_interval_seconds, settings.group_role_max_age_seconds
            ),
        )
        self._with_headers = SecurityHeaders(
            TrustedProxies(self._dispatch, settings.trusted_proxies), https=settings.secure_cookies
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._with_headers(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and path.startswith("/t/"):
            tenant_id = path[3:].split("/", 1)[0]
            await self.gate(scope, receive, send, tenant_id)
            return
        await self.web(scope, receive, send)

    async def offload(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking call (database, parsing) in a worker thread, at most ``worker_threads`` at once.

        Keeps the event loop free: ``/healthz``, static files and other tenants'
        requests are answered while a slow database or a large document is handled.
        """
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.settings.worker_threads)
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    # identity ----------------------------------------------------------------
    def roles_for(self, identities: list[str], groups: list[str], is_owner: bool) -> dict[str, str]:
        """Current tenant roles of a user, from the tenant configs (re-read when their files changed)."""
        self.refresh_tenants()
        return resolve_roles(self.tenants, identities, groups, is_owner)

    def refresh_tenants(self) -> None:
        """Re-read tenant files changed on disk, at most every ``tenant_reload_seconds``.

        Members and OIDC groups of a served tenant take effect without a restart: a
        removed or demoted user's sessions are revoked on their next request. A file
        that no longer validates keeps its last good configuration (logged); a deleted
        file leaves the tenant with no members. New tenants need a restart (their
        Dagster app is mounted at start).
        """
        interval = self.settings.tenant_reload_seconds
        now = time.monotonic()
        if interval <= 0 or now - self._tenants_checked_at < interval:
            return
        self._tenants_checked_at = now
        for tenant_id, tenant in list(self.tenants.items()):
            stamp = _file_stamp(tenant.source_path)
            if tenant.source_path is None or stamp == self._tenant_stamps.get(tenant_id):
                continue
            self._tenant_stamps[tenant_id] = stamp
            if stamp is None:
                log.warning(
                    "tenant file %s was removed: tenant %s has no members now", tenant.source_path, tenant_id
                )
                self.tenants[tenant_id] = tenant.model_copy(update={"members": [], "oidc_groups": {}})
                continue
            try:
                self.tenants[tenant_id] = load_tenant_file(Path(tenant.source_path))
            except ConfigError as error:
                log.error(
                    "tenant file changed but is invalid; keeping its last good configuration:\n%s", error
                )

    def authenticate(self, scope: Scope) -> Principal | None:
        """The caller of a request (session cookie or Bearer token), or None.

        A session whose roles no longer match the tenant configuration (a role
        change), or of a local account that no longer exists, is revoked here and
        treated as signed out.
        """
        token = bearer_token(scope)
        if token is not None:
            return token_principal(self.store, token, self._token_role)
        record = self.sessions.load(cookie(scope, SESSION_COOKIE))
        if record is None:
            return None
        if record.method == "local" and not self._local_account(record.username)[0]:
            self.sessions.revoke(record.id_hash)
            self.platform_audit.append(
                actor=record.username, action="session.revoked", target="account deleted", outcome="success"
            )
            return None
        current = self.roles_for(record.identities, record.groups, record.is_owner)
        if current != record.roles:
            self.sessions.revoke(record.id_hash)
            self.platform_audit.append(
                actor=record.username,
                action="session.revoked",
                target="role change",
                outcome="success",
                details={"old": record.roles, "new": current},
            )
            return None
        return Principal(
            username=record.username, roles=record.roles, is_owner=record.is_owner, session=record
        )

    def _token_role(self, record: TokenRecord) -> str | None:
        """The token creator's current role in the token's tenant (see :func:`token_grants`)."""
        owner_groups = self.settings.oidc.owner_groups if self.settings.oidc else ()
        grants = token_grants(self.store, record, owner_groups, self.settings.group_role_max_age_seconds)
        return self.roles_for(*grants).get(record.tenant)

    def mfa_enrollment_due(self, principal: Principal) -> bool:
        """True when MFA is required and this local-account session's user has not enrolled yet.

        Sign-ins through the identity provider are left to its own MFA policy; API
        tokens cannot be created by such a session (see the tokens page).
        """
        session = principal.session
        if not self.settings.require_mfa or session is None or session.method != "local":
            return False
        return not self._local_account(principal.username)[1]

    def _local_account(self, username: str) -> tuple[bool, bool]:
        """(exists, TOTP enabled) of a local account, read at most every ``session_cache_seconds``."""
        now = time.monotonic()
        exists, enabled, checked_at = self._local_accounts.get(username, (False, False, -1e9))
        if now - checked_at > self.settings.session_cache_seconds:
            user = self.store.get_user(username)
            exists, enabled = user is not None, bool(user and user["totp_enabled"])
            self._local_accounts[username] = (exists, enabled, now)
        return exists, enabled

    def forget_mfa_state(self, username: str) -> None:
        """Re-read a user's MFA enrollment on the next request (after enrolling)."""
        self._local_accounts.pop(username, None)

    # CSRF --------------------------------------------------------------------
    def same_origin(self, scope: Scope) -> bool:
        """True when the request's Origin (or Sec-Fetch-Site) shows it came from the gateway's own pages."""
        origin = header(scope, b"origin")
        if origin:
            host = header(scope, b"host") or ""
            scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
            return origin in (self.public_origin, f"{scheme}://{host}")
        return header(scope, b"sec-fetch-site") == "same-origin"

    def csrf_ok(self, scope: Scope, principal: Principal, form_token: str | None = None) -> bool:
        """A state-changing cookie request must carry the session's CSRF token or come from our origin.

        The gateway's own forms always need the token (``form_token`` or the
        ``X-CSRF-Token`` header). Requests to a tenant's Dagster app may instead
        prove same-origin with the Origin header, which browsers always send on
        cross-origin and non-GET requests and scripts on another site cannot forge;
        the Dagster UI cannot add our header.
        """
        session = principal.session
        if session is None:
            return False
        given = form_token if form_token is not None else header(scope, CSRF_HEADER.encode())
        if self.sessions.tokens_match(session.csrf_token, given):
            return True
        return form_token is None and scope.get("path", "").startswith("/t/") and self.same_origin(scope)

    # audit -------------------------------------------------------------------
    async def audit_async(
        self,
        tenant_id: str,
        actor: str,
        action: str,
        target: str,
        outcome: str,
        source: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append to a tenant's audit log (the platform log for unknown tenants) off the event loop.

        The target and details are bounded (:func:`bounded_details`): what a
        request sends never makes an audit row large.
        """
        audit = self.audit_logs.get(tenant_id, self.platform_audit)

        def _write() -> None:
            audit.append(
                actor=actor,
                action=action,
                target=target[:MAX_AUDIT_TARGET],
                outcome=outcome,
                source=source,
                details=bounded_details(details),
                tenant=tenant_id,
            )

        await self.offload(_write)


def bounded_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """``details``, or its SHA-256 and a bounded excerpt when its JSON exceeds ``MAX_AUDIT_DETAILS``."""
    if details is None:
        return None
    text = json.dumps(details, default=str, sort_keys=True)
    if len(text) <= MAX_AUDIT_DETAILS:
        return details
    return {
        "truncated": True,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "size": len(text),
        "excerpt": text[: MAX_AUDIT_DETAILS // 4],
    }
