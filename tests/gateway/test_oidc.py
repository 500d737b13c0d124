"""OpenID Connect against the real provider process (npm oidc-provider) on loopback: the full
code + PKCE flow, group → role mapping, and every kind of bad ID token, state or nonce."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from authlib.jose import JsonWebKey, jwt

from klikkflow_pipelines.gateway.oidc import OidcError

from .conftest import LiveGateway
from .helpers import graphql, page_csrf
from .oidc_server import page_form, provider_sign_in

RUNS = "{ runsOrError { __typename } }"


def sso_sign_in(live_gateway: LiveGateway, login: str) -> tuple[httpx.Client, httpx.Response]:
    """Sign in through the provider; return the browser and the gateway's callback response."""
    browser = live_gateway.client()
    start = browser.get("/login/oidc", params={"next": "/t/acme/"})
    assert start.status_code == 302
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    callback = provider_sign_in(httpx.Client(timeout=30), authorize, login)
    return browser, browser.get(callback)


def test_sign_in_maps_groups_to_tenant_roles(live_gateway: LiveGateway) -> None:
    browser, done = sso_sign_in(live_gateway, "sso-editor")
    assert done.status_code == 303 and done.headers["location"] == "/t/acme/"
    assert "sso.editor@example.com" in browser.get("/").text
    wipe = "mutation { wipeAssets(assetPartitionRanges: []) { __typename } }"
    assert graphql(browser, "acme", wipe).status_code == 200  # acme-editors → editor
    assert graphql(browser, "globex", RUNS).status_code == 403


def test_group_viewer_and_member_by_email(live_gateway: LiveGateway) -> None:
    viewer, _ = sso_sign_in(live_gateway, "sso-viewer")
    launch = "mutation { launchRun(executionParams: {}) { __typename } }"
    assert graphql(viewer, "acme", launch).status_code == 403
    member, _ = sso_sign_in(live_gateway, "sso-member")  # members: sso.acme@example.com → launcher
    assert graphql(member, "acme", launch).status_code != 403


def test_owner_group_is_platform_owner(live_gateway: LiveGateway) -> None:
    owner, _ = sso_sign_in(live_gateway, "sso-owner")
    assert graphql(owner, "globex", RUNS).status_code == 200
    assert owner.get("/metrics").status_code == 200


@pytest.mark.parametrize("login", ["ada", "sso-unverified"])
def test_subject_or_unverified_email_does_not_grant_a_members_role(
    live_gateway: LiveGateway, login: str
) -> None:
    browser, done = sso_sign_in(live_gateway, login)
    assert done.status_code == 303
    assert graphql(browser, "acme", RUNS).status_code == 403
    assert "not a member of any tenant" in browser.get("/").text


@pytest.mark.parametrize(
    ("login", "email_verified"),
    [("sso-member", True), ("sso-unverified", False), ("sso-unstated", "absent"), ("sso-stringly", '"true"')],
)
def test_only_email_verified_true_lets_a_claimed_email_match_members(
    live_gateway: LiveGateway, login: str, email_verified: object
) -> None:
    """Attack: an IdP account claims a tenant member's e-mail (sso.acme@example.com, launcher of acme)
    without the provider vouching for it: ``email_verified`` false, absent or the string "true".
    Only the boolean ``true`` lets the e-mail match ``members``."""
    browser, done = sso_sign_in(live_gateway, login)
    assert done.status_code == 303
    expected = 200 if email_verified is True else 403
    assert graphql(browser, "acme", RUNS).status_code == expected, email_verified
    if email_verified is not True:
        assert "not a member of any tenant" in browser.get("/").text
        assert "sso.acme@example.com" not in browser.get("/").text  # not even shown as the user name


def test_replayed_state_is_rejected(live_gateway: LiveGateway) -> None:
    browser = live_gateway.client()
    start = browser.get("/login/oidc")
    callback = provider_sign_in(httpx.Client(timeout=30), start.headers["location"], "sso-viewer")
    assert browser.get(callback).status_code == 303
    replay = browser.get(callback)
    assert replay.status_code == 400 and "replayed" in replay.text


def test_state_from_another_browser_is_rejected(live_gateway: LiveGateway) -> None:
    victim, attacker = live_gateway.client(), live_gateway.client()
    start = attacker.get("/login/oidc")
    callback = provider_sign_in(httpx.Client(timeout=30), start.headers["location"], "sso-editor")
    victim.get("/login")  # the victim has a pre-auth cookie of their own
    forced = victim.get(callback)
    assert forced.status_code == 400 and "another browser" in forced.text
    assert "kf_session" not in victim.cookies


def test_made_up_state_and_provider_errors_are_rejected(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    assert client.get("/auth/callback", params={"state": "made-up", "code": "x"}).status_code == 400
    assert client.get("/auth/callback", params={"error": "access_denied"}).status_code == 400


# --- ID token validation, one check at a time, with the provider's real JWKS -----------------------
def _sign(claims: dict, key: dict, alg: str = "RS256", kid: str = "test-signing-key") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, claims, key).decode()


