"""``POST /t/<tenant>/api/detokenize``: a tenant admin gets tokenized values back, audited first.

Only the gateway holds the tenants' detokenize private keys
(:mod:`compliance.token_keys`), so this route is the only way back from a
``tok2_`` token. The caller must be an admin of the tenant: a session (with the
session's CSRF token in ``X-CSRF-Token``; same-origin alone is not enough) or an
API token whose role is ``admin``. Every decision, allowed or denied, is written
to the tenant's audit log and to its ``compliance_events`` table *before* any
value is decrypted, in one transaction; when it fails nothing is decrypted (503).

Body: ``{"tokens": [...], "reason": "...", "asset": "...", "column": "..."}``
(at most :data:`MAX_BODY` bytes and :data:`MAX_TOKENS` tokens, 413 beyond; a
reason is required, 400). Answer: ``{"values": [...]}`` in token order; 422 when
a token was not made for this tenant (another tenant's, altered, or legacy
without the legacy key), also audited.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from compliance.crypto import KeyMaterialError
from compliance.detokenize import InvalidToken, detokenize_values
from compliance.events import ComplianceEvent, record_events_on
from compliance.token_keys import LEGACY_KEY_DIR_ENV, detokenize_key_path, legacy_key, load_detokenize_key
from klikkflow_pipelines.gateway.asgi_io import read_body, send_json, send_simple, source_address
from klikkflow_pipelines.gateway.principal import Principal, header
from klikkflow_pipelines.gateway.sessions import CSRF_HEADER

if TYPE_CHECKING:
    from compliance.audit.log import AuditLog
    from klikkflow_pipelines.gateway.app import Gateway

log = logging.getLogger("klikkflow.gateway.detokenize")
DETOKENIZE_PATH = "/api/detokenize"
MAX_TOKENS = 1000
MAX_BODY = 256 * 1024
MAX_REASON = 500
MAX_NAME = 200


def is_detokenize_route(rest: str) -> bool:
    """True when ``rest`` (the path below ``/t/<tenant>``) is the detokenize API."""
    return rest.rstrip("/") == DETOKENIZE_PATH


@dataclass
class Verdict:
    """The decision on one request: HTTP status (200 = allowed), why not, and what it asked for."""

    status: int
    why: str = ""
    tokens: list[str | None] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """True when the request may be decrypted."""
        return self.status == 200


def _parse(body: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, 'the body is not JSON; send {"tokens": [...], "reason": "..."}'
    if not isinstance(data, dict):
        return None, "the body must be a JSON object with tokens and reason"
    return data, ""


def decide(body: bytes | None, role: str | None, csrf_ok: bool, tenant_id: str) -> Verdict:
    """Decide a request from its (bounded) body, the caller's role and its CSRF check; no I/O."""
    data, problem = _parse(body) if body is not None else (None, "")
    data = data or {}
    raw_tokens = data.get("tokens")
    reason = data.get("reason")
    asset, column = data.get("asset"), data.get("column")
    details: dict[str, Any] = {
        "count": len(raw_tokens) if isinstance(raw_tokens, list) else 0,
        "reason": reason[:MAX_REASON] if isinstance(reason, str) else "",
        "asset": asset[:MAX_NAME] if isinstance(asset, str) else "",
        "column": column[:MAX_NAME] if isinstance(column, str) else None,
        "role": role,
    }
    if role != "admin":
        why = f"forbidden: detokenize requires the admin role of tenant {tenant_id}"
        return Verdict(403, why, [], details)
    if not csrf_ok:
        why = f"CSRF check failed: send the session's CSRF token in {CSRF_HEADER}"
        return Verdict(403, why, [], details)
    if body is None:
        return Verdict(413, f"request body over {MAX_BODY} bytes", [], details)
    if problem:
        return Verdict(400, problem, [], details)
    if not isinstance(raw_tokens, list) or not all(t is None or isinstance(t, str) for t in raw_tokens):
        return Verdict(400, "tokens: must be a list of token strings", [], details)
    if len(raw_tokens) > MAX_TOKENS:
        return Verdict(413, f"tokens: at most {MAX_TOKENS} per request, got {len(raw_tokens)}", [], details)
    if not isinstance(reason, str) or not reason.strip():
        return Verdict(400, "reason: required (why these values are needed; it is audited)", [], details)
    for name, value in (("asset", asset), ("column", column)):
        if value is not None and not isinstance(value, str):
            return Verdict(400, f"{name}: must be a string", [], details)
    return Verdict(200, "", raw_tokens, details)


