"""HTML pages of the gateway (Jinja2 with autoescaping). They run no script; their one inline style
sheet is allowed by its hash (:data:`STYLE_SOURCE`), so the Content-Security-Policy can forbid the rest."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape

STYLE = """body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}
input,select,button{font-size:1rem;padding:.4rem;margin:.2rem 0}label{display:block;margin-top:.6rem}
.error{color:#b00020}code{background:#eee;padding:.1rem .3rem}"""
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"

_BASE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>KlikkFlow — {{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>"""
    + STYLE
    + """</style></head>
<body><h1>{{ title }}</h1>{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
{% block body %}{% endblock %}</body></html>"""
)

_TEMPLATES = {
    "base.html": _BASE,
    "login.html": """{% extends "base.html" %}{% block body %}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label>User name <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
{% if oidc %}<p><a id="sso" href="/login/oidc?next={{ next|urlencode }}">Sign in with single sign-on</a></p>
{% endif %}
{% endblock %}""",
    "mfa.html": """{% extends "base.html" %}{% block body %}
<form method="post" action="/login/mfa"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>Authenticator code or recovery code <input name="code" autocomplete="one-time-code" required></label>
<button type="submit">Verify</button></form>{% endblock %}""",
    "home.html": """{% extends "base.html" %}{% block body %}
<p>Signed in as <strong id="user">{{ user }}</strong>{% if owner %} (platform owner){% endif %}.</p>
<h2>Your tenants</h2>{% if tenants %}<ul id="tenants">{% for t in tenants %}
<li><a href="/t/{{ t.id }}/">{{ t.name }}</a> — {{ t.role }}</li>{% endfor %}</ul>
{% else %}<p>You are not a member of any tenant yet.</p>{% endif %}
<p><a href="/account/tokens">API tokens</a>
{% if local %} · <a href="/account/mfa">Two-factor sign-in</a>{% endif %}</p>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit">Sign out</button></form>{% endblock %}""",
    "mfa_enroll.html": """{% extends "base.html" %}{% block body %}
{% if codes %}<p>Two-factor sign-in is on. Store these recovery codes now; they are shown once:</p>
<ul id="recovery-codes">{% for c in codes %}<li><code>{{ c }}</code></li>{% endfor %}</ul>
<p><a href="/">Continue</a></p>{% else %}
{% if enabled %}<p>Two-factor sign-in is on. To move it to another authenticator app, add this key to the
new app, then confirm with a code from the new app and a current code from the old one (or a recovery
code).</p>{% else %}<p>Add this key to your authenticator app, then confirm with a code from it.</p>
{% endif %}
<p><code id="totp-uri">{{ uri }}</code></p>
<form method="post" action="/account/mfa"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="pending" value="{{ pending }}">
{% if enabled %}<label>Current code (old app) or recovery code
<input name="current_code" autocomplete="one-time-code" required></label>{% endif %}
<label>Code from the {% if enabled %}new {% endif %}app
<input name="code" autocomplete="one-time-code" required></label>
<button type="submit">{% if enabled %}Replace{% else %}Turn on{% endif %}</button></form>
<p><a href="/">Back</a></p>{% endif %}{% endblock %}""",
    "tokens.html": """{% extends "base.html" %}{% block body %}
{% if new_token %}<p>Your new token (shown once): <code id="new-token">{{ new_token }}</code></p>{% endif %}
<table><tr><th>Name</th><th>Tenant</th><th>Role</th><th>Status</th><th></th></tr>
{% for t in tokens %}<tr><td>{{ t.name }}</td><td>{{ t.tenant }}</td><td>{{ t.role }}</td>
<td>{{ "revoked" if t.revoked else "active" }}</td><td>{% if not t.revoked %}
<form method="post" action="/account/tokens/{{ t.id }}/revoke">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit">Revoke</button></form>{% endif %}</td></tr>{% endfor %}</table>
<h2>New token</h2><form method="post" action="/account/tokens">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><label>Name <input name="name" required></label>
<label>Tenant <select name="tenant">{% for id, role in roles.items() %}<option>{{ id }}</option>{% endfor %}
</select></label><label>Role <select name="role"><option>viewer</option><option>launcher</option>
<option>editor</option><option>admin</option></select></label>
<label>Valid for days <input name="days" type="number" value="90" min="1" max="365"></label>
<button type="submit">Create</button></form><p><a href="/">Back</a></p>{% endblock %}""",
}

_env = Environment(loader=DictLoader(_TEMPLATES), autoescape=select_autoescape(default=True))


def render(template: str, **context: Any) -> str:
    """Render one of the gateway's pages."""
    context.setdefault("error", None)
    return _env.get_template(template).render(**context)
