"""Local accounts by attack: CSRF, session fixation, revocation, expiry, brute force, TOTP and recovery codes,
API tokens."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pyotp
import pytest
import yaml

from klikkflow_pipelines.gateway.accounts import Accounts
from klikkflow_pipelines.gateway.principal import TOKEN_PREFIX
from klikkflow_pipelines.gateway.store import GatewayStore, SessionRecord, sha256_hex

from .conftest import LiveGateway
from .helpers import PASSWORD, graphql, hidden_fields, login_form_csrf, page_csrf, sign_in

RUNS = "{ runsOrError { __typename } }"
WIPE = "mutation { wipeAssets(assetPartitionRanges: []) { __typename } }"


# --- CSRF -------------------------------------------------------------------------------------------
def test_sign_in_form_needs_its_csrf_token(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    login_form_csrf(client)
    form = {"username": "vera", "password": PASSWORD, "next": "/"}
    assert client.post("/login", data=form).status_code == 403
    assert client.post("/login", data={**form, "csrf_token": "forged"}).status_code == 403
    other = live_gateway.client()
    stolen = login_form_csrf(other)  # a token bound to someone else's pre-auth cookie
    assert client.post("/login", data={**form, "csrf_token": stolen}).status_code == 403


def test_state_changing_pages_need_the_session_csrf_token(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("ada")
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    token_form = {"name": "ci", "tenant": "acme", "role": "viewer", "days": "1"}
    assert client.post("/account/tokens", data=token_form).status_code == 403
    assert graphql(client, "acme", RUNS).status_code == 200  # still signed in


def test_dagster_mutations_need_same_origin_or_the_csrf_header(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("edda")
    body = {"query": WIPE}
    evil = client.post("/t/acme/graphql", json=body, headers={"origin": "https://evil.example"})
    assert evil.status_code == 403 and "CSRF" in evil.text
    no_origin = client.post("/t/acme/graphql", json=body)
    assert no_origin.status_code == 403
    cross_site = client.post("/t/acme/graphql", json=body, headers={"sec-fetch-site": "cross-site"})
    assert cross_site.status_code == 403
    report = client.post(
        "/t/acme/report_asset_materialization/orders", headers={"origin": "https://evil.example"}
    )
    assert report.status_code == 403
    home = client.get("/")
    header_ok = client.post("/t/acme/graphql", json=body, headers={"x-csrf-token": page_csrf(home.text)})
    assert header_ok.status_code == 200, header_ok.text
    assert client.post("/t/acme/graphql", json={"query": RUNS}).status_code == 200  # reads need no token


# --- sessions ---------------------------------------------------------------------------------------
def test_cookie_flags(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    response = sign_in(client, "vera", PASSWORD)
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("kf_session")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # served over plain http on loopback


def test_cookies_are_secure_under_tls(live_gateway: LiveGateway) -> None:
    from starlette.testclient import TestClient

    from klikkflow_pipelines.gateway.app import Gateway

    gw = live_gateway.gateway
    tls = Gateway(
        gw.settings.model_copy(update={"public_url": "https://gw.example"}), gw.tenants, {}, {}, gw.store
    )
    with TestClient(tls, base_url="https://gw.example") as client:  # in-process: only the header is checked
        response = client.get("/login")
    assert "Secure" in response.headers["set-cookie"]


def test_session_fixation_planted_id_is_not_valid_after_sign_in(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    planted = live_gateway.gateway.sessions.sign("attacker-chosen-id")
    client.cookies.set("kf_session", planted, domain="127.0.0.1")
    assert sign_in(client, "vera", PASSWORD).status_code == 303
    issued = client.cookies["kf_session"]
    assert issued != planted
    attacker = live_gateway.client(cookies={"kf_session": planted})
    assert graphql(attacker, "acme", RUNS).status_code == 401
    # signing in again in the same browser rotates the id and revokes the previous one
    assert sign_in(client, "vera", PASSWORD).status_code == 303
    assert client.cookies["kf_session"] != issued
    assert graphql(live_gateway.client(cookies={"kf_session": issued}), "acme", RUNS).status_code == 401


def test_sign_out_revokes_the_session_server_side(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("vera")
    cookie = client.cookies["kf_session"]
    assert client.post("/logout", data={"csrf_token": page_csrf(client.get("/").text)}).status_code == 303
    replay = live_gateway.client(cookies={"kf_session": cookie})
    assert graphql(replay, "acme", RUNS).status_code == 401


def test_expired_session_is_rejected(live_gateway: LiveGateway) -> None:
    gw = live_gateway.gateway
    raw = "expired-session-id"
    now = time.time()
    gw.store.insert_session(
        SessionRecord(
            sha256_hex(raw),
            "ada",
            "local",
            ["ada"],
            [],
            {"acme": "admin"},
            False,
            False,
            "c",
            now - 100,
            now - 1,
        )
    )
    client = live_gateway.client(cookies={"kf_session": gw.sessions.sign(raw)})
    assert graphql(client, "acme", RUNS).status_code == 401


def test_role_change_revokes_sessions(live_gateway: LiveGateway) -> None:
    gw = live_gateway.gateway
    original = gw.tenants["acme"]
    members = [*original.members, {"user": "rita", "role": "viewer"}]
    gw.tenants["acme"] = original.model_validate({**original.model_dump(), "members": members})
    try:
        gw.accounts.create_user("rita", PASSWORD)
        client = live_gateway.login("rita")
        assert graphql(client, "acme", RUNS).status_code == 200
        members[-1] = {"user": "rita", "role": "editor"}
        gw.tenants["acme"] = original.model_validate({**original.model_dump(), "members": members})
        assert graphql(client, "acme", RUNS).status_code == 401
        revoked = [
            e for e in gw.platform_audit.entries() if e.action == "session.revoked" and e.actor == "rita"
        ]
        assert revoked and revoked[-1].target == "role change"
        assert graphql(live_gateway.login("rita"), "acme", WIPE).status_code == 200  # the new role applies
    finally:
        gw.tenants["acme"] = original


def test_editing_a_tenant_file_applies_without_a_restart(live_gateway: LiveGateway, variant_gateway) -> None:
    path = Path(live_gateway.gateway.tenants["acme"].source_path)
    original = path.read_text()
    data = yaml.safe_load(original)
    with_ravi = {**data, "members": [*data["members"], {"user": "ravi", "role": "viewer"}]}
    live_gateway.gateway.accounts.create_user("ravi", PASSWORD)
    try:
        with variant_gateway(tenant_reload_seconds=0.01) as live:
            path.write_text(yaml.safe_dump(with_ravi))  # ravi added to the tenant
            time.sleep(0.05)
            ravi = live.login("ravi")
            assert graphql(ravi, "acme", RUNS).status_code == 200

            path.write_text(original)  # ravi removed from the tenant
            time.sleep(0.05)
            assert graphql(ravi, "acme", RUNS).status_code == 401  # session revoked, no data
            assert graphql(live.login("ravi"), "acme", RUNS).status_code == 403

            path.write_text("id: acme\nname: [unclosed\n")  # a broken edit: the last good config stays
            time.sleep(0.05)
            assert graphql(live.login("vera"), "acme", RUNS).status_code == 200
            assert graphql(live.login("ravi"), "acme", RUNS).status_code == 403
    finally:
        path.write_text(original)
    revoked = [e for e in live_gateway.gateway.platform_audit.entries() if e.action == "session.revoked"]
    assert any(e.actor == "ravi" and e.target == "role change" for e in revoked)


# --- brute force (throttling: test_signin_throttle.py) ---------------------------------------------
def test_unknown_user_and_wrong_password_look_the_same(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    a = sign_in(client, "nobody-here", PASSWORD)
    b = sign_in(client, "vera", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert "Wrong user name or password." in a.text and "Wrong user name or password." in b.text


# --- TOTP -------------------------------------------------------------------------------------------
@pytest.fixture
def accounts(tmp_path) -> Accounts:  # type: ignore[no-untyped-def]
    return Accounts(GatewayStore(f"sqlite:///{tmp_path / 'gw.db'}"), secret_key="k" * 48)


def _mid_step_now() -> float:
    """The current time, at least 5 s before the next 30 s TOTP step, so a code from ``now`` and
    ``now - 30`` stays inside the verifier's window while the test runs."""
    if time.time() % 30 > 25:
        time.sleep(30 - time.time() % 30 + 0.1)
    return time.time()


