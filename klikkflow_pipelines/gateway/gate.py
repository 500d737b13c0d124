"""The tenant gate: authentication, tenant isolation, rate limits, CSRF, GraphQL limits and RBAC,
file-route checks and audit in front of each tenant's Dagster app, for HTTP and websocket requests.

Blocking work (session and token look-ups, parsing and authorizing documents,
run look-ups, audit appends) runs in the gateway's worker threads
(:meth:`Gateway.offload`), never on the event loop.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from starlette.types import Message, Receive, Scope, Send

from klikkflow_pipelines.gateway.asgi_io import (
    read_body,
    replay_receive,
    send_simple,
    source_address,
)
from klikkflow_pipelines.gateway.dagster_mount import ROLE_STATE_KEY
from klikkflow_pipelines.gateway.detokenize_route import Detokenizer, handle_detokenize, is_detokenize_route
from klikkflow_pipelines.gateway.error_pages import send_error, wants_html
from klikkflow_pipelines.gateway.file_routes import file_route_verdict, is_file_route
from klikkflow_pipelines.gateway.graphql_authz import Decision
from klikkflow_pipelines.gateway.graphql_request import document_digest, inspect_frame, inspect_request
from klikkflow_pipelines.gateway.graphql_responses import (
    strip_stacks_from_body,
    strip_stacks_from_websocket,
    tap_json_response,
)
from klikkflow_pipelines.gateway.launch_audit import LAUNCH_FIELDS, launch_outcomes, launch_requests
from klikkflow_pipelines.gateway.metrics import route_class
from klikkflow_pipelines.gateway.principal import Principal, bearer_token, header
from klikkflow_pipelines.gateway.ratelimit import retry_after_header
from klikkflow_pipelines.gateway.roles import role_at_least
from klikkflow_pipelines.gateway.tenant_bar import bar_html, injecting_send

if TYPE_CHECKING:
    from klikkflow_pipelines.gateway.app import Gateway

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_GRAPHQL_BODY = 4 * 1024 * 1024  # document plus variables, for HTTP bodies and websocket frames
MFA_REQUIRED = "two-factor sign-in is required: enroll at /account/mfa"
TOO_COSTLY = "GRAPHQL_DOCUMENT_TOO_COSTLY"
PRINCIPAL_STATE_KEY = "klikkflow_principal"  # for the error pages' header
WS_MESSAGE_TOO_BIG = 1009


class TenantGate:
    """Guards ``/t/<tenant>/...`` and forwards allowed requests to that tenant's Dagster app."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.detokenizer = Detokenizer(gateway.audit_logs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, tenant_id: str) -> None:
        started = time.perf_counter()
        status_box = {"status": 0}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        route = "websocket" if scope["type"] == "websocket" else route_class(scope["path"])
        try:
            await self._handle(scope, receive, counting_send, tenant_id)
        finally:
            known = tenant_id if tenant_id in self.gw.tenant_apps else "unknown"
            status = status_box["status"] or (101 if scope["type"] == "websocket" else 0)
            self.gw.metrics.observe_request(known, route, str(status), time.perf_counter() - started)

    async def _deny(
        self,
        scope: Scope,
        send: Send,
        tenant_id: str,
        status: int,
        reason: str,
        message: str,
        code: str | None = None,
    ) -> None:
        known = tenant_id if tenant_id in self.gw.tenant_apps else "unknown"
        self.gw.metrics.denials.labels(known, reason).inc()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status % 1000 if status != 401 else 4401})
            return
        principal = scope.get("state", {}).get(PRINCIPAL_STATE_KEY)
        await send_error(scope, send, status, message, code=code, principal=principal)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, tenant_id: str) -> None:
        gw = self.gw
        principal = await gw.offload(gw.authenticate, scope)
        if principal is None:
            accept = header(scope, b"accept") or ""
            navigation = "text/html" in accept and bearer_token(scope) is None  # not an API client
            if scope["type"] == "http" and scope["method"] == "GET" and navigation:
                target = quote(scope["path"], safe="/")
                await send_simple(
                    send, 302, b"", b"text/plain", [(b"location", f"/login?next={target}".encode())]
                )
                return
            await self._deny(scope, send, tenant_id, 401, "unauthenticated", "sign in first")
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE_KEY] = principal
        if gw.settings.require_mfa and await gw.offload(gw.mfa_enrollment_due, principal):
            if scope["type"] == "http" and scope["method"] == "GET":
                await send_simple(send, 302, b"", b"text/plain", [(b"location", b"/account/mfa")])
                return
            await self._deny(scope, send, tenant_id, 403, "mfa_required", MFA_REQUIRED)
            return
        role = principal.role_for(tenant_id)
        app = gw.tenant_apps.get(tenant_id)
        # the detokenize API decides (and audits) every caller itself, members or not
        detokenize = scope["type"] == "http" and is_detokenize_route(scope["path"][len(f"/t/{tenant_id}") :])
        if app is None or (role is None and not detokenize):
            if app is not None:
                await gw.audit_async(
                    tenant_id,
                    principal.username,
                    "tenant.access",
                    scope["path"],
                    "denied",
                    source_address(scope),
                )
            await self._deny(scope, send, tenant_id, 403, "tenant", "you have no access to this tenant")
            return
        wait = self._throttle(principal, tenant_id)
        if wait > 0:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4429})
                return
            retry = [(b"retry-after", retry_after_header(wait).encode())]
            await send_error(scope, send, 429, "rate limit exceeded", retry, principal=principal)
            return
        if detokenize:
            await handle_detokenize(gw, self.detokenizer, scope, receive, send, tenant_id, principal)
            return
        scope.setdefault("state", {})
        scope["state"][ROLE_STATE_KEY] = role
        scope["state"]["klikkflow_user"] = principal.username
        if scope["type"] == "websocket":
            if not principal.via_token and not gw.same_origin(scope):
                await self._deny(scope, send, tenant_id, 403, "csrf", "cross-origin websocket refused")
                return
            if not role_at_least(role, "admin"):
                send = strip_stacks_from_websocket(send, gw.offload)
            await app(scope, self._guard_websocket(scope, receive, send, tenant_id, principal, role), send)
            return
        await self._http(scope, receive, send, tenant_id, principal, role, app)

    async def _http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        tenant_id: str,
        principal: Principal,
        role: str,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
    ) -> None:
        gw = self.gw
        method = scope["method"]
        csrf_ok = principal.via_token or gw.csrf_ok(scope, principal)
        if scope["path"].rstrip("/").endswith("/graphql"):
            await self._graphql(scope, receive, send, tenant_id, principal, role, app, csrf_ok)
            return
        rest = scope["path"][len(f"/t/{tenant_id}") :]
        if is_file_route(rest):
            workspace = gw.workspaces.get(tenant_id)
            instance = getattr(workspace, "instance", None)
            verdict = await gw.offload(file_route_verdict, rest, role, instance)
            if not verdict.allowed:
                await gw.audit_async(
                    tenant_id, principal.username, "file.download", rest, "denied", source_address(scope)
                )
                await self._deny(scope, send, tenant_id, verdict.status, "file", verdict.message)
                return
        if method not in SAFE_METHODS:
            if not csrf_ok:
                await self._deny(scope, send, tenant_id, 403, "csrf", "CSRF check failed")
                return
            if not role_at_least(role, "editor"):
                await gw.audit_async(
                    tenant_id,
                    principal.username,
                    "http." + method,
                    scope["path"],
                    "denied",
                    source_address(scope),
                )
                await self._deny(scope, send, tenant_id, 403, "rbac", "forbidden: requires the editor role")
                return
            await gw.audit_async(
                tenant_id,
                principal.username,
                "http." + method,
                scope["path"],
                "allowed",
                source_address(scope),
            )
        elif method == "GET" and wants_html(scope) and principal.session:  # a UI page: add the tenant bar
            names = {tid: gw.tenants[tid].name for tid in gw.tenant_apps if tid in gw.tenants}
            send = injecting_send(send, bar_html(principal, tenant_id, names))
        await app(scope, receive, send)

    async def _graphql(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        tenant_id: str,
        principal: Principal,
        role: str,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        csrf_ok: bool,
    ) -> None:
        """Limits, CSRF and RBAC for one GraphQL request; stack traces kept from non-admins;
        launches audited with what Dagster created."""
        gw = self.gw
        method = scope["method"]
        body = b""
        if method == "POST":
            body = await read_body(receive, MAX_GRAPHQL_BODY)
            if body is None:
                await self._deny(
                    scope, send, tenant_id, 413, "too_costly", "GraphQL request too large", TOO_COSTLY
                )
                return
            receive = replay_receive(body, receive)
        content_type = header(scope, b"content-type") or ""
        params, problem, decision = await gw.offload(
            inspect_request,
            method,
            content_type,
            scope["query_string"],
            body,
            role,
            gw.settings.graphql_limits,
        )
        if problem:
            await self._deny(scope, send, tenant_id, 400, "malformed", problem)
            return
        query = params.get("query")
        if query is None and method == "GET":
            await app(scope, receive, send)  # GraphiQL page or Dagster's own "no query" answer
            return
        if decision.too_costly:
            await self._audit_graphql(scope, tenant_id, principal, decision, "denied", decision.reason, query)
            await self._deny(scope, send, tenant_id, 400, "too_costly", decision.reason, TOO_COSTLY)
            return
        if decision.mutations and not csrf_ok:
            await self._audit_graphql(scope, tenant_id, principal, decision, "denied", "csrf", query)
            await self._deny(scope, send, tenant_id, 403, "csrf", "CSRF check failed")
            return
        if not decision.allowed:
            await self._audit_graphql(scope, tenant_id, principal, decision, "denied", decision.reason, query)
            await self._deny(scope, send, tenant_id, 403, "rbac", f"forbidden: {decision.reason}")
            return
        if decision.mutations:
            await self._audit_graphql(scope, tenant_id, principal, decision, "allowed", "", query)
        launches = []
        if LAUNCH_FIELDS.intersection(decision.mutations):
            launches = launch_requests(
                decision.document, params.get("variables"), params.get("operationName")
            )
        strip = not role_at_least(role, "admin")
        if not strip and not launches:
            await app(scope, receive, send)
            return
        answers: list[Any] = []

        def rewrite(answer: bytes) -> bytes:
            if launches:
                with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                    answers.append(json.loads(answer))
            return strip_stacks_from_body(answer) if strip else answer

        async def audit_launches() -> None:
            for launch in launch_outcomes(launches, answers[0] if answers else None):
                succeeded = bool(launch["run_ids"] or launch.get("backfill_id"))
                await gw.audit_async(
                    tenant_id,
                    principal.username,
                    "run.launch",
                    launch.get("job") or launch["mutation"],
                    "success" if succeeded else "failure",
                    source_address(scope),
                    {**launch, **({"token_id": principal.token_id} if principal.via_token else {})},
                )

        await app(
            scope, receive, tap_json_response(send, rewrite, gw.offload, audit_launches if launches else None)
        )

    def _throttle(self, principal: Principal, tenant_id: str) -> float:
        """Take a token from the user's and the tenant's buckets: 0 when allowed, else seconds to wait."""
        gw = self.gw
        wait = max(gw.user_buckets.take(principal.username), gw.tenant_buckets.take(tenant_id))
        if wait > 0:
            gw.metrics.denials.labels(tenant_id, "rate_limit").inc()
        return wait

    async def _audit_graphql(
        self,
        scope: Scope,
        tenant_id: str,
        principal: Principal,
        decision: Decision,
        outcome: str,
        reason: str,
        query: Any,
    ) -> None:
        details: dict[str, Any] = {
            "mutations": list(decision.mutations[:20]),
            "required_role": decision.required_role,
            **document_digest(query),
        }
        if reason:
            details["reason"] = reason
        if principal.via_token:
            details["token_id"] = principal.token_id
        action = "graphql.refused" if decision.too_costly else "graphql.mutation"
        await self.gw.audit_async(
            tenant_id,
            principal.username,
            action,
            ",".join(decision.mutations[:20]) or "(none)",
            outcome,
            source_address(scope),
            details,
        )

    def _guard_websocket(
        self, scope: Scope, receive: Receive, send: Send, tenant_id: str, principal: Principal, role: str
    ) -> Receive:
        """Wrap ``receive`` so every GraphQL operation started over the socket is bounded and authorized."""
        limits = self.gw.settings.graphql_limits

        async def _receive() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                if len(text) > MAX_GRAPHQL_BODY:
                    self.gw.metrics.denials.labels(tenant_id, "too_costly").inc()
                    await send({"type": "websocket.close", "code": WS_MESSAGE_TOO_BIG})
                    return {"type": "websocket.disconnect", "code": WS_MESSAGE_TOO_BIG}
                data, decision = await self.gw.offload(inspect_frame, text, role, limits)
                if not isinstance(data, dict) or data.get("type") not in (
                    "connection_init",
                    "start",
                    "stop",
                    "connection_terminate",
                ):
                    await send({"type": "websocket.close", "code": 4400})
                    return {"type": "websocket.disconnect", "code": 4400}
                if data.get("type") != "start":
                    return message
                # Each operation started over the socket counts against the rate limits like a request.
                wait = self._throttle(principal, tenant_id)
                if wait > 0:
                    reason = f"rate limit exceeded; retry after {retry_after_header(wait)} s"
                    await send({"type": "websocket.send", "text": _operation_error(data, reason)})
                    continue
                query = data["payload"].get("query")
                if decision.allowed:
                    if decision.mutations:
                        await self._audit_graphql(scope, tenant_id, principal, decision, "allowed", "", query)
                    return message
                kind = "too_costly" if decision.too_costly else "rbac"
                self.gw.metrics.denials.labels(tenant_id, kind).inc()
                await self._audit_graphql(
                    scope, tenant_id, principal, decision, "denied", decision.reason, query
                )
                prefix = "" if decision.too_costly else "forbidden: "
                await send(
                    {"type": "websocket.send", "text": _operation_error(data, prefix + decision.reason)}
                )

        return _receive


def _operation_error(message: dict[str, Any], reason: str) -> str:
    """A graphql-ws ``error`` frame answering the operation started by ``message``."""
    return json.dumps({"type": "error", "id": message.get("id"), "payload": [{"message": reason}]})


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
