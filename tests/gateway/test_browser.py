"""Headless Chromium (Debian's package, driven by Playwright; no browser download) signs in through the
gateway, sees its tenant's Dagster UI, and as a viewer finds no usable launch button."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from .conftest import LiveGateway
from .helpers import PASSWORD

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("KLIKKFLOW_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def sign_in_and_open_asset(browser, live_gateway: LiveGateway, user: str):  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{live_gateway.url}/t/acme/assets/orders")
    page.wait_for_url(re.compile(r"/login\?next=/t/acme/assets/orders$"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/t/acme/assets/orders")
    page.get_by_text("orders_job").first.wait_for(timeout=60_000)  # the definition has loaded
    return page


def test_viewer_sees_the_ui_without_a_usable_launch_button(browser, live_gateway: LiveGateway) -> None:  # type: ignore[no-untyped-def]
    page = sign_in_and_open_asset(browser, live_gateway, "vera")
    assert "orders" in page.content()
    button = page.get_by_role("button", name="Materialize").first
    assert button.is_disabled()
    page.close()


def test_editor_gets_an_enabled_launch_button(browser, live_gateway: LiveGateway) -> None:  # type: ignore[no-untyped-def]
    page = sign_in_and_open_asset(browser, live_gateway, "edda")
    assert page.get_by_role("button", name="Materialize").first.is_enabled()
    page.close()


def test_dagster_ui_pages_stay_within_the_graphql_limits(browser, live_gateway: LiveGateway) -> None:  # type: ignore[no-untyped-def]
    """The real UI's queries (run list, asset graph, launchpad, automation) pass the document limits."""
    registry = live_gateway.gateway.metrics.registry
    labels = {"tenant": "acme", "reason": "too_costly"}
    before = registry.get_sample_value("klikkflow_gateway_denials_total", labels) or 0.0
    page = sign_in_and_open_asset(browser, live_gateway, "ada")
    queries: list[str] = []
    page.on("request", lambda request: queries.append(request.url) if "/graphql" in request.url else None)
    for path in ("runs", "asset-groups", "locations/acme/jobs/orders_job/playground", "automation"):
        page.goto(f"{live_gateway.url}/t/acme/{path}")
        page.wait_for_load_state("networkidle")
    page.close()
    assert any("LaunchpadRootQuery" in url for url in queries) and any(
        "RunsFeedRootQuery" in url for url in queries
    )
    assert (registry.get_sample_value("klikkflow_gateway_denials_total", labels) or 0.0) == before