def _enroll(accounts: Accounts, user: str, now: float) -> pyotp.TOTP:
    accounts.create_user(user, PASSWORD)
    offer = accounts.offer_enrollment(user, "session-hash")
    totp = pyotp.TOTP(parse_qs(urlsplit(offer.uri).query)["secret"][0])
    code = totp.at(now - 30)
    codes = accounts.complete_enrollment(user, "session-hash", offer.sealed, code, "", "10.0.0.1")
    assert len(codes) == 10
    return totp


def test_totp_codes_outside_the_window_are_rejected(accounts: Accounts) -> None:
    now = _mid_step_now()
    totp = _enroll(accounts, "tina", now)
    assert not accounts.verify_totp("tina", totp.at(now - 90), now=now)
    assert not accounts.verify_totp("tina", totp.at(now + 90), now=now)
    assert not accounts.verify_totp("tina", "000000" if totp.at(now) != "000000" else "111111", now=now)
    assert accounts.verify_totp("tina", totp.at(now), now=now)


def test_totp_code_cannot_be_replayed(accounts: Accounts) -> None:
    now = _mid_step_now()
    totp = _enroll(accounts, "tom", now)
    code = totp.at(now)
    assert accounts.verify_totp("tom", code, now=now)
    assert not accounts.verify_totp("tom", code, now=now)
    assert not accounts.verify_totp("tom", totp.at(now - 30), now=now)  # older step after a newer one
    assert accounts.verify_totp("tom", totp.at(now + 30), now=now)


