"""Detokenize is a capability of the gateway: only an authenticated admin of the tenant gets values back,
and only after the decision is in the tenant's audit log and compliance events (real gateway, real HTTP)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest
import sqlalchemy as sa

from compliance.crypto import tokenize_series
from compliance.events import read_events
from klikkflow_pipelines.gateway.detokenize_route import MAX_BODY, MAX_TOKENS
from klikkflow_pipelines.paths import PROJECT_ROOT
from resources.secrets import SecretsResource, local_token_public_key_file

from .conftest import LiveGateway
from .helpers import page_csrf

SSNS = ["536-90-4399", "772-43-2311", "Ærlig Ørn <ørn@example.no>"]
MASTER = "7a" * 32
URL = "/t/{tenant}/api/detokenize"


def run_tokens(live: LiveGateway, tenant: str, values: list[str]) -> list[str]:
    """Tokens as the tenant's run worker makes them: its master key and the public key the platform
    published into the tenant home (nothing else)."""
    public_file = local_token_public_key_file(live.home / "tenants" / tenant)
    secrets = SecretsResource(tenant_key=MASTER, token_public_key_file=str(public_file))
    keys = secrets.compliance_keys()
    return tokenize_series(pl.Series("v", values), keys.token_key, keys.token_public_key).to_list()


def csrf_of(client: httpx.Client) -> str:
    """The session's CSRF token, as the gateway's own pages embed it."""
    return page_csrf(client.get("/account/tokens").text)


def post(
    client: httpx.Client, tenant: str, body: object, csrf: str | None = None, **kwargs: object
) -> httpx.Response:
    headers = {"x-csrf-token": csrf} if csrf else {}
    return client.post(URL.format(tenant=tenant), json=body, headers=headers, **kwargs)


def audit_rows(live: LiveGateway, tenant: str) -> list[dict]:
    """The detokenize entries of the tenant's audit log (the one the gateway writes)."""
    log = live.gateway.audit_logs[tenant]
    return [e.as_record() for e in log.entries() if e.action.startswith("detokenize")]


def events(live: LiveGateway, tenant: str) -> list[dict]:
    """The detokenize rows of the tenant's ``compliance_events`` table."""
    engine = live.gateway.audit_logs[tenant].engine
    return [e for e in read_events(engine, tenant=tenant) if "detokenize" in e["action"]]


def admin_token(live_gateway: LiveGateway, user: str, tenant: str, role: str) -> str:
    """An API token created on the tokens page by ``user`` for ``tenant`` with ``role``."""
    client = live_gateway.login(user)
    created = client.post(
        "/account/tokens",
        data={"csrf_token": csrf_of(client), "name": "cli", "tenant": tenant, "role": role, "days": "30"},
    )
    assert created.status_code == 201, created.text
    return re.search(r'id="new-token">(kft_[^<]+)<', created.text).group(1)


def test_admin_session_gets_values_after_the_decision_is_audited(live_gateway: LiveGateway) -> None:
    tokens = run_tokens(live_gateway, "acme", SSNS)
    assert all(t.startswith("tok2_") for t in tokens)
    ada = live_gateway.login("ada")
    before_log, before_events = len(audit_rows(live_gateway, "acme")), len(events(live_gateway, "acme"))
    body = {"tokens": [*tokens, None, tokens[0]], "reason": "claim 42", "asset": "claims", "column": "ssn"}
    answer = post(ada, "acme", body, csrf_of(ada))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"values": [*SSNS, None, SSNS[0]]}
    assert answer.headers["cache-control"] == "no-store"
    entry = audit_rows(live_gateway, "acme")[before_log:]
    assert [(e["actor"], e["action"], e["outcome"], e["target"]) for e in entry] == [
        ("ada", "detokenize", "allowed", "claims/ssn")
    ]
    assert entry[0]["details"]["count"] == 5 and entry[0]["details"]["reason"] == "claim 42"
    event = events(live_gateway, "acme")[before_events:]
    assert [(e["actor"], e["action"], e["asset"], e["column"]) for e in event] == [
        ("ada", "detokenize", "claims", "ssn")
    ]
    assert SSNS[0] not in str(entry) + str(event)  # the audit holds the decision, never the values


