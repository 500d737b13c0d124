"""The audit viewer at /audit/<tenant>: who may read which log, filters that are checked before they
reach the database, exports that neutralise spreadsheet formulas and are themselves audited, and
a GET that never writes."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import LiveGateway
from .helpers import PASSWORD, page_csrf, sign_in

HTML = {"accept": "text/html"}


def count_entries(live_gateway: LiveGateway, log: str) -> int:
    gw = live_gateway.gateway
    audit = gw.platform_audit if log == "platform" else gw.audit_logs[log]
    return sum(1 for _ in audit.entries())


def test_no_session_is_sent_to_sign_in_or_refused(live_gateway: LiveGateway) -> None:
    anonymous = live_gateway.client()
    page = anonymous.get("/audit/acme", headers=HTML)
    assert page.status_code == 302 and page.headers["location"] == "/login?next=/audit/acme"
    api = anonymous.get("/audit/acme", headers={"accept": "application/json"})
    assert api.status_code == 401 and api.json()["errors"][0]["message"] == "sign in first"
    assert anonymous.post("/audit/acme/export", data={"format": "csv"}).status_code == 401


@pytest.mark.parametrize("user", ["vera", "lars", "edda"])
def test_roles_below_admin_are_refused(live_gateway: LiveGateway, user: str) -> None:
    client = live_gateway.login(user)
    assert client.get("/audit/acme").status_code == 403
    assert client.get("/audit/acme", headers=HTML).status_code == 403
    export = client.post("/audit/acme/export", data={"csrf_token": page_csrf(client.get("/").text)})
    assert export.status_code == 403


def test_admin_of_another_tenant_learns_nothing(live_gateway: LiveGateway) -> None:
    gina = live_gateway.login("gina")  # admin of globex
    acme, nosuch = gina.get("/audit/acme", headers=HTML), gina.get("/audit/nosuch", headers=HTML)
    assert acme.status_code == nosuch.status_code == 403
    assert acme.text.replace("/audit/acme", "") == nosuch.text.replace("/audit/nosuch", "")
    assert gina.get("/audit/platform").status_code == 403  # the platform log is the owner's
    assert gina.get("/audit/globex", headers=HTML).status_code == 200
    assert live_gateway.login("ada").get("/audit/platform").status_code == 403
    assert live_gateway.login("owner").get("/audit/platform", headers=HTML).status_code == 200


def test_a_get_changes_nothing(live_gateway: LiveGateway) -> None:
    ada = live_gateway.login("ada")
    before = count_entries(live_gateway, "acme")
    for query in ("", "?actor=ada", "?outcome=denied&page=2"):
        assert ada.get(f"/audit/acme{query}", headers=HTML).status_code == 200
    assert count_entries(live_gateway, "acme") == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"actor": "x" * 1000}, "actor:"),
        ({"actor": "a\x00b"}, "actor:"),
        ({"action": "signin' OR 1=1 --"}, "action:"),
        ({"outcome": "maybe"}, "outcome:"),
        ({"from": "2026-13-45"}, "from:"),
        ({"to": "yesterday"}, "to:"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to:"),
        ({"from": "9" * 500}, "from:"),
        ({"page": "-1"}, "page:"),
        ({"page": "²"}, "page:"),
        ({"page": "9" * 5000}, "page:"),
    ],
)
def test_bad_filters_get_a_clear_400(live_gateway: LiveGateway, query: dict[str, str], field: str) -> None:
    ada = live_gateway.login("ada")
    page = ada.get("/audit/acme", params=query, headers=HTML)
    assert (
        page.status_code == 400 and field in page.text and "Fix:" in page.text and 'role="alert"' in page.text
    )
    api = ada.get("/audit/acme", params=query)
    assert api.status_code == 400 and api.json()["errors"][0]["message"].startswith(field)


def test_filters_are_values_not_patterns(live_gateway: LiveGateway) -> None:
    """Attack: LIKE wildcards and quotes in the actor filter match only themselves."""
    owner = live_gateway.login("owner")
    for actor in ("%", "_", "' OR '1'='1"):
        answer = owner.get("/audit/platform", params={"actor": actor})
        assert answer.status_code == 200
        assert all(actor in entry["actor"] for entry in answer.json()["entries"])
    ada_only = owner.get("/audit/platform", params={"actor": "ada", "action": "signin", "outcome": "success"})
    entries = ada_only.json()["entries"]
    assert entries and all(e["actor"] == "ada" and e["action"].startswith("signin") for e in entries)
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)
    future = owner.get("/audit/platform", params={"from": "2999-01-01"}).json()
    assert future["entries"] == [] and future["more"] is False


def test_export_needs_csrf_neutralises_formulas_and_is_audited(live_gateway: LiveGateway) -> None:
    """Attack: a user name that is a spreadsheet formula (a failed sign-in records it as the actor)."""
    formulas = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)"]
    for name in formulas:
        sign_in(live_gateway.client(), name, PASSWORD)
    owner = live_gateway.login("owner")
    assert owner.get("/audit/platform/export").status_code == 405  # no export by GET
    assert owner.post("/audit/platform/export", data={"format": "csv"}).status_code == 403  # no CSRF token
    csrf = page_csrf(owner.get("/audit/platform", headers=HTML).text)
    before = count_entries(live_gateway, "platform")
    answer = owner.post(
        "/audit/platform/export", data={"csrf_token": csrf, "format": "csv", "action": "signin.password"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith('attachment; filename="audit-platform-')
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    actors = {row["actor"] for row in rows}
    assert {"'" + name for name in formulas} <= actors
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert {row["action"] for row in rows} == {"signin.password"}
    assert count_entries(live_gateway, "platform") == before + 1
    recorded = owner.get("/audit/platform", params={"action": "audit.export"}).json()["entries"][0]
    assert recorded["actor"] == "owner" and recorded["details"]["entries"] == len(rows)
    as_json = owner.post(
        "/audit/platform/export", data={"csrf_token": csrf, "format": "json", "outcome": "failure"}
    )
    assert as_json.status_code == 200 and {e["outcome"] for e in as_json.json()} == {"failure"}
    bad = owner.post("/audit/platform/export", data={"csrf_token": csrf, "format": "xlsx"})
    assert bad.status_code == 400
