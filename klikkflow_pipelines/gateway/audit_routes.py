"""The audit viewer: ``/audit/<tenant>`` for admins of that tenant, ``/audit/platform`` (sign-ins,
tokens) for platform owners. Outside ``/t/<tenant>/`` so no Dagster route can shadow it.

GET lists entries (HTML for a browser, JSON for API clients) and changes nothing. Export is a POST
with the session's CSRF token (or a Bearer token), and is itself recorded in the log it exports.
Someone who may not read a log gets the same 403 whether the tenant exists or not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from compliance.audit.log import OUTCOMES, AuditLog
from klikkflow_pipelines.gateway import audit_view
from klikkflow_pipelines.gateway.audit_view import FilterError, parse_filters
from klikkflow_pipelines.gateway.error_pages import CSRF_FAILED, error_response, wants_html
from klikkflow_pipelines.gateway.forms import read_form
from klikkflow_pipelines.gateway.pages import render, signed_in_context
from klikkflow_pipelines.gateway.principal import Principal
from klikkflow_pipelines.gateway.roles import role_at_least
from klikkflow_pipelines.gateway.sessions import CSRF_FIELD
from klikkflow_pipelines.tenancy.config import TENANT_ID_PATTERN

if TYPE_CHECKING:
    from klikkflow_pipelines.gateway.app import Gateway

PLATFORM = "platform"
NOT_YOURS = "you may not read this audit log: it needs the admin role in that tenant"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def build_audit_routes(gw: Gateway) -> list[Route]:
    """The audit viewer's routes, bound to ``gw``."""

    def problem(request: Request, status: int, message: str, principal: Principal | None) -> Response:
        if wants_html(request.scope):
            return error_response(request, status, message, principal=principal)
        return JSONResponse({"errors": [{"message": message}]}, status_code=status)

    async def readable_log(request: Request) -> tuple[Principal | None, AuditLog | None, Response | None]:
        """(principal, log, None) when the caller may read the log of the path, else the answer."""
        log_id = request.path_params["log_id"]
        principal = await gw.offload(gw.authenticate, request.scope)
        if principal is None:
            if wants_html(request.scope) and request.method == "GET":
                return None, None, RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=302)
            return None, None, problem(request, 401, "sign in first", None)
        if await gw.offload(gw.mfa_enrollment_due, principal):
            return principal, None, problem(request, 403, "enroll two-factor sign-in first", principal)
        if log_id == PLATFORM:
            allowed, log = principal.is_owner and not principal.via_token, gw.platform_audit
        else:
            log = gw.audit_logs.get(log_id)
            allowed = log is not None and role_at_least(principal.role_for(log_id), "admin")
        if not allowed:
            if _TENANT_ID.match(log_id):
                await gw.audit_async(
                    log_id, principal.username, "audit.read", log_id, "denied", _client(request)
                )
            return principal, None, problem(request, 403, NOT_YOURS, principal)
        return principal, log, None

    async def viewer(request: Request) -> Response:
        principal, log, refused = await readable_log(request)
        if refused is not None:
            return refused
        assert principal is not None and log is not None
        params = request.query_params
        try:
            filters, error = parse_filters(params), None
        except FilterError as problem_found:
            if not wants_html(request.scope):
                return problem(request, 400, str(problem_found), principal)
            filters, error = audit_view.as_entered(params), str(problem_found)  # the form, to fix it
        entries, more, check = [], False, None
        if error is None:
            entries, more = await gw.offload(audit_view.page_of, log, filters)
            if not wants_html(request.scope):
                records = [entry.as_record() for entry in entries]
                return JSONResponse({"entries": records, "page": filters.page, "more": more})
            check = await gw.offload(audit_view.verify_range, log, entries)
        log_id = request.path_params["log_id"]
        base = f"/audit/{log_id}?"
        html = render(
            "audit.html",
            title="Audit log",
            wide=True,
            log_id=log_id,
            scope_label=_label(gw, log_id),
            f=filters,
            outcomes=OUTCOMES,
            entries=entries,
            check=check,
            newer=base + urlencode({**filters.query_items(), "page": filters.page - 1})
            if filters.page > 1
            else None,
            older=base + urlencode({**filters.query_items(), "page": filters.page + 1}) if more else None,
            export_limit=f"{audit_view.EXPORT_LIMIT:,}",
            error=error,
            **signed_in_context(principal),
        )
        return HTMLResponse(html, status_code=400 if error else 200)

    async def export(request: Request) -> Response:
        principal, log, refused = await readable_log(request)
        if refused is not None:
            return refused
        assert principal is not None and log is not None
        form = await read_form(request)
        if not principal.via_token and not gw.csrf_ok(
            request.scope, principal, form_token=str(form.get(CSRF_FIELD, ""))
        ):
            return problem(request, 403, CSRF_FAILED, principal)
        fmt = str(form.get("format", "csv"))
        if fmt not in ("csv", "json"):
            return problem(request, 400, "format: use csv or json", principal)
        try:
            filters = parse_filters(form)
        except FilterError as error:
            return problem(request, 400, str(error), principal)
        entries = await gw.offload(audit_view.export_rows, log, filters)
        log_id = request.path_params["log_id"]
        details = {"format": fmt, "entries": len(entries), "filters": filters.described()}
        await gw.audit_async(
            log_id, principal.username, "audit.export", log_id, "success", _client(request), details
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        body = audit_view.as_csv(entries) if fmt == "csv" else audit_view.as_json(entries)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        disposition = f'attachment; filename="audit-{log_id}-{stamp}.{fmt}"'
        return Response(body, media_type=media, headers={"content-disposition": disposition})

    return [
        Route("/audit/{log_id}", viewer, methods=["GET"]),
        Route("/audit/{log_id}/export", export, methods=["POST"]),
    ]


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _label(gw: Gateway, log_id: str) -> str:
    if log_id == PLATFORM:
        return "Platform: sign-ins, sign-outs and API tokens"
    tenant = gw.tenants.get(log_id)
    return f"Tenant {tenant.name} ({log_id})" if tenant else log_id