def test_mfa_enrollment_sign_in_and_recovery_codes(live_gateway: LiveGateway) -> None:
    gw = live_gateway.gateway
    gw.accounts.create_user("mia", PASSWORD)
    client = live_gateway.login("mia")
    page = client.get("/account/mfa")
    uri = unquote(re.search(r'id="totp-uri">([^<]+)<', page.text).group(1).replace("&amp;", "&"))
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    wrong = client.post("/account/mfa", data={**hidden_fields(page.text), "code": "123456"})
    assert wrong.status_code == 400 or totp.now() == "123456"
    done = client.post("/account/mfa", data={**hidden_fields(page.text), "code": totp.at(time.time() - 30)})
    codes = re.findall(r"<code>([0-9a-f]{8}-[0-9a-f]{8})</code>", done.text)
    assert len(codes) == 10
    stored = gw.store.engine.connect().exec_driver_sql("SELECT code_hash FROM gateway_recovery_codes").all()
    assert codes[0] not in {row[0] for row in stored}

    fresh = live_gateway.client()
    pending = sign_in(fresh, "mia", PASSWORD)
    assert pending.status_code == 303 and pending.headers["location"] == "/login/mfa"
    assert graphql(fresh, "acme", RUNS).status_code == 401  # password alone opens nothing
    pending_cookie = fresh.cookies["kf_session"]
    mfa_page = fresh.get("/login/mfa")
    assert fresh.post(
        "/login/mfa", data={"csrf_token": page_csrf(mfa_page.text), "code": "999999"}
    ).status_code in (
        401,
        303,
    )
    ok = fresh.post("/login/mfa", data={"csrf_token": page_csrf(mfa_page.text), "code": totp.at(time.time())})
    assert ok.status_code == 303, ok.text
    assert fresh.cookies["kf_session"] != pending_cookie
    assert fresh.get("/").status_code == 200 and "mia" in fresh.get("/").text

    # a recovery code works once
    for attempt in range(2):
        browser = live_gateway.client()
        sign_in(browser, "mia", PASSWORD)
        page = browser.get("/login/mfa")
        result = browser.post("/login/mfa", data={"csrf_token": page_csrf(page.text), "code": codes[0]})
        assert result.status_code == (303 if attempt == 0 else 401)
    actions = [(e.action, e.outcome) for e in gw.platform_audit.entries() if e.actor == "mia"]
    assert ("mfa.enrolled", "success") in actions and ("signin.mfa", "failure") in actions