def _claims(live_gateway: LiveGateway, **overrides: object) -> dict:
    now = int(time.time())
    claims = {
        "iss": live_gateway.oidc.issuer,
        "aud": live_gateway.oidc.client_id,
        "sub": "sso-editor",
        "email": "sso.editor@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        "nonce": "expected-nonce",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _validate(live_gateway: LiveGateway, token: str, nonce: str = "expected-nonce"):  # type: ignore[no-untyped-def]
    return asyncio.run(live_gateway.gateway.oidc.validate_id_token(token, nonce))


def test_a_correct_token_is_accepted(live_gateway: LiveGateway) -> None:
    token = _sign(_claims(live_gateway), live_gateway.oidc.private_jwk)
    assert _validate(live_gateway, token).email == "sso.editor@example.com"


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "expired"),
        ({"aud": "some-other-client"}, "wrong audience"),
        ({"iss": "http://127.0.0.1:1/evil"}, "wrong issuer"),
        ({"nonce": "replayed-nonce"}, "nonce of another sign-in"),
        ({"nonce": None}, "no nonce"),
        ({"iat": None}, "no issued-at"),
    ],
)
def test_bad_claims_are_rejected(live_gateway: LiveGateway, overrides: dict, why: str) -> None:
    token = _sign(_claims(live_gateway, **overrides), live_gateway.oidc.private_jwk)
    with pytest.raises(OidcError):
        _validate(live_gateway, token)


def test_forged_signature_is_rejected(live_gateway: LiveGateway) -> None:
    forger = JsonWebKey.generate_key("RSA", 2048, is_private=True).as_dict(is_private=True)
    with pytest.raises(OidcError):
        _validate(live_gateway, _sign(_claims(live_gateway), forger))  # same kid, other key
    with pytest.raises(OidcError):
        _validate(live_gateway, _sign(_claims(live_gateway), forger, kid="unknown-kid"))
    genuine = _sign(_claims(live_gateway), live_gateway.oidc.private_jwk)
    header, payload, signature = genuine.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["email"] = "boss@example.com"
    forged_payload = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=").decode()
    with pytest.raises(OidcError):
        _validate(live_gateway, f"{header}.{forged_payload}.{signature}")


def test_alg_none_and_hmac_confusion_are_rejected(live_gateway: LiveGateway) -> None:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(live_gateway))}."
    with pytest.raises(OidcError):
        _validate(live_gateway, unsigned)
    # HS256 signed with the public key material as the secret (classic key confusion)
    public = {k: v for k, v in live_gateway.oidc.private_jwk.items() if k in ("kty", "n", "e")}
    hmac_token = jwt.encode(
        {"alg": "HS256", "kid": "test-signing-key"}, _claims(live_gateway), json.dumps(public)
    ).decode()
    with pytest.raises(OidcError):
        _validate(live_gateway, hmac_token)


def _reaches_callback_without_login(provider_browser: httpx.Client, authorize_url: str) -> bool:
    """Follow an authorization request at the provider: straight back to the gateway, or a login form?"""
    response = provider_browser.get(authorize_url, follow_redirects=False)
    for _ in range(10):
        if response.status_code not in (302, 303):
            return False  # a page: the provider asks the user to sign in (or consent) again
        location = urljoin(str(response.url), response.headers["location"])
        if "/auth/callback" in location:
            return True
        response = provider_browser.get(location, follow_redirects=False)
    raise AssertionError("provider kept redirecting")


def test_sign_out_ends_the_provider_session_too(live_gateway: LiveGateway) -> None:
    provider_browser = httpx.Client(timeout=30)  # the user's browser, as the provider sees it
    browser = live_gateway.client()
    start = browser.get("/login/oidc").headers["location"]
    assert browser.get(provider_sign_in(provider_browser, start, "sso-editor")).status_code == 303

    def authorize_url() -> str:  # a fresh SSO sign-in started at the gateway
        return live_gateway.client().get("/login/oidc").headers["location"]

    # While the provider session lives, another sign-in needs no password.
    assert _reaches_callback_without_login(provider_browser, authorize_url())

    out = browser.post("/logout", data={"csrf_token": page_csrf(browser.get("/").text)})
    assert out.status_code == 303
    end_session = out.headers["location"]
    assert end_session.startswith(live_gateway.oidc.issuer)
    query = parse_qs(urlsplit(end_session).query)
    assert query["client_id"] == [live_gateway.oidc.client_id]
    assert query["post_logout_redirect_uri"] == [live_gateway.url + "/login"]
    assert browser.get("/t/acme/graphql", params={"query": RUNS}).status_code == 401  # gateway: signed out

    confirm = provider_browser.get(end_session)  # the provider asks to confirm, then sends us back
    action, fields = page_form(confirm.text)
    done = provider_browser.post(urljoin(str(confirm.url), action), data={**fields, "logout": "yes"})
    assert done.status_code in (302, 303) and done.headers["location"] == live_gateway.url + "/login"
    assert not _reaches_callback_without_login(provider_browser, authorize_url())
