"""The tenant bar inside each tenant's Dagster UI: tenant, user, role, a tenant switch and sign-out.

It is injected into the HTML document the Dagster webserver serves for its UI pages (its
``index.html``, ``content-type: text/html``), right after ``<body>``, as a fixed strip at the
bottom of the window so Dagster's own navigation stays visible; the Dagster app is shortened by
the strip's height. No script: the switch is a ``<details>`` list of links, sign-out a POST form
with the session's CSRF token. Every name is escaped (tenant and user names come from files and
identity providers). Its ``<style>`` needs no change to Dagster's policy, which already allows
inline styles (``style-src 'unsafe-inline'``; adding a hash there would turn that off for Dagster's
own styles).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Send

from klikkflow_pipelines.gateway.pages import render_fragment
from klikkflow_pipelines.gateway.principal import Principal
from klikkflow_pipelines.gateway.roles import role_at_least

BAR_STYLE = files("klikkflow_pipelines.gateway").joinpath("templates", "tenant_bar.css").read_text("utf-8")
MAX_DOCUMENT = 2 * 1024 * 1024  # Dagster's index.html is about 10 kB; anything larger passes untouched


def bar_html(principal: Principal, tenant_id: str, tenant_names: dict[str, str]) -> str:
    """The bar for ``principal`` in ``tenant_id`` (``tenant_names``: every served tenant's name)."""
    role = principal.role_for(tenant_id) or ""
    others = [
        {"id": tid, "name": tenant_names[tid], "role": r}
        for tid, r in sorted(principal.roles.items())
        if tid != tenant_id and tid in tenant_names
    ]
    return render_fragment(
        "tenant_bar.html",
        style=Markup(BAR_STYLE),
        tenant_id=tenant_id,
        tenant_name=tenant_names.get(tenant_id, tenant_id),
        user=principal.username,
        role=role,
        others=others,
        audit=role_at_least(role or None, "admin"),
        csrf=principal.session.csrf_token if principal.session else "",
    )


def inject_into(document: bytes, bar: str) -> bytes:
    """``document`` with ``bar`` right after its ``<body ...>`` tag (unchanged when it has none)."""
    start = document.find(b"<body")
    end = document.find(b">", start) if start >= 0 else -1
    if end < 0:
        return document
    return document[: end + 1] + bar.encode() + document[end + 1 :]


def injecting_send(send: Send, bar: str) -> Send:
    """Wrap ``send`` so an HTML document answer (status 200) gets ``bar``, with a corrected
    ``Content-Length``; every other answer passes through unchanged and unbuffered."""
    state: dict[str, Any] = {"start": None, "chunks": [], "size": 0}

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            html = headers.get("content-type", "").startswith("text/html")
            if message["status"] == 200 and html and not headers.get("content-encoding"):
                state["start"] = message
                return
            await send(message)
            return
        start = state["start"]
        if start is None or message["type"] != "http.response.body":
            await send(message)
            return
        state["chunks"].append(message.get("body", b""))
        state["size"] += len(state["chunks"][-1])
        if state["size"] > MAX_DOCUMENT:  # not the UI's document: pass it on as it came
            state["start"] = None
            await send(start)
            await send({**message, "body": b"".join(state["chunks"])})
            return
        if message.get("more_body", False):
            return
        body = inject_into(b"".join(state["chunks"]), bar)
        MutableHeaders(scope=start)["content-length"] = str(len(body))
        await send(start)
        await send({"type": "http.response.body", "body": body})

    return _send
