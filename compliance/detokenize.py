"""The audited admin call that reverses tokens: the only way people get tokenized values back.

Only a tenant ``admin`` may detokenize (DESIGN.md access model: admin covers
tenant policy and secrets), must give a reason, and every call - allowed or
denied - is recorded as a compliance event before any value is returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from compliance.crypto import Keys, detokenize_values
from compliance.events import ComplianceEvent, record_events
from klikkflow_pipelines.tenancy.config import TenantConfig


class DetokenizeDenied(PermissionError):
    """The caller may not detokenize for this tenant."""


def detokenize(
    tokens: Sequence[str | None],
    *,
    tenant: TenantConfig,
    actor: str,
    reason: str,
    keys: Keys,
    events_engine: Engine,
    asset: str = "",
    column: str | None = None,
) -> list[str | None]:
    """Return the original values of ``tokens`` for a tenant admin, recording the call as an event.

    Raises :class:`DetokenizeDenied` (after recording the denial) when
    ``actor`` is not an admin member of ``tenant`` or gives no reason, and
    :class:`compliance.crypto.InvalidToken` for tokens not made with this key.
    """
    roles = {m.user: m.role for m in tenant.members}
    details = {"count": len(tokens), "reason": reason, "role": roles.get(actor)}
    if roles.get(actor) != "admin" or not reason.strip():
        why = (
            "a reason is required"
            if roles.get(actor) == "admin"
            else f"{actor!r} is not an admin of {tenant.id}"
        )
        record_events(
            events_engine,
            [
                ComplianceEvent(
                    actor, tenant.id, "detokenize_denied", asset, column, None, {**details, "why": why}
                )
            ],
        )
        raise DetokenizeDenied(f"detokenize denied: {why}")
    values = detokenize_values(tokens, keys.token_key)
    record_events(
        events_engine, [ComplianceEvent(actor, tenant.id, "detokenize", asset, column, None, details)]
    )
    return values