class Detokenizer:
    """Records decisions and opens tokens for the gateway; blocking methods (call through ``offload``).

    Where each tenant's private key (and legacy key) lives is resolved when the
    gateway starts, never from the environment of a later request.
    """

    def __init__(self, audit_logs: Mapping[str, AuditLog]) -> None:
        self._audit_logs = audit_logs
        self._key_paths = {tenant: detokenize_key_path(tenant) for tenant in audit_logs}
        self._legacy_dir = os.environ.get(LEGACY_KEY_DIR_ENV)

    def record(
        self, tenant_id: str, actor: str, action: str, outcome: str, source: str, details: dict[str, Any]
    ) -> None:
        """Write the decision to the tenant's audit log and ``compliance_events`` in one transaction.

        Raises when the tenant's audit store refuses it; then neither row exists.
        """
        from klikkflow_pipelines.gateway.app import bounded_details

        log = self._audit_logs[tenant_id]
        target = f"{details.get('asset') or ''}/{details.get('column') or ''}".strip("/") or "(unspecified)"
        event = ComplianceEvent(
            actor, tenant_id, action, details.get("asset") or "", details.get("column"), None, details
        )
        with log.transaction() as conn:
            log.append(
                actor=actor,
                action=action,
                target=target,
                outcome=outcome,
                source=source,
                details=bounded_details(details),
                tenant=tenant_id,
                conn=conn,
            )
            record_events_on(conn, [event])

    def open(self, tenant_id: str, tokens: list[str | None]) -> list[str | None]:
        """Decrypt ``tokens`` with the tenant's private key (and its legacy key when configured)."""
        private = load_detokenize_key(tenant_id, self._key_paths[tenant_id])
        return detokenize_values(tokens, private, legacy_key(tenant_id, self._legacy_dir))


async def handle_detokenize(
    gw: Gateway,
    detokenizer: Detokenizer,
    scope: Scope,
    receive: Receive,
    send: Send,
    tenant_id: str,
    principal: Principal,
) -> None:
    """Answer one detokenize request (see the module docstring); the caller is authenticated."""
    if scope["method"] != "POST":
        await send_json(send, 405, "use POST", [(b"allow", b"POST")])
        return
    role = principal.role_for(tenant_id)
    session = principal.session
    csrf_ok = principal.via_token or (
        session is not None
        and gw.sessions.tokens_match(session.csrf_token, header(scope, CSRF_HEADER.encode()))
    )
    verdict = decide(await read_body(receive, MAX_BODY), role, csrf_ok, tenant_id)
    details = {**verdict.details, **({"token_id": principal.token_id} if principal.via_token else {})}
    if not verdict.allowed:
        details["why"] = verdict.why

    async def audit(action: str, outcome: str, extra: dict[str, Any] | None = None) -> None:
        entry = {**details, **(extra or {})}
        await gw.offload(
            detokenizer.record, tenant_id, principal.username, action, outcome, source_address(scope), entry
        )

    outcome = "allowed" if verdict.allowed else "denied"
    try:
        await audit("detokenize" if verdict.allowed else "detokenize_denied", outcome)
    except Exception:
        log.exception("detokenize decision for tenant %s could not be audited", tenant_id)
        if verdict.allowed:
            await send_json(send, 503, "the decision could not be audited, so nothing was decrypted")
            return
    if not verdict.allowed:
        await send_json(send, verdict.status, verdict.why)
        return
    try:
        values = await gw.offload(detokenizer.open, tenant_id, verdict.tokens)
    except (InvalidToken, KeyMaterialError) as exc:
        if isinstance(exc, InvalidToken):
            status, message = 422, f"{exc} (tenant {tenant_id}); nothing was returned"
        else:  # the gateway's own key is missing or broken: the details are for its operators
            log.error("detokenize key of tenant %s: %s", tenant_id, exc)
            status, message = 503, f"the gateway has no usable detokenize key for {tenant_id} (see its log)"
        try:
            await audit("detokenize_failed", "failure", {"error": str(exc)})
        except Exception:
            log.exception("failed detokenize for tenant %s could not be audited", tenant_id)
        await send_json(send, status, message)
        return
    await send_simple(send, 200, json.dumps({"values": values}).encode(), b"application/json")
