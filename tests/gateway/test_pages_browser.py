"""Every gateway page in the real Chromium: sign-in (SSO button, first-run guidance), tenant list,
tokens, MFA enrolment with its QR code, the error pages, the tenant bar inside the Dagster UI (sign-out,
tenant switch) and the audit viewer (filter, export). With ``KLIKKFLOW_SCREENSHOTS=<dir>`` each page
is saved there as a PNG to look at."""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

import pyotp
import pytest

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.store import GatewayStore

from .conftest import LiveGateway
from .helpers import PASSWORD, enroll_totp

pytestmark = pytest.mark.browser
DAGSTER_LOAD = 60_000


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot when KLIKKFLOW_SCREENSHOTS names a directory."""
    directory = os.environ.get("KLIKKFLOW_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def signed_in(browser, url: str, user: str, next_path: str = "/"):  # type: ignore[no-untyped-def]
    """A new browser context's page, signed in with the sign-in form, at ``next_path``."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{url}/login?next={next_path}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}{next_path}")
    return page


def test_sign_in_page_shows_the_sso_button(browser, live_gateway: LiveGateway, variant_gateway) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{live_gateway.url}/login")
    assert page.get_by_role("link", name="Sign in with single sign-on").is_visible()
    assert page.locator("#first-run").count() == 0  # accounts exist
    shot(page, "signin")
    named = live_gateway.gateway.settings.oidc.model_copy(update={"display_name": "Example ID"})
    with variant_gateway(oidc=named) as variant:
        page.goto(f"{variant.url}/login")
        assert page.get_by_role("link", name="Sign in with Example ID").is_visible()
        shot(page, "signin-named-sso")
    page.close()


def test_first_run_guidance_without_accounts_or_sso(
    browser, live_gateway: LiveGateway, serve_app, free_port, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    gw = live_gateway.gateway
    database = f"sqlite:///{tmp_path / 'empty.db'}"
    settings = gw.settings.model_copy(update={"oidc": None, "database_url": database})
    empty = Gateway(settings, gw.tenants, {}, {}, GatewayStore(database))
    with serve_app(empty, free_port()) as url:
        page = browser.new_page()
        page.goto(f"{url}/login")
        command = page.locator("#first-run-command").inner_text()
        assert command.startswith("klikkflow gateway add-user ") and "--owner" in command
        assert page.get_by_role("link", name=re.compile("Sign in with")).count() == 0
        shot(page, "signin-first-run")
        page.close()


def test_home_lists_tenants_with_roles_and_links(browser, live_gateway: LiveGateway) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, live_gateway.url, "owner")
    items = page.locator("#tenants li")
    assert items.count() == 2
    assert "Acme Corp" in items.nth(0).inner_text() and "admin" in items.nth(0).inner_text()
    assert page.locator("#user").inner_text() == "owner"
    assert page.get_by_role("link", name="Acme Corp").get_attribute("href") == "/t/acme/"
    shot(page, "home")
    page.set_viewport_size({"width": 390, "height": 800})
    shot(page, "home-narrow")
    page.context.close()


def test_tokens_page_creates_and_shows_a_token(browser, live_gateway: LiveGateway) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, live_gateway.url, "lars", "/account/tokens")
    page.fill("#token-name", "nightly export")
    page.select_option("#token-role", "launcher")
    page.get_by_role("button", name="Create").click()
    assert page.locator("#new-token").inner_text().startswith("kft_")
    assert page.get_by_role("cell", name="nightly export").count() >= 1
    shot(page, "tokens")
    page.context.close()


def test_mfa_enrolment_shows_a_qr_code_and_completes(browser, live_gateway: LiveGateway) -> None:  # type: ignore[no-untyped-def]
    live_gateway.gateway.accounts.create_user("quinn", PASSWORD)
    page = signed_in(browser, live_gateway.url, "quinn", "/account/mfa")
    qr = page.locator("#totp-qr svg")
    assert qr.count() == 1 and qr.bounding_box()["width"] >= 120
    key = page.locator("#totp-key").inner_text().replace(" ", "")
    assert key in page.locator("#totp-uri").text_content()
    shot(page, "mfa-enrol")
    page.fill("#code", pyotp.TOTP(key).at(time.time()))
    page.get_by_role("button", name="Turn on").click()
    assert page.locator("#recovery-codes code").count() == 10
    shot(page, "mfa-recovery-codes")
    page.context.close()
    again = browser.new_page()
    again.goto(f"{live_gateway.url}/login")
    again.fill("#username", "quinn")
    again.fill("#password", PASSWORD)
    again.get_by_role("button", name="Sign in").click()
    again.wait_for_url("**/login/mfa")
    again.fill("#code", "000000")
    again.get_by_role("button", name="Verify").click()
    assert again.get_by_role("alert").inner_text() == "Wrong code."
    shot(again, "mfa-code-step")
    again.close()
    live_gateway.gateway.accounts.create_user("rhea", PASSWORD)
    _, codes = enroll_totp(live_gateway.login("rhea"))  # the pages' markup still serves the helper
    assert len(codes) == 10


