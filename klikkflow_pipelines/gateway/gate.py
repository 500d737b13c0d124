"""The tenant gate: authentication, tenant isolation, rate limits, CSRF and GraphQL RBAC
in front of each tenant's Dagster app, for HTTP and websocket requests."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from starlette.types import Message, Receive, Scope, Send

from klikkflow_pipelines.gateway.dagster_mount import ROLE_STATE_KEY
from klikkflow_pipelines.gateway.graphql_authz import Decision, authorize_document
from klikkflow_pipelines.gateway.metrics import route_class
from klikkflow_pipelines.gateway.principal import Principal, header
from klikkflow_pipelines.gateway.ratelimit import retry_after_header
from klikkflow_pipelines.gateway.roles import role_at_least

if TYPE_CHECKING:
    from klikkflow_pipelines.gateway.app import Gateway

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_GRAPHQL_BODY = 4 * 1024 * 1024
MFA_REQUIRED = "two-factor sign-in is required: enroll at /account/mfa"


async def send_simple(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete HTTP response."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += [(b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a GraphQL-shaped JSON error (no data)."""
    body = json.dumps({"errors": [{"message": message}]}).encode()
    await send_simple(send, status, body, b"application/json", extra)


def source_address(scope: Scope) -> str:
    """The client address of a request."""
    client = scope.get("client")
    return client[0] if client else ""


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body (None when larger than ``limit``)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_receive(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields the buffered body once, then defers to the real one."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


def graphql_query_of(
    method: str, content_type: str, query_string: bytes, body: bytes
) -> tuple[Any, str | None]:
    """The query text Dagster's GraphQL endpoint would execute (mirrors its parsing), or an error."""
    params = parse_qs(query_string.decode("latin-1"))
    from_params = params.get("query", [None])[-1]
    if method == "POST" and "application/json" in content_type:
        try:
            data = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None, "request body is not valid JSON"
        if not isinstance(data, dict):
            return None, "batched or non-object GraphQL requests are not accepted"
        return data.get("query"), None
    if method == "POST" and "application/graphql" in content_type:
        return body.decode("utf-8", errors="replace"), None
    return from_params, None


class TenantGate:
    """Guards ``/t/<tenant>/...`` and forwards allowed requests to that tenant's Dagster app."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

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
        self, scope: Scope, send: Send, tenant_id: str, status: int, reason: str, message: str
    ) -> None:
        known = tenant_id if tenant_id in self.gw.tenant_apps else "unknown"
        self.gw.metrics.denials.labels(known, reason).inc()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status % 1000 if status != 401 else 4401})
            return
        await send_json(send, status, message)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, tenant_id: str) -> None:
        gw = self.gw
        principal = gw.authenticate(scope)
        if principal is None:
            accept = header(scope, b"accept") or ""
            if scope["type"] == "http" and scope["method"] == "GET" and "text/html" in accept:
                target = quote(scope["path"], safe="/")
                await send_simple(
                    send, 302, b"", b"text/plain", [(b"location", f"/login?next={target}".encode())]
                )
                return
            await self._deny(scope, send, tenant_id, 401, "unauthenticated", "sign in first")
            return
        if gw.mfa_enrollment_due(principal):
            if scope["type"] == "http" and scope["method"] == "GET":
                await send_simple(send, 302, b"", b"text/plain", [(b"location", b"/account/mfa")])
                return
            await self._deny(
                scope,
                send,
                tenant_id,
                403,
                "mfa_required",
                "two-factor sign-in is required: enroll at /account/mfa",
            )
            return
        role = principal.role_for(tenant_id)
        app = gw.tenant_apps.get(tenant_id)
        if app is None or role is None:
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
            await send_json(
                send, 429, "rate limit exceeded", [(b"retry-after", retry_after_header(wait).encode())]
            )
            return
        scope.setdefault("state", {})
        scope["state"][ROLE_STATE_KEY] = role
        scope["state"]["klikkflow_user"] = principal.username
        if scope["type"] == "websocket":
            if not principal.via_token and not gw.same_origin(scope):
                await self._deny(scope, send, tenant_id, 403, "csrf", "cross-origin websocket refused")
                return
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
            body = b""
            if method == "POST":
                body = await read_body(receive, MAX_GRAPHQL_BODY)
                if body is None:
                    await send_json(send, 413, "GraphQL request too large")
                    return
                receive = replay_receive(body, receive)
            query, problem = graphql_query_of(
                method, header(scope, b"content-type") or "", scope["query_string"], body
            )
            if problem:
                await self._deny(scope, send, tenant_id, 400, "malformed", problem)
                return
            if query is None and method == "GET":
                await app(scope, receive, send)  # GraphiQL page or Dagster's own "no query" answer
                return
            decision = authorize_document(query, role)
            if decision.mutations and not csrf_ok:
                await self._audit_graphql(scope, tenant_id, principal, decision, "denied", "csrf")
                await self._deny(scope, send, tenant_id, 403, "csrf", "CSRF check failed")
                return
            if not decision.allowed:
                await self._audit_graphql(scope, tenant_id, principal, decision, "denied", decision.reason)
                await self._deny(scope, send, tenant_id, 403, "rbac", f"forbidden: {decision.reason}")
                return
            if decision.mutations:
                await self._audit_graphql(scope, tenant_id, principal, decision, "allowed", "")
            await app(scope, receive, send)
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
        await app(scope, receive, send)

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
    ) -> None:
        details = {"mutations": list(decision.mutations), "required_role": decision.required_role}
        if reason:
            details["reason"] = reason
        if principal.via_token:
            details["token_id"] = principal.token_id
        await self.gw.audit_async(
            tenant_id,
            principal.username,
            "graphql.mutation",
            ",".join(decision.mutations) or "(none)",
            outcome,
            source_address(scope),
            details,
        )

    def _guard_websocket(
        self, scope: Scope, receive: Receive, send: Send, tenant_id: str, principal: Principal, role: str
    ) -> Receive:
        """Wrap ``receive`` so every GraphQL operation started over the socket is authorized first."""

        async def _receive() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                try:
                    data = json.loads(text)
                except json.JSONDecodeError:
                    data = None
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
                payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
                decision = authorize_document(payload.get("query"), role)
                if decision.allowed:
                    if decision.mutations:
                        await self._audit_graphql(scope, tenant_id, principal, decision, "allowed", "")
                    return message
                self.gw.metrics.denials.labels(tenant_id, "rbac").inc()
                await self._audit_graphql(scope, tenant_id, principal, decision, "denied", decision.reason)
                error = _operation_error(data, f"forbidden: {decision.reason}")
                await send({"type": "websocket.send", "text": error})

        return _receive


def _operation_error(message: dict[str, Any], reason: str) -> str:
    """A graphql-ws ``error`` frame answering the operation started by ``message``."""
    return json.dumps({"type": "error", "id": message.get("id"), "payload": [{"message": reason}]})


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