def test_required_mfa_opens_only_enrollment_until_a_second_factor_is_enrolled(
    live_gateway: LiveGateway, variant_gateway
) -> None:
    with variant_gateway(require_mfa=True) as live:
        live.gateway.accounts.create_user("nina", PASSWORD, owner=True)  # admin of every tenant
        client = live.client()
        signed_in = sign_in(client, "nina", PASSWORD)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account/mfa"

        # Before enrolling: no tenant data over any route, no API token, no tenant list.
        denied = graphql(client, "acme", RUNS)
        assert denied.status_code == 403 and "data" not in denied.json()
        assert "two-factor" in denied.json()["errors"][0]["message"]
        ui = client.get("/t/globex/runs", headers={"accept": "text/html"})
        assert ui.status_code == 302 and ui.headers["location"] == "/account/mfa"
        assert client.get("/").headers["location"] == "/account/mfa"
        assert client.get("/account/tokens").status_code == 403
        page = client.get("/account/mfa")
        form = {"tenant": "acme", "role": "admin", "csrf_token": page_csrf(page.text)}
        minted = client.post("/account/tokens", data=form)  # a valid form, still refused
        assert minted.status_code == 403 and TOKEN_PREFIX not in minted.text

        uri = unquote(re.search(r'id="totp-uri">([^<]+)<', page.text).group(1).replace("&amp;", "&"))
        totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
        enrolled = client.post("/account/mfa", data={**hidden_fields(page.text), "code": totp.now()})
        assert enrolled.status_code == 200
        assert graphql(client, "acme", RUNS).status_code == 200  # enrolled: the session opens again

        # The next sign-in asks for the code.
        again = live.client()
        assert sign_in(again, "nina", PASSWORD).headers["location"] == "/login/mfa"

    # The same account on a gateway that does not require MFA: unaffected policy, same data store.
    plain = live_gateway.client()
    assert sign_in(plain, "nina", PASSWORD).headers["location"] == "/login/mfa"
    assert [
        e.outcome
        for e in live_gateway.gateway.platform_audit.entries()
        if e.action == "token.create" and e.actor == "nina"
    ] == ["denied"]


# --- API tokens -------------------------------------------------------------------------------------
def _create_token(client: httpx.Client, tenant: str, role: str) -> httpx.Response:
    csrf = page_csrf(client.get("/account/tokens").text)
    return client.post(
        "/account/tokens",
        data={"csrf_token": csrf, "name": "ci", "tenant": tenant, "role": role, "days": "7"},
    )


def test_api_tokens_are_scoped_shown_once_hashed_and_revocable(live_gateway: LiveGateway) -> None:
    gw = live_gateway.gateway
    assert _create_token(live_gateway.login("vera"), "acme", "launcher").status_code == 403  # above own role
    owner = live_gateway.login("lars")
    created = _create_token(owner, "acme", "launcher")
    assert created.status_code == 201
    token = re.search(r'id="new-token">(kft_[^<]+)<', created.text).group(1)
    assert token not in owner.get("/account/tokens").text
    with gw.store.engine.connect() as conn:
        hashes = [r[0] for r in conn.exec_driver_sql("SELECT token_hash FROM gateway_api_tokens").all()]
    assert sha256_hex(token) in hashes and token not in hashes

    bearer = live_gateway.client(headers={"authorization": f"Bearer {token}"})
    from .test_rbac import LAUNCH, launch_params

    launched = bearer.post("/t/acme/graphql", json={"query": LAUNCH, "variables": launch_params("acme")})
    assert launched.json()["data"]["launchRun"]["__typename"] == "LaunchRunSuccess"  # no CSRF for Bearer
    assert bearer.post("/t/acme/graphql", json={"query": WIPE}).status_code == 403  # role scope
    assert bearer.post("/t/globex/graphql", json={"query": RUNS}).status_code == 403  # tenant scope
    assert bearer.get("/").headers.get("location", "/login").startswith("/login")  # not a browser session

    token_id = re.findall(r"/account/tokens/(\d+)/revoke", owner.get("/account/tokens").text)[0]
    csrf = page_csrf(owner.get("/account/tokens").text)
    assert owner.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 303
    assert bearer.post("/t/acme/graphql", json={"query": RUNS}).status_code == 401
    actions = [e.action for e in gw.platform_audit.entries() if e.actor == "lars"]
    assert "token.create" in actions and "token.revoke" in actions


