"""API tokens hold no role of their own beyond their scope: at every use the role comes from the
creator's current membership (tenant ``members`` and ``oidc_groups`` as loaded now), and OIDC groups
count only as recorded at the creator's last SSO sign-in, within ``group_role_max_age_seconds``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import yaml

from .conftest import LiveGateway
from .helpers import page_csrf
from .test_oidc import sso_sign_in

RUNS = "{ runsOrError { __typename } }"


def sso_token(live_gateway: LiveGateway, login: str, tenant: str, role: str) -> str:
    """Sign in through the provider as ``login`` and create an API token for ``tenant``/``role``."""
    browser, done = sso_sign_in(live_gateway, login)
    assert done.status_code == 303
    csrf = page_csrf(browser.get("/account/tokens").text)
    created = browser.post(
        "/account/tokens",
        data={"csrf_token": csrf, "name": "ci", "tenant": tenant, "role": role, "days": "365"},
    )
    assert created.status_code == 201, created.text
    return re.search(r'id="new-token">(kft_[^<]+)<', created.text).group(1)


def runs(live_gateway: LiveGateway, token: str, tenant: str = "acme") -> int:
    """Status of a read-only GraphQL query with a Bearer token."""
    bearer = live_gateway.client(headers={"authorization": f"Bearer {token}"})
    return bearer.post(f"/t/{tenant}/graphql", json={"query": RUNS}).status_code


def test_token_loses_group_role_when_the_provider_drops_the_group(live_gateway: LiveGateway) -> None:
    """Attack: a user makes a year-long editor token from an IdP group, is then taken out of the group
    at the provider, and keeps using the token. The next SSO sign-in records the new groups."""
    token = sso_token(live_gateway, "sso-mover", "acme", "editor")  # acme-editors → editor
    assert runs(live_gateway, token) == 200
    with live_gateway.oidc.changed_claims("sso-mover", groups=["acme-viewers"]):
        sso_sign_in(live_gateway, "sso-mover")  # the gateway now knows the user's groups
        assert runs(live_gateway, token) == 401  # viewer now: below the token's editor role
        viewer_token = sso_token(live_gateway, "sso-mover", "acme", "viewer")
        with live_gateway.oidc.changed_claims("sso-mover", groups=[]):
            sso_sign_in(live_gateway, "sso-mover")
            assert runs(live_gateway, viewer_token) == 401  # no group, no member entry: no role


def test_token_loses_platform_owner_when_the_provider_drops_the_owner_group(
    live_gateway: LiveGateway,
) -> None:
    """Attack: a platform owner (by IdP group) mints an admin token for a tenant, loses the owner
    group at the provider, and keeps admin through the token."""
    token = sso_token(live_gateway, "sso-deputy", "globex", "admin")
    assert runs(live_gateway, token, "globex") == 200
    with live_gateway.oidc.changed_claims("sso-deputy", groups=[]):
        sso_sign_in(live_gateway, "sso-deputy")
        assert runs(live_gateway, token, "globex") == 401


def test_group_role_of_a_token_needs_a_recent_sign_in(live_gateway: LiveGateway, variant_gateway) -> None:
    """Attack: a user removed from a group at the provider simply never signs in again, so the
    gateway never learns it. Group-derived roles end ``group_role_max_age_seconds`` after the last
    SSO sign-in; roles from ``members`` (a verified e-mail) do not depend on it."""
    group_token = sso_token(live_gateway, "sso-editor", "acme", "editor")  # acme-editors → editor
    member_token = sso_token(live_gateway, "sso-member", "acme", "launcher")  # members, by e-mail
    # no purge in this variant: with its 1 s window it would delete the group records the
    # package's gateway (24 h) still uses
    with variant_gateway(group_role_max_age_seconds=1.0, purge_interval_seconds=0) as short:
        assert runs(short, group_token) == 200 and runs(short, member_token) == 200
        time.sleep(1.5)
        assert runs(short, group_token) == 401  # last group refresh older than the window
        assert runs(short, member_token) == 200
        assert runs(live_gateway, group_token) == 200  # the default window (24 h) has not passed
        sso_sign_in(live_gateway, "sso-editor")  # a sign-in refreshes the groups
        assert runs(short, group_token) == 200


def test_token_follows_tenant_file_edits(live_gateway: LiveGateway, variant_gateway) -> None:
    """An admin removes a member or demotes a group in the tenant file: the creator's existing
    tokens lose the role on their next request, without a restart."""
    member_token = sso_token(live_gateway, "sso-member", "acme", "launcher")
    editor_token = sso_token(live_gateway, "sso-editor", "acme", "editor")
    viewer_token = sso_token(live_gateway, "sso-editor", "acme", "viewer")
    path = Path(live_gateway.gateway.tenants["acme"].source_path)
    original = path.read_text()
    data = yaml.safe_load(original)
    edited = {
        **data,
        "members": [m for m in data["members"] if m["user"] != "sso.acme@example.com"],
        "oidc_groups": {**data["oidc_groups"], "acme-editors": "viewer"},
    }
    try:
        with variant_gateway(tenant_reload_seconds=0.01) as live:
            assert [runs(live, t) for t in (member_token, editor_token, viewer_token)] == [200] * 3
            path.write_text(yaml.safe_dump(edited))
            time.sleep(0.05)
            assert runs(live, member_token) == 401  # removed from members
            assert runs(live, editor_token) == 401  # group demoted to viewer
            assert runs(live, viewer_token) == 200  # still within the demoted role
    finally:
        path.write_text(original)


def test_token_of_a_deleted_local_account_stops_working(live_gateway: LiveGateway) -> None:
    """Attack: an administrator deletes a local account (its row in the platform database); a token
    it had made kept its tenant role for up to a year because the tenant file still names the user."""
    from sqlalchemy import delete

    from klikkflow_pipelines.gateway.store import users

    gw = live_gateway.gateway
    browser = live_gateway.login("vera")
    csrf = page_csrf(browser.get("/account/tokens").text)
    created = browser.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "ci", "tenant": "acme", "role": "viewer"}
    )
    token = re.search(r'id="new-token">(kft_[^<]+)<', created.text).group(1)
    assert runs(live_gateway, token) == 200
    row = gw.store.get_user("vera")
    with gw.store.engine.begin() as conn:
        conn.execute(delete(users).where(users.c.username == "vera"))
    try:
        assert runs(live_gateway, token) == 401
    finally:
        with gw.store.engine.begin() as conn:
            conn.execute(users.insert().values(**row))
    assert runs(live_gateway, token) == 200  # the account is back: a member of acme again
