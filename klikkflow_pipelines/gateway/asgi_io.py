"""Small ASGI helpers of the gateway: complete responses, buffered request bodies, GraphQL parameters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Message, Receive, Scope, Send


async def send_simple(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete HTTP response."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += [(b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    code: str | None = None,
) -> None:
    """Send a GraphQL-shaped JSON error (no data), with ``extensions.code`` when given."""
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    body = json.dumps({"errors": [error]}).encode()
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


def graphql_params_of(
    method: str, content_type: str, query_string: bytes, body: bytes
) -> tuple[dict[str, Any], str | None]:
    """``query``, ``variables`` and ``operationName`` as Dagster's GraphQL endpoint reads them
    (mirrors its parsing), or an error."""
    params = {k: v[-1] for k, v in parse_qs(query_string.decode("latin-1")).items()}
    if method == "POST" and "application/json" in content_type:
        try:
            data = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}, "request body is not valid JSON"
        if not isinstance(data, dict):
            return {}, "batched or non-object GraphQL requests are not accepted"
        return data, None
    if method == "POST" and "application/graphql" in content_type:
        return {"query": body.decode("utf-8", errors="replace")}, None
    return params, None
