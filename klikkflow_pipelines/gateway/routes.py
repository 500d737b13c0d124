"""The gateway's own pages: landing, sign-in (password, OIDC), sign-out, API tokens, health and metrics.
The two-factor pages (code step, enrolment) are in :mod:`mfa_routes`."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import TYPE_CHECKING

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from klikkflow_pipelines.gateway.audit_routes import build_audit_routes
from klikkflow_pipelines.gateway.error_pages import CSRF_FAILED, error_response
from klikkflow_pipelines.gateway.forms import read_form
from klikkflow_pipelines.gateway.forms import safe_next as _safe_next
from klikkflow_pipelines.gateway.forwarded import source_network
from klikkflow_pipelines.gateway.gate import MFA_REQUIRED
from klikkflow_pipelines.gateway.mfa_routes import SignInKit, build_mfa_routes
from klikkflow_pipelines.gateway.oidc import OidcError
from klikkflow_pipelines.gateway.pages import render, signed_in_context
from klikkflow_pipelines.gateway.principal import TOKEN_PREFIX, Principal
from klikkflow_pipelines.gateway.ratelimit import retry_after_header
from klikkflow_pipelines.gateway.roles import ROLES, role_at_least
from klikkflow_pipelines.gateway.sessions import CSRF_FIELD, PREAUTH_COOKIE, SESSION_COOKIE
from klikkflow_pipelines.gateway.signin_store import OIDC_TRANSACTION_SECONDS
from klikkflow_pipelines.gateway.store import sha256_hex

if TYPE_CHECKING:
    from klikkflow_pipelines.gateway.app import Gateway

log = logging.getLogger("klikkflow.gateway")
MAX_TOKEN_ID = 2**63 - 1
THROTTLED = "Too many failed attempts from your address: wait a few minutes, then try again."
ADD_USER_COMMAND = "klikkflow gateway add-user admin --owner"


def build_routes(gw: Gateway) -> list[Route]:
    """All routes of the gateway's own pages, bound to ``gw``."""
    settings = gw.settings

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else ""

    def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )

    def preauth(request: Request) -> tuple[str, bool]:
        raw = gw.sessions.unsign(request.cookies.get(PREAUTH_COOKIE))
        return (raw, False) if raw else (secrets.token_urlsafe(32), True)

    async def principal_of(request: Request) -> Principal | None:
        return await gw.offload(gw.authenticate, request.scope)

    async def audit(
        request: Request, actor: str, action: str, outcome: str, target: str = "", **details: object
    ) -> None:
        await gw.audit_async("platform", actor, action, target, outcome, client_ip(request), details)

    async def start_session(
        request: Request,
        response: Response,
        username: str,
        method: str,
        identities: list[str],
        groups: list[str],
        is_owner: bool,
        mfa_pending: bool = False,
    ) -> None:
        """Issue a brand-new session id (never reuse one presented before sign-in)."""
        old = gw.sessions.unsign(request.cookies.get(SESSION_COOKIE))
        if old:
            await gw.offload(gw.sessions.revoke, sha256_hex(old))
        roles = gw.roles_for(identities, groups, is_owner)
        value, _ = await gw.offload(
            gw.sessions.create, username, method, identities, groups, roles, is_owner, mfa_pending
        )
        set_cookie(response, SESSION_COOKIE, value, 300 if mfa_pending else settings.session_ttl_seconds)
        if not mfa_pending:
            response.delete_cookie(PREAUTH_COOKIE, path="/")

    async def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        raw, fresh = preauth(request)
        next_url = _safe_next(request.query_params.get("next"))
        sso = [settings.oidc.display_name or "single sign-on"] if settings.oidc else []
        html = render(
            "login.html",
            title="Sign in",
            csrf=gw.sessions.preauth_csrf(raw),
            next=next_url,
            sso=sso,
            first_run=not sso and not await gw.offload(gw.store.has_users),
            add_user_command=ADD_USER_COMMAND,
            error=error,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            set_cookie(response, PREAUTH_COOKIE, gw.sessions.sign(raw), 3600)
        return response

    def forbidden(request: Request, message: str, principal: Principal | None = None) -> Response:
        return error_response(request, 403, message, principal=principal)

    async def form_with_csrf(request: Request, principal: Principal | None) -> dict | None:
        form = await read_form(request)
        token = form.get(CSRF_FIELD)
        if principal is not None:
            ok = gw.csrf_ok(request.scope, principal, form_token=str(token or ""))
        else:
            raw = gw.sessions.unsign(request.cookies.get(PREAUTH_COOKIE))
            ok = bool(raw) and gw.sessions.tokens_match(gw.sessions.preauth_csrf(raw), str(token or ""))
        return form if ok else None

    # pages -------------------------------------------------------------------
    async def home(request: Request) -> Response:
        principal = await principal_of(request)
        if principal is None or principal.via_token:
            return RedirectResponse("/login", status_code=302)
        if await gw.offload(gw.mfa_enrollment_due, principal):
            return RedirectResponse("/account/mfa", status_code=302)
        tenants = [
            {"id": tid, "name": gw.tenants[tid].name, "role": role, "audit": role_at_least(role, "admin")}
            for tid, role in sorted(principal.roles.items())
            if tid in gw.tenant_apps
        ]
        html = render("home.html", title="Your tenants", tenants=tenants, **signed_in_context(principal))
        return HTMLResponse(html)

    async def login_get(request: Request) -> Response:
        return await login_page(request)

    def signin_throttled(request: Request) -> Response | None:
        wait = gw.signin_buckets.take(source_network(client_ip(request)))
        if wait <= 0:
            return None
        gw.metrics.signin_failures.labels("any", "rate_limit").inc()
        return error_response(
            request, 429, "too many sign-in attempts", headers={"retry-after": retry_after_header(wait)}
        )

    async def throttled_answer(request: Request, wait: float) -> Response:
        response = await login_page(request, THROTTLED, 429)
        response.headers["retry-after"] = retry_after_header(wait)
        return response

    async def login_post(request: Request) -> Response:
        throttled = signin_throttled(request)
        if throttled:
            return throttled
        form = await form_with_csrf(request, None)
        if form is None:
            gw.metrics.signin_failures.labels("local", "csrf").inc()
            return forbidden(request, CSRF_FAILED)
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        next_url = _safe_next(str(form.get("next", "/")))
        result = await gw.offload(gw.accounts.check_password, username, password, client_ip(request))
        if result.status != "ok":
            gw.metrics.signin_failures.labels("local", result.status).inc()
            action = "signin.throttled" if result.status == "throttled" else "signin.password"
            await audit(request, username or "(empty)", action, "failure")
            if result.status == "throttled":
                return await throttled_answer(request, result.retry_after)
            return await login_page(request, "Wrong user name or password.", 401)
        user = await gw.offload(gw.store.get_user, username)
        if settings.require_mfa and not result.mfa_required:
            next_url = "/account/mfa"  # MFA is mandatory here: enrolling comes first
        response = RedirectResponse("/login/mfa" if result.mfa_required else next_url, status_code=303)
        await start_session(
            request,
            response,
            username,
            "local",
            [username],
            [],
            bool(user["is_owner"]),
            mfa_pending=result.mfa_required,
        )
        if result.mfa_required:
            await audit(request, username, "signin.password", "success", mfa="pending")
            response.set_cookie(
                "kf_next",
                next_url,
                max_age=300,
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
            )
        else:
            await audit(request, username, "signin", "success", method="local")
        return response

    async def logout(request: Request) -> Response:
        principal = await principal_of(request)
        if principal is None or principal.session is None:
            return RedirectResponse("/login", status_code=303)
        if await form_with_csrf(request, principal) is None:
            return forbidden(request, CSRF_FAILED, principal)
        await gw.offload(gw.sessions.revoke, principal.session.id_hash)
        await audit(request, principal.username, "signout", "success")
        target = "/login"
        if principal.session.method == "oidc" and gw.oidc is not None:
            # End the provider's session too, so the next SSO sign-in asks again. Unreachable
            # provider: signed out here all the same; its own session just lives on.
            with contextlib.suppress(OidcError, httpx.HTTPError):
                target = await gw.oidc.end_session_url(settings.public_url + "/login") or target
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # OIDC --------------------------------------------------------------------
    async def oidc_start(request: Request) -> Response:
        if gw.oidc is None:
            return error_response(request, 404, "single sign-on is not configured")
        throttled = signin_throttled(request)
        if throttled:
            return throttled
        source = source_network(client_ip(request))  # an IPv6 client's whole /64 is one source
        pending, oldest = await gw.offload(gw.store.signin.pending, source)
        if pending >= settings.oidc_pending_per_address:  # bounds the rows one address can leave
            gw.metrics.signin_failures.labels("oidc", "pending_limit").inc()
            wait = (oldest or time.time()) + OIDC_TRANSACTION_SECONDS - time.time()
            return error_response(
                request,
                429,
                "too many unfinished sign-ins from your address; try again later",
                headers={"retry-after": retry_after_header(wait)},
            )
        raw, fresh = preauth(request)
        try:
            auth = await gw.oidc.authorization_request()
        except (httpx.HTTPError, OidcError, ValueError) as exc:
            log.error("identity provider unreachable: %s", exc)
            return error_response(request, 502, "the identity provider is unreachable; try again later")
        await gw.offload(
            gw.store.signin.insert_transaction,
            auth.state,
            auth.nonce,
            auth.code_verifier,
            sha256_hex(raw),
            _safe_next(request.query_params.get("next")),
            source,
        )
        response = RedirectResponse(auth.url, status_code=302)
        if fresh:
            set_cookie(response, PREAUTH_COOKIE, gw.sessions.sign(raw), 3600)
        return response

    async def oidc_callback(request: Request) -> Response:
        if gw.oidc is None:
            return error_response(request, 404, "single sign-on is not configured")
        throttled = signin_throttled(request)
        if throttled:
            return throttled

        async def fail(reason: str, status: int = 400) -> Response:
            gw.metrics.signin_failures.labels("oidc", reason.split(":")[0][:40]).inc()
            await audit(request, "(oidc)", "signin.oidc", "failure", reason=reason)
            return error_response(request, status, f"sign-in failed: {reason}")

        params = request.query_params
        if params.get("error"):
            return await fail(f"provider error: {params.get('error')}")
        transaction = await gw.offload(gw.store.signin.take_transaction, params.get("state", ""))
        if transaction is None:
            return await fail("unknown, expired or replayed state")
        raw = gw.sessions.unsign(request.cookies.get(PREAUTH_COOKIE))
        if not raw or not gw.sessions.tokens_match(transaction["browser_binding"], sha256_hex(raw)):
            return await fail("state belongs to another browser")
        try:
            id_token = await gw.oidc.exchange_code(params.get("code", ""), transaction["code_verifier"])
            identity = await gw.oidc.validate_id_token(id_token, transaction["nonce"])
        except OidcError as exc:
            return await fail(str(exc))
        await gw.offload(
            gw.store.signin.record_groups, f"oidc:{identity.subject}", identity.groups
        )  # for tokens
        owner = bool(set(identity.groups) & set(settings.oidc.owner_groups))
        # never the bare subject: it could equal a local account name listed under a tenant's members
        identities = [i for i in (identity.email, f"oidc:{identity.subject}") if i]
        response = RedirectResponse(transaction["next_url"], status_code=303)
        await start_session(request, response, identity.username, "oidc", identities, identity.groups, owner)
        await audit(request, identity.username, "signin", "success", method="oidc", groups=identity.groups)
        return response

    # account: API tokens (two-factor enrolment: mfa_routes) ------------------
    async def tokens(request: Request) -> Response:
        principal = await principal_of(request)
        if principal is None or principal.session is None:
            return RedirectResponse("/login", status_code=303)
        if await gw.offload(
            gw.mfa_enrollment_due, principal
        ):  # a token would outlive the missing second factor
            if request.method == "POST":
                await audit(request, principal.username, "token.create", "denied", target="mfa_required")
            return forbidden(request, MFA_REQUIRED, principal)
        new_token = None
        if request.method == "POST":
            form = await form_with_csrf(request, principal)
            if form is None:
                return forbidden(request, CSRF_FAILED, principal)
            tenant, role = str(form.get("tenant", "")), str(form.get("role", ""))
            name = str(form.get("name", "")).strip()[:128] or "token"
            try:
                days = min(365, max(1, int(str(form.get("days", "90")))))
            except ValueError:
                days = 90
            if role not in ROLES or not role_at_least(principal.roles.get(tenant), role):
                await audit(request, principal.username, "token.create", "denied", target=f"{tenant}:{role}")
                return forbidden(request, "you cannot grant a role above your own in that tenant", principal)
            new_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            token_id = await gw.offload(
                gw.store.tokens.insert,
                sha256_hex(new_token),
                name,
                principal.session,
                tenant,
                role,
                days * 86400.0,
            )
            await audit(
                request,
                principal.username,
                "token.create",
                "success",
                target=f"{tenant}:{role}",
                token_id=token_id,
                name=name,
            )
        held = await gw.offload(gw.store.tokens.of_user, principal.username)
        html = render(
            "tokens.html",
            title="API tokens",
            tokens=held,
            roles=principal.roles,
            new_token=new_token,
            **signed_in_context(principal),
        )
        return HTMLResponse(html, status_code=201 if new_token else 200)

    async def token_revoke(request: Request) -> Response:
        principal = await principal_of(request)
        if principal is None or principal.session is None:
            return RedirectResponse("/login", status_code=303)
        if await form_with_csrf(request, principal) is None:
            return forbidden(request, CSRF_FAILED, principal)
        token_id = int(request.path_params["token_id"])
        token = (
            await gw.offload(gw.store.tokens.revoke, token_id, principal.username)
            if token_id <= MAX_TOKEN_ID
            else None  # no database integer holds it: there is no such token
        )
        if token is None:
            return error_response(request, 404, "no such token", principal=principal)
        await audit(
            request,
            principal.username,
            "token.revoke",
            "success",
            target=f"{token.tenant}:{token.role}",
            token_id=token.id,
        )
        return RedirectResponse("/account/tokens", status_code=303)

    # operations ----------------------------------------------------------------
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "tenants": len(gw.tenant_apps), "time": time.time()})

    async def metrics(request: Request) -> Response:
        token = settings.metrics_token
        auth = request.headers.get("authorization", "")
        principal = await principal_of(request)
        allowed = (principal is not None and principal.is_owner) or (
            bool(token) and gw.sessions.tokens_match(f"Bearer {token}", auth)
        )
        if not allowed:
            detail = "sign in as platform owner or send the metrics token"
            return error_response(request, 401, detail, principal=principal)
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/", home),
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/login/oidc", oidc_start, methods=["GET"]),
        Route("/auth/callback", oidc_callback, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        *build_mfa_routes(
            gw, SignInKit(client_ip, audit, form_with_csrf, start_session, signin_throttled, throttled_answer)
        ),
        Route("/account/tokens", tokens, methods=["GET", "POST"]),
        Route("/account/tokens/{token_id:int}/revoke", token_revoke, methods=["POST"]),
        *build_audit_routes(gw),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
    ]