@contextlib.contextmanager
def refusing_inserts(live: LiveGateway, tenant: str, table: str) -> Iterator[None]:
    """The tenant database refuses new rows in ``table`` (an audit store that is down or full)."""
    engine = live.gateway.audit_logs[tenant].engine
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TRIGGER refuse_{table}"))


@pytest.mark.parametrize("table", ["audit_log", "compliance_events"])
def test_no_value_leaves_when_the_audit_write_fails(live_gateway: LiveGateway, table: str) -> None:
    """Attack: detokenize while the audit store is failing, hoping values come back unrecorded."""
    tokens = run_tokens(live_gateway, "acme", SSNS)
    ada = live_gateway.login("ada")
    csrf = csrf_of(ada)
    post(ada, "acme", {"tokens": tokens[:1], "reason": "warm-up"}, csrf)  # both tables exist
    with refusing_inserts(live_gateway, "acme", table):
        answer = post(ada, "acme", {"tokens": tokens, "reason": "during outage"}, csrf)
    assert answer.status_code == 503, answer.text
    assert "nothing was decrypted" in answer.text
    assert not any(value in answer.text for value in SSNS)


@pytest.mark.parametrize("user", ["vera", "lars", "edda"])
def test_members_below_admin_are_refused_and_audited(live_gateway: LiveGateway, user: str) -> None:
    tokens = run_tokens(live_gateway, "acme", SSNS)
    client = live_gateway.login(user)
    answer = post(client, "acme", {"tokens": tokens, "reason": "curious"}, csrf_of(client))
    assert answer.status_code == 403 and "admin role" in answer.text
    assert not any(value in answer.text for value in SSNS)
    last_log, last_event = audit_rows(live_gateway, "acme")[-1], events(live_gateway, "acme")[-1]
    assert (last_log["actor"], last_log["action"], last_log["outcome"]) == (
        user,
        "detokenize_denied",
        "denied",
    )
    assert last_event["actor"] == user and last_event["details"]["reason"] == "curious"
    assert last_event["details"]["count"] == 3


def test_admin_of_another_tenant_is_refused_and_audited(live_gateway: LiveGateway) -> None:
    """Attack: globex's admin sends acme's tokens to acme's endpoint, and to globex's own."""
    tokens = run_tokens(live_gateway, "acme", SSNS)
    gina = live_gateway.login("gina")
    csrf = csrf_of(gina)
    answer = post(gina, "acme", {"tokens": tokens, "reason": "audit"}, csrf)
    assert answer.status_code == 403
    assert (
        audit_rows(live_gateway, "acme")[-1]["actor"] == "gina"
        and events(live_gateway, "acme")[-1]["action"] == "detokenize_denied"
    )
    # globex's admin on globex, with acme's tokens: globex's key does not open them
    foreign = post(
        gina,
        "globex",
        {"tokens": [run_tokens(live_gateway, "globex", ["x"])[0], tokens[0]], "reason": "r"},
        csrf,
    )
    assert foreign.status_code == 422, foreign.text
    assert "token 1: not made for this tenant's key" in foreign.text and SSNS[0] not in foreign.text
    last = audit_rows(live_gateway, "globex")[-2:]
    assert [(e["action"], e["outcome"]) for e in last] == [
        ("detokenize", "allowed"),
        ("detokenize_failed", "failure"),
    ]
    assert events(live_gateway, "globex")[-1]["action"] == "detokenize_failed"


def test_without_a_session_or_csrf_token_nothing_is_decrypted(live_gateway: LiveGateway) -> None:
    tokens = run_tokens(live_gateway, "acme", SSNS)
    anonymous = live_gateway.client().post(URL.format(tenant="acme"), json={"tokens": tokens, "reason": "r"})
    assert anonymous.status_code == 401
    ada = live_gateway.login("ada")
    # Attack: a page on another site (or a same-origin script without the token) posts with ada's cookie.
    same_origin = {"origin": live_gateway.url}
    for headers in ({}, same_origin, {**same_origin, "x-csrf-token": "forged"}):
        refused = ada.post(URL.format(tenant="acme"), json={"tokens": tokens, "reason": "r"}, headers=headers)
        assert refused.status_code == 403 and "CSRF" in refused.text, headers
    assert audit_rows(live_gateway, "acme")[-1]["details"]["why"].startswith("CSRF check failed")


