"""HTML pages of the gateway: Jinja2 templates under ``templates/`` with autoescaping, one layout
(``base.html``) and one style sheet (``gateway.css``), inlined and allowed by its hash
(:data:`STYLE_SOURCE`), so the Content-Security-Policy forbids every other style and all script.
The pages run no script."""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

STYLE = files("klikkflow_pipelines.gateway").joinpath("templates", "gateway.css").read_text("utf-8")
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"

_env = Environment(
    loader=PackageLoader("klikkflow_pipelines.gateway", "templates"),
    autoescape=select_autoescape(default=True),
)


def render(template: str, **context: Any) -> str:
    """Render one of the gateway's pages (``user`` in the context shows the signed-in header)."""
    context.setdefault("error", None)
    context.setdefault("user", None)
    return _env.get_template(template).render(style=Markup(STYLE), **context)


def signed_in_context(principal: Any) -> dict[str, Any]:
    """The header's context for a signed-in session (name, owner badge, sign-out CSRF token)."""
    session = principal.session
    return {
        "user": principal.username,
        "owner": principal.is_owner,
        "csrf": session.csrf_token if session else "",
        "local": bool(session and session.method == "local"),
    }


def render_fragment(template: str, **context: Any) -> str:
    """Render a template that is not a whole page (the tenant bar)."""
    return _env.get_template(template).render(**context)
