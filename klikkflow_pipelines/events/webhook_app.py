"""The signed-webhook receiver: ``POST /<tenant>/<workflow>`` records a verified event in the outbox.

The gateway mounts :func:`create_webhook_app` at ``/hooks`` and resolves the
path's name to a workflow of the tenant (:mod:`klikkflow_pipelines.events.routing`).
A request is accepted (202 with the event id) only when the name resolves to a
workflow that has a secret, the body
is within the size limit, the timestamp is inside the replay window, the
HMAC-SHA256 signature matches and the body is a JSON object. Anything else is
answered with a 4xx and a reason, and nothing is stored. An unknown tenant, an
unknown workflow and a workflow without a secret get the same 404, so the
answer tells no one which tenants or workflows exist. Re-sending an
accepted request (same timestamp and body, so the same verified signature) is
answered 409 with the original event id: the de-duplication key is the
signature the server computed, never the header text, and a header that is not
exactly ``v1=<hex>`` is refused with 400.

Concurrent requests of a tenant share transactions (group commit): while one
batch commits, the next requests queue up and are committed together. Each
request is answered only after its own event is committed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from klikkflow_pipelines.events.outbox import Outbox, RecordResult
from klikkflow_pipelines.events.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MalformedSignature,
    compute_signature,
    signature_matches,
    webhook_secret,
)

DEFAULT_MAX_BODY_BYTES = 256 * 1024
DEFAULT_REPLAY_WINDOW_SECONDS = 300
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII unix seconds (str.isdigit also takes other scripts' digits)
_NO_WEBHOOK = "no webhook is configured at this path; use POST /<tenant>/<workflow> with the workflow's name"


class _TooLarge(Exception):
    pass


def _reject(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class GroupCommit:
    """Records events of one outbox in shared transactions; each caller waits for its own commit."""

    def __init__(self, outbox: Outbox, max_batch: int = 500) -> None:
        self.outbox = outbox
        self.max_batch = max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._draining = False

    async def record(self, **item: Any) -> RecordResult:
        """Queue ``item`` (``Outbox.record`` keyword arguments) and wait until it is committed."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    results = await run_in_threadpool(self.outbox.record_many, [item for item, _ in batch])
                except Exception as error:  # the whole transaction failed: every caller gets the error
                    for _, future in batch:
                        future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
        finally:
            self._draining = False


def default_outbox_resolver() -> Callable[[str], Outbox]:
    """Resolve a tenant id to the outbox in its own storage database (engines cached per tenant)."""
    from klikkflow_pipelines.tenancy.storage import tenant_storage_engine

    cache: dict[str, Outbox] = {}

    def resolve(tenant: str) -> Outbox:
        if tenant not in cache:
            cache[tenant] = Outbox(tenant_storage_engine(tenant))
        return cache[tenant]

    return resolve


def create_webhook_app(
    *,
    outbox_for_tenant: Callable[[str], Outbox] | None = None,
    secret_lookup: Callable[[str, str], bytes | None] = webhook_secret,
    workflow_lookup: Callable[[str, str], str | None] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    replay_window_seconds: int = DEFAULT_REPLAY_WINDOW_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """Build the webhook ASGI app (routes ``POST /{tenant}/{workflow}`` and ``GET /healthz``).

    ``outbox_for_tenant`` maps a tenant id to its outbox (default: the tenant's
    storage database); ``workflow_lookup`` maps a tenant and the path's name to
    the workflow it stands for, or None (default: the name itself);
    ``secret_lookup`` returns the workflow's secret or None when it has no webhook.
    """
    resolve = outbox_for_tenant or default_outbox_resolver()
    committers: dict[str, GroupCommit] = {}

    async def receive(request: Request) -> JSONResponse:
        tenant = request.path_params["tenant"]
        name = request.path_params["workflow"]
        if not (_NAME.match(tenant) and _NAME.match(name)):
            return _reject(404, "unknown_webhook", "tenant and workflow must be simple names")
        workflow = workflow_lookup(tenant, name) if workflow_lookup else name
        secret = secret_lookup(tenant, workflow) if workflow is not None else None
        if workflow is None or secret is None:
            return _reject(404, "unknown_webhook", _NO_WEBHOOK)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            return _reject(413, "body_too_large", f"body exceeds the limit of {max_body_bytes} bytes")
        try:
            body = await _read_limited(request, max_body_bytes)
        except _TooLarge:
            return _reject(413, "body_too_large", f"body exceeds the limit of {max_body_bytes} bytes")
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            return _reject(401, "unsigned", f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
        if not _TIMESTAMP.fullmatch(timestamp):
            return _reject(400, "bad_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds")
        skew = abs(clock() - int(timestamp))
        if skew > replay_window_seconds:
            return _reject(
                401,
                "stale_timestamp",
                f"timestamp is {int(skew)} s away from server time; the replay window is "
                f"{replay_window_seconds} s",
            )
        try:
            verified = signature_matches(secret, timestamp, body, signature)
        except MalformedSignature as error:
            return _reject(400, "malformed_signature", str(error))
        if not verified:
            return _reject(401, "bad_signature", "signature does not match timestamp and body")
        try:
            payload: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _reject(400, "malformed_json", f"body is not valid JSON: {error}")
        if not isinstance(payload, dict):
            return _reject(422, "not_an_object", "body must be a JSON object")
        if tenant not in committers:
            committers[tenant] = GroupCommit(resolve(tenant))
        result = await committers[tenant].record(
            tenant=tenant,
            workflow=workflow,
            source="webhook",
            payload=payload,
            # The signature this server computed over timestamp and body, not the sender's header text.
            dedupe_key=f"webhook:{workflow}:{compute_signature(secret, timestamp, body)}",
        )
        if not result.created:
            return JSONResponse(
                {
                    "error": "duplicate_delivery",
                    "reason": "this signed request was already accepted",
                    "event_id": result.event_id,
                },
                status_code=409,
            )
        return JSONResponse({"status": "accepted", "event_id": result.event_id}, status_code=202)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return _reject(404, "unknown_webhook", "use POST /<tenant>/<workflow>")

    async def wrong_method(_request: Request, _exc: Exception) -> JSONResponse:
        return _reject(405, "method_not_allowed", "webhooks accept POST only")

    return Starlette(
        exception_handlers={404: not_found, 405: wrong_method},
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{tenant}/{workflow}", receive, methods=["POST"]),
        ],
    )
