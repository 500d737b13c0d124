"""Reading and rewriting Dagster's GraphQL answers on their way out of the gateway.

Python stack traces (``PythonError.stack``, its ``cause``/``causes``/``errorChain``
and the ``extensions.errorInfo`` Dagster adds to GraphQL errors) name server
paths and code; only tenant admins see them. :func:`strip_stacks` empties
every such list. :func:`tap_json_response` buffers an HTTP JSON answer
whatever the number of body chunks, hands the decoded value to a callback
in a worker thread, and sends the (possibly rewritten) answer with a
correct ``content-length``; other answers pass untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Send

Offload = Callable[..., Awaitable[Any]]


def strip_stacks(value: Any) -> bool:
    """Empty, in place, every ``stack`` list in ``value`` (a decoded JSON value); True if any was found."""
    found = False
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            stack = item.get("stack")
            if isinstance(stack, list):
                if stack:
                    item["stack"] = []
                found = True
            pending.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            pending.extend(v for v in item if isinstance(v, (dict, list)))
    return found


def _content_type(message: Message) -> str:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return value.decode("latin-1")
    return ""


def tap_json_response(
    send: Send,
    rewrite: Callable[[bytes], bytes],
    offload: Offload,
    before_send: Callable[[], Awaitable[None]] | None = None,
) -> Send:
    """A ``send`` that collects a JSON answer and sends ``rewrite(body)`` instead (run in a thread).

    ``rewrite`` returns the body to send (the same bytes when nothing changes);
    ``before_send`` runs after it and before the client gets anything (an audit
    write, so no run id reaches a client before the audit log has it).
    Non-JSON answers and anything after the body pass through unchanged.
    """
    start: Message | None = None
    chunks: list[bytes] = []
    passthrough = False

    async def _send(message: Message) -> None:
        nonlocal start, passthrough
        kind = message["type"]
        if passthrough or kind not in ("http.response.start", "http.response.body"):
            await send(message)
            return
        if kind == "http.response.start":
            if "json" not in _content_type(message):
                passthrough = True
                await send(message)
                return
            start = message
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = await offload(rewrite, b"".join(chunks))
        chunks.clear()
        if before_send is not None:
            await before_send()
        assert start is not None
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        passthrough = True
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return _send


def strip_stacks_from_body(body: bytes) -> bytes:
    """``body`` (JSON) with every stack trace emptied; the same bytes when it holds none."""
    if b'"stack"' not in body:
        return body
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body
    return json.dumps(value).encode() if strip_stacks(value) else body


def strip_stacks_from_websocket(send: Send, offload: Offload) -> Send:
    """A websocket ``send`` that empties stack traces in the GraphQL frames it sends (decoded in a thread)."""

    async def _send(message: Message) -> None:
        text = message.get("text") if message["type"] == "websocket.send" else None
        if text and '"stack"' in text:
            stripped = await offload(strip_stacks_from_body, text.encode())
            message = {**message, "text": stripped.decode()}
        await send(message)

    return _send