def test_tokens_stop_working_when_the_creator_loses_the_role(live_gateway: LiveGateway) -> None:
    gw = live_gateway.gateway
    original = gw.tenants["acme"]
    members = [*original.members, {"user": "tess", "role": "editor"}]
    gw.tenants["acme"] = original.model_validate({**original.model_dump(), "members": members})
    try:
        gw.accounts.create_user("tess", PASSWORD)
        created = _create_token(live_gateway.login("tess"), "acme", "editor")
        token = re.search(r'id="new-token">(kft_[^<]+)<', created.text).group(1)
        bearer = live_gateway.client(headers={"authorization": f"Bearer {token}"})
        assert bearer.post("/t/acme/graphql", json={"query": RUNS}).status_code == 200
        members[-1] = {"user": "tess", "role": "viewer"}
        gw.tenants["acme"] = original.model_validate({**original.model_dump(), "members": members})
        assert bearer.post("/t/acme/graphql", json={"query": RUNS}).status_code == 401
    finally:
        gw.tenants["acme"] = original


@pytest.mark.parametrize("name", ["oidc:sso-sub-123", "OIDC:sso-sub-123", " oidc:sso-sub-123"])
def test_a_local_account_cannot_take_the_name_of_an_sso_subject(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: tenant files grant SSO users without a verified e-mail by ``oidc:<subject>``; a local
    account named so (member names match case-insensitively) would get that user's roles and see
    their API tokens. ``klikkflow gateway add-user`` refuses such a name and writes nothing."""
    from typer.testing import CliRunner

    from klikkflow_pipelines.cli.main import app

    database = tmp_path / "gateway.db"
    monkeypatch.setenv("KLIKKFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("KLIKKFLOW_GATEWAY_DB_URL", f"sqlite:///{database}")
    result = CliRunner().invoke(app, ["gateway", "add-user", name, "--password-stdin"], input=f"{PASSWORD}\n")
    assert result.exit_code != 0
    assert "oidc:" in result.output and "single sign-on" in result.output, result.output
    with pytest.raises(ValueError, match="oidc:"):
        Accounts(GatewayStore(f"sqlite:///{database}")).create_user(name, PASSWORD)
    assert GatewayStore(f"sqlite:///{database}").get_user(name.strip()) is None


def test_session_of_a_deleted_local_account_ends(live_gateway: LiveGateway) -> None:
    """Attack: an administrator deletes a local account (its row in the platform database); whoever
    holds one of its sessions kept using it until it expired (8 h)."""
    from sqlalchemy import delete

    from klikkflow_pipelines.gateway.store import users

    gw = live_gateway.gateway
    gw.accounts.create_user("delia", PASSWORD)
    client = live_gateway.login("delia")
    assert client.get("/").status_code == 200
    with gw.store.engine.begin() as conn:
        conn.execute(delete(users).where(users.c.username == "delia"))
    time.sleep(gw.settings.session_cache_seconds + 0.2)
    home = client.get("/")
    assert home.status_code == 302 and home.headers["location"] == "/login"
    gw.accounts.create_user("delia", PASSWORD)  # an account of that name again: the session stays dead
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("token_id", ["99999999999999999999999", str(2**63)])
def test_revoking_a_token_id_no_database_holds_answers_404(live_gateway: LiveGateway, token_id: str) -> None:
    """Attack: an id beyond any database integer used to reach the driver and answer 500."""
    live_gateway.gateway.accounts.create_user("ivo", PASSWORD)
    client = live_gateway.login("ivo")
    page = client.get("/account/tokens")
    answer = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": page_csrf(page.text)})
    assert answer.status_code == 404