def test_error_pages(browser, live_gateway: LiveGateway, variant_gateway, serve_app, free_port) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, live_gateway.url, "vera")
    page.goto(f"{live_gateway.url}/t/globex/runs")
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    assert page.get_by_role("link", name="Back to your tenants").is_visible()
    shot(page, "error-403")
    page.goto(f"{live_gateway.url}/no-such-page")
    assert page.get_by_role("heading", name="Page not found").is_visible()
    shot(page, "error-404")
    anonymous = browser.new_page()
    anonymous.goto(f"{live_gateway.url}/metrics")
    assert anonymous.get_by_role("heading", name="Sign in required").is_visible()
    assert anonymous.get_by_role("link", name="Sign in").get_attribute("href") == "/login?next=/metrics"
    shot(anonymous, "error-401")
    anonymous.close()
    cookies = page.context.cookies()
    with variant_gateway(rate_per_user=0.01, burst_per_user=1.0) as slow:
        limited = browser.new_context()
        limited.add_cookies([{**c, "domain": "127.0.0.1"} for c in cookies])
        tab = limited.new_page()
        tab.goto(f"{slow.url}/t/acme/no-page")  # takes the one request of the burst
        tab.goto(f"{slow.url}/t/acme/runs")
        assert tab.get_by_role("heading", name="Too many requests").is_visible()
        assert int(tab.locator("#retry-after").inner_text()) >= 1
        shot(tab, "error-429")
        limited.close()

    async def failing_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("the tenant app failed")

    gw = live_gateway.gateway
    crashing = Gateway(gw.settings, gw.tenants, {"acme": failing_app}, gw.audit_logs, gw.store)
    with serve_app(crashing, free_port()) as url:
        page.goto(f"{url}/t/acme/runs")
        assert page.get_by_role("heading", name="Something went wrong").is_visible()
        assert "the tenant app failed" not in page.content()
        shot(page, "error-500")
    page.context.close()


def test_tenant_bar_in_the_dagster_ui_switches_tenant_and_signs_out(
    browser, live_gateway: LiveGateway
) -> None:  # type: ignore[no-untyped-def]
    url = live_gateway.url
    page = signed_in(browser, url, "owner", "/t/acme/runs")
    page.get_by_role("link", name="Runs").first.wait_for(timeout=DAGSTER_LOAD)
    bar = page.locator("#klikkflow-bar")
    assert bar.is_visible()
    assert page.locator("#kf-tenant").inner_text() == "Acme Corp"
    assert page.locator("#kf-user").inner_text() == "owner"
    assert page.locator("#kf-role").inner_text() == "admin"
    # Dagster's own navigation stays visible: the element at the centre of its Runs link is the link
    nav = page.get_by_role("link", name="Runs").first.bounding_box()
    assert nav is not None and nav["y"] + nav["height"] <= bar.bounding_box()["y"]
    shot(page, "dagster-bar")
    page.locator("#kf-switch summary").click()
    shot(page, "dagster-bar-switch-open")
    page.locator("#kf-switch").get_by_role("link", name="Globex").click()
    page.wait_for_url(f"{url}/t/globex/")
    assert page.locator("#kf-tenant").inner_text() == "Globex"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{url}/login")
    page.goto(f"{url}/t/globex/runs")
    page.wait_for_url(re.compile(r"/login\?next=/t/globex/runs$"))  # the session has ended
    page.context.close()


def test_audit_viewer_filters_and_exports(browser, live_gateway: LiveGateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    live_gateway.login("vera").post("/t/acme/some/form", headers={"origin": live_gateway.url})  # denied
    page = signed_in(browser, live_gateway.url, "ada", "/audit/acme")
    assert page.locator("#audit-entries tbody tr").count() >= 1
    assert "intact" in page.locator("#chain-status").inner_text()
    page.fill("#f-actor", "vera")
    page.select_option("#f-outcome", "denied")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"actor=vera"))
    rows = page.locator("#audit-entries tbody tr")
    assert rows.count() >= 1
    assert all("vera" in rows.nth(i).inner_text() for i in range(rows.count()))
    shot(page, "audit-viewer")
    page.fill("#f-from", "not a date")
    page.get_by_role("button", name="Apply").click()
    assert "from: 'not a date' is not a date" in page.get_by_role("alert").inner_text()
    assert page.locator("#f-from").input_value() == "not a date"  # kept in the form to fix
    shot(page, "audit-viewer-bad-filter")
    page.fill("#f-from", "")
    page.get_by_role("button", name="Apply").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.open()))
    assert rows and {row["actor"] for row in rows} == {"vera"} and {r["outcome"] for r in rows} == {"denied"}
    page.context.close()
