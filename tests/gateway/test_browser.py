"""Headless Chromium (Debian's package, driven by Playwright; no browser download) signs in through the
gateway, sees its tenant's Dagster UI, and as a viewer finds no usable launch button. Pages of another
site (another loopback origin) try to turn MFA off with a link and to frame the sign-in page."""

from __future__ import annotations

import re
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .conftest import LiveGateway
from .helpers import PASSWORD, enroll_totp, sign_in

pytestmark = pytest.mark.browser


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


@pytest.fixture
def other_site(free_port, serve_app):  # type: ignore[no-untyped-def]
    """``other_site(html)``: the URL of a page with ``html`` on another site (``localhost``, own port)."""
    pages: dict[str, str] = {}

    async def page(request):  # type: ignore[no-untyped-def]
        return HTMLResponse(pages.get(request.path_params["name"], "<p id=inner>inner</p>"))

    port = free_port()
    with serve_app(Starlette(routes=[Route("/{name}", page)]), port):

        def publish(html: str) -> str:
            name = f"p{len(pages)}"
            pages[name] = html
            return f"http://localhost:{port}/{name}"

        yield publish


def test_a_link_from_another_site_does_not_turn_mfa_off(  # type: ignore[no-untyped-def]
    browser, live_gateway: LiveGateway, other_site
) -> None:
    """Attack: the victim, signed in, follows a link on another site to /account/mfa (SameSite=Lax
    cookies go along on a top-level GET); the old page re-generated the secret and disabled MFA."""
    live_gateway.gateway.accounts.create_user("bea", PASSWORD)
    totp, _ = enroll_totp(live_gateway.login("bea"))
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_gateway.url}/login")
    page.fill("input[name=username]", "bea")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/mfa")
    page.fill("input[name=code]", totp.at(time.time()))
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_gateway.url}/")
    page.goto(other_site(f'<a id="prize" href="{live_gateway.url}/account/mfa">You won!</a>'))
    page.click("#prize")
    page.wait_for_url("**/account/mfa")
    assert page.get_by_text("Two-factor sign-in").count() >= 1  # opened in the victim's session
    context.close()
    after = sign_in(live_gateway.client(), "bea", PASSWORD)
    assert after.status_code == 303 and after.headers["location"] == "/login/mfa"  # MFA still enforced


def test_another_site_cannot_frame_the_sign_in_page(  # type: ignore[no-untyped-def]
    browser, live_gateway: LiveGateway, other_site
) -> None:
    """Attack: clickjacking, the sign-in page in an invisible frame over the attacker's own page."""
    context = browser.new_context()
    page = context.new_page()
    own = other_site("<p id=inner>inner</p>")
    frames = f'<iframe id="own" src="{own}"></iframe><iframe id="gw" src="{live_gateway.url}/login"></iframe>'
    page.goto(other_site(frames))
    page.wait_for_load_state("load")
    assert page.frame_locator("#own").locator("#inner").count() == 1  # frames load on this page at all
    gateway_frame = page.query_selector("#gw").content_frame()
    assert gateway_frame is not None
    assert gateway_frame.query_selector("input[name=password]") is None  # the browser refused to show it
    context.close()


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