def test_limits_and_required_reason(live_gateway: LiveGateway) -> None:
    tokens = run_tokens(live_gateway, "acme", SSNS)
    ada = live_gateway.login("ada")
    csrf = csrf_of(ada)
    assert post(ada, "acme", {"tokens": tokens, "reason": "  "}, csrf).status_code == 400
    assert post(ada, "acme", {"tokens": tokens}, csrf).status_code == 400
    assert post(ada, "acme", {"tokens": "tok2_x", "reason": "r"}, csrf).status_code == 400
    too_many = post(ada, "acme", {"tokens": [tokens[0]] * (MAX_TOKENS + 1), "reason": "bulk"}, csrf)
    assert too_many.status_code == 413 and str(MAX_TOKENS) in too_many.text
    huge = ada.post(
        URL.format(tenant="acme"),
        content=b'{"reason": "r", "tokens": ["' + b"A" * MAX_BODY + b'"]}',
        headers={"x-csrf-token": csrf, "content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert ada.get(URL.format(tenant="acme")).status_code == 405
    assert [e["details"]["why"][:20] for e in audit_rows(live_gateway, "acme")[-5:]] == [
        "reason: required (wh",
        "reason: required (wh",
        "tokens: must be a li",
        f"tokens: at most {MAX_TOKENS}"[:20],
        f"request body over {MAX_BODY}"[:20],
    ]


def cli(
    live_gateway: LiveGateway, *args: str, token: str | None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KLIKKFLOW_API_TOKEN"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    if token is not None:
        env["KLIKKFLOW_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "klikkflow_pipelines.cli", "detokenize", "--gateway", live_gateway.url, *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_cli_with_an_admin_api_token(live_gateway: LiveGateway, tmp_path: Path) -> None:
    tokens = run_tokens(live_gateway, "acme", SSNS)
    token = admin_token(live_gateway, "ada", "acme", "admin")
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n\n")
    done = cli(
        live_gateway, "--tenant", "acme", "--reason", "DSAR 7", "--token-file", str(token_file), token=token
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == SSNS
    last = audit_rows(live_gateway, "acme")[-1]
    assert (last["actor"], last["action"], last["details"]["reason"]) == ("ada", "detokenize", "DSAR 7")
    assert isinstance(last["details"]["token_id"], int)
    # the API token is read from the environment only, and errors say what to fix
    missing = cli(live_gateway, "--tenant", "acme", "--reason", "r", tokens[0], token=None)
    assert missing.returncode == 2 and "KLIKKFLOW_API_TOKEN is not set" in missing.stderr
    bad = cli(live_gateway, "--tenant", "acme", "--reason", "r", tokens[0], token="kft_not-a-token")
    assert bad.returncode == 1 and "HTTP 401" in bad.stderr
    editor = admin_token(live_gateway, "edda", "acme", "editor")
    refused = cli(live_gateway, "--tenant", "acme", "--reason", "r", tokens[0], token=editor)
    assert refused.returncode == 1 and "HTTP 403" in refused.stderr and "admin" in refused.stderr
    foreign = cli(
        live_gateway,
        "--tenant",
        "acme",
        "--reason",
        "r",
        run_tokens(live_gateway, "globex", ["x"])[0],
        token=token,
    )
    assert foreign.returncode == 1 and "HTTP 422" in foreign.stderr and "tenant acme" in foreign.stderr
    bulk = "\n".join([tokens[0]] * (MAX_TOKENS + 1))
    too_many = cli(
        live_gateway, "--tenant", "acme", "--reason", "r", "--token-file", "-", token=token, stdin=bulk
    )
    assert too_many.returncode == 1 and "HTTP 413" in too_many.stderr and "fewer tokens" in too_many.stderr
