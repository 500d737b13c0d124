"""The two-factor pages: the code step of a local sign-in (``/login/mfa``) and TOTP enrolment
(``/account/mfa``).

Enrolment never changes anything on a GET: the page offers a new secret sealed
into its form (:meth:`Accounts.offer_enrollment`), and only a POST with the
session's CSRF token and a code from that secret activates it, after a current
code (or a recovery code) when two-factor sign-in is already on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from klikkflow_pipelines.gateway.accounts import EnrollmentError
from klikkflow_pipelines.gateway.error_pages import CSRF_FAILED, error_response
from klikkflow_pipelines.gateway.forms import read_form, safe_next
from klikkflow_pipelines.gateway.pages import render, signed_in_context
from klikkflow_pipelines.gateway.principal import Principal
from klikkflow_pipelines.gateway.sessions import CSRF_FIELD, SESSION_COOKIE
from klikkflow_pipelines.gateway.store import SessionRecord

if TYPE_CHECKING:
    from klikkflow_pipelines.gateway.app import Gateway

TITLE = "Two-factor sign-in"


@dataclass(frozen=True)
class SignInKit:
    """What the two-factor pages share with the password sign-in in :mod:`routes`."""

    client_ip: Callable[[Request], str]
    audit: Callable[..., Awaitable[None]]
    form_with_csrf: Callable[[Request, Principal | None], Awaitable[dict | None]]
    start_session: Callable[..., Awaitable[None]]
    rate_limited: Callable[[Request], Response | None]
    throttled: Callable[[Request, float], Awaitable[Response]]


def build_mfa_routes(gw: Gateway, kit: SignInKit) -> list[Route]:
    """The routes of the two-factor pages, bound to ``gw``."""

    def load_pending(cookie: str | None) -> SessionRecord | None:
        return gw.sessions.load(cookie, allow_mfa_pending=True)

    async def code_page(request: Request) -> Response:
        record = await gw.offload(load_pending, request.cookies.get(SESSION_COOKIE))
        if record is None or not record.mfa_pending:
            return RedirectResponse("/login", status_code=302)
        return HTMLResponse(render("mfa.html", title=TITLE, csrf=record.csrf_token))

    async def code_post(request: Request) -> Response:
        limited = kit.rate_limited(request)
        if limited:
            return limited
        record = await gw.offload(load_pending, request.cookies.get(SESSION_COOKIE))
        if record is None or not record.mfa_pending:
            return RedirectResponse("/login", status_code=303)
        form = await read_form(request)
        if not gw.sessions.tokens_match(record.csrf_token, str(form.get(CSRF_FIELD, ""))):
            return error_response(request, 403, CSRF_FAILED)
        code, username, source = str(form.get("code", "")), record.username, kit.client_ip(request)
        wait = await gw.offload(gw.accounts.begin_attempt, username, source)
        if wait > 0:
            await gw.offload(gw.sessions.revoke, record.id_hash)
            await kit.audit(request, username, "signin.throttled", "failure", step="mfa")
            return await kit.throttled(request, wait)
        ok = await gw.offload(gw.accounts.verify_totp, username, code)
        how = "totp"
        if not ok and "-" in code:
            ok, how = await gw.offload(gw.accounts.use_recovery_code, username, code), "recovery_code"
        if not ok:
            gw.metrics.signin_failures.labels("mfa", "bad_code").inc()  # the try was counted at its start
            await kit.audit(request, username, "signin.mfa", "failure")
            return HTMLResponse(
                render("mfa.html", title=TITLE, csrf=record.csrf_token, error="Wrong code."), status_code=401
            )
        await gw.offload(gw.sessions.revoke, record.id_hash)
        response = RedirectResponse(safe_next(request.cookies.get("kf_next")), status_code=303)
        await kit.start_session(request, response, username, "local", record.identities, [], record.is_owner)
        response.delete_cookie("kf_next", path="/")
        await gw.offload(gw.accounts.record_success, username, source)
        await kit.audit(request, username, "signin", "success", method="local", mfa=how)
        return response

    async def enrol_page(
        principal: Principal, sealed: str | None = None, error: str | None = None
    ) -> Response:
        session = principal.session
        assert session is not None
        offer = gw.accounts.offer_enrollment(principal.username, session.id_hash, sealed)
        enabled = await gw.offload(gw.accounts.totp_enabled, principal.username)
        html = render(
            "mfa_enroll.html",
            title=TITLE,
            enabled=enabled,
            uri=offer.uri,
            qr=qr_svg(offer.uri),
            key=authenticator_key(offer.uri),
            pending=offer.sealed,
            error=error,
            **signed_in_context(principal),
        )
        return HTMLResponse(html, status_code=400 if error else 200)

    async def enrol(request: Request) -> Response:
        principal = await gw.offload(gw.authenticate, request.scope)
        session = principal.session if principal is not None else None
        if principal is None or session is None:
            return RedirectResponse("/login", status_code=303)
        if session.method != "local":
            return error_response(
                request, 400, "two-factor sign-in is managed by your identity provider", principal=principal
            )
        if request.method == "GET":
            return await enrol_page(principal)
        form = await kit.form_with_csrf(request, principal)
        if form is None:
            return error_response(request, 403, CSRF_FAILED, principal=principal)
        username, sealed = principal.username, str(form.get("pending", ""))
        try:
            codes = await gw.offload(
                gw.accounts.complete_enrollment,
                username,
                session.id_hash,
                sealed,
                str(form.get("code", "")),
                str(form.get("current_code", "")),
                kit.client_ip(request),
            )
        except EnrollmentError as error:
            await kit.audit(request, username, "mfa.enrolled", "failure", reason=str(error))
            return await enrol_page(principal, sealed, str(error))
        gw.forget_mfa_state(username)
        await kit.audit(request, username, "mfa.enrolled", "success")
        page = render("mfa_enroll.html", title=TITLE, codes=codes, **signed_in_context(principal))
        return HTMLResponse(page)

    return [
        Route("/login/mfa", code_page, methods=["GET"]),
        Route("/login/mfa", code_post, methods=["POST"]),
        Route("/account/mfa", enrol, methods=["GET", "POST"]),
    ]


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (drawn on the server: the page runs no script and its
    Content-Security-Policy loads no image)."""
    import segno

    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title="QR code of your authenticator key", svgclass="qr-code"
    )
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="QR code of your authenticator key" ', 1))


def authenticator_key(uri: str) -> str:
    """The base32 secret of an otpauth URI, in groups of four for typing into an app."""
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
