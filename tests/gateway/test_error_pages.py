"""Error answers by client: a browser navigation (Accept: text/html) gets an HTML page with a plain
explanation and a way back; API clients (JSON Accept, GraphQL, Bearer tokens) get what they got
before. And the tenant bar goes into the Dagster UI's HTML document only, escaped."""

from __future__ import annotations

import re

import httpx

from klikkflow_pipelines.gateway.principal import Principal
from klikkflow_pipelines.gateway.tenant_bar import bar_html

from .conftest import LiveGateway
from .helpers import graphql, page_csrf

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"accept": "application/json"}


def is_page(answer: httpx.Response, status: int, *texts: str) -> bool:
    body = answer.text
    return (
        answer.status_code == status
        and answer.headers["content-type"].startswith("text/html")
        and f'data-status="{status}"' in body
        and 'href="/"' in body
        and all(text in body for text in texts)
    )


def test_unknown_page_is_a_page_for_a_browser_and_text_for_others(live_gateway: LiveGateway) -> None:
    client = live_gateway.client()
    assert is_page(client.get("/no-such-page", headers=HTML), 404, "Page not found")
    plain = client.get("/no-such-page")
    assert plain.status_code == 404 and plain.text == "Not Found"


def test_wrong_tenant_wrong_role_and_no_session_as_pages(live_gateway: LiveGateway) -> None:
    vera = live_gateway.login("vera")  # viewer of acme only
    other = vera.get("/t/globex/runs", headers=HTML)
    assert is_page(other, 403, "Not allowed", "no access to this tenant", 'id="user">vera<')
    nosuch = vera.get("/t/nosuch/runs", headers=HTML)  # the same answer: no tenant's existence leaks
    assert nosuch.status_code == 403 and nosuch.text.replace("nosuch", "globex") == other.text
    write = vera.post("/t/acme/some/form", headers={**HTML, "origin": live_gateway.url})
    assert is_page(write, 403, "requires the editor role")
    anonymous = live_gateway.client().post("/t/acme/some/form", headers=HTML)
    assert is_page(anonymous, 401, "Sign in required", 'href="/login?next=/t/acme/some/form"')
    metrics = live_gateway.client().get("/metrics", headers=HTML)
    assert is_page(metrics, 401, "Sign in required")
    csrf = live_gateway.client().post("/login", headers=HTML, data={"username": "vera"})
    assert is_page(csrf, 403, "CSRF check failed")


def test_api_clients_keep_json_and_text(live_gateway: LiveGateway) -> None:
    """JSON Accept, GraphQL paths (whatever the Accept) and Bearer tokens keep the JSON errors."""
    vera = live_gateway.login("vera")
    for answer in (
        vera.get("/t/globex/runs", headers=JSON),
        vera.get("/t/globex/graphql?query={__typename}", headers=HTML),
        graphql(vera, "globex", "{ __typename }"),
        live_gateway.client().get("/t/acme/runs", headers={**HTML, "authorization": "Bearer kft_nope"}),
    ):
        assert answer.status_code in (401, 403), answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["errors"][0]["message"] in ("you have no access to this tenant", "sign in first")
    assert live_gateway.client().post("/login", data={}).text.startswith("CSRF check failed")


def test_rate_limited_browser_gets_a_page_with_retry_after(
    live_gateway: LiveGateway, variant_gateway
) -> None:  # type: ignore[no-untyped-def]
    cookies = live_gateway.login("lars").cookies
    with variant_gateway(rate_per_user=0.01, burst_per_user=1.0) as slow:
        client = slow.client(cookies=cookies)
        assert client.get("/t/acme/graphql?query={__typename}").status_code == 200
        page = client.get("/t/acme/runs", headers=HTML)
        api = client.get("/t/acme/runs", headers=JSON)
    assert is_page(page, 429, "Too many requests", 'id="retry-after">')
    assert int(page.headers["retry-after"]) >= 1
    assert api.status_code == 429 and api.json()["errors"][0]["message"] == "rate limit exceeded"


def test_a_crash_is_a_page_without_the_error(live_gateway: LiveGateway, serve_app, free_port) -> None:  # type: ignore[no-untyped-def]
    """Attack: make a tenant's app fail; the page must say so without the exception or a trace."""
    from klikkflow_pipelines.gateway.app import Gateway

    async def failing_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail of the failure")

    gw = live_gateway.gateway
    crashing = Gateway(gw.settings, gw.tenants, {"acme": failing_app}, gw.audit_logs, gw.store)
    with serve_app(crashing, free_port()) as url:
        answer = httpx.get(f"{url}/t/acme/runs", cookies=live_gateway.login("vera").cookies, headers=HTML)
    assert is_page(answer, 500, "Something went wrong")
    assert (
        "secret detail" not in answer.text
        and "Traceback" not in answer.text
        and "RuntimeError" not in answer.text
    )


def test_the_tenant_bar_is_in_the_ui_document_only(live_gateway: LiveGateway) -> None:
    ada = live_gateway.login("ada")
    page = ada.get("/t/acme/runs", headers=HTML)
    assert page.status_code == 200 and int(page.headers["content-length"]) == len(page.content)
    bar = re.search(r'<div id="klikkflow-bar".*?</div>', page.text, re.S)
    assert bar, page.text[:500]
    assert 'id="kf-tenant">Acme Corp<' in bar.group(0) and 'id="kf-role">admin<' in bar.group(0)
    assert page_csrf(bar.group(0)) == page_csrf(ada.get("/").text)  # the sign-out form's token
    assert '<div id="__next">' in page.text  # Dagster's document is otherwise intact
    script = re.search(r'src="(/t/acme/_next/static/[^"]+\.js)"', page.text).group(1)
    asset = ada.get(script, headers={"accept": "*/*"})
    assert asset.status_code == 200 and b"klikkflow-bar" not in asset.content
    assert "klikkflow-bar" not in ada.get("/t/acme/runs", headers=JSON).text
    assert "klikkflow-bar" not in graphql(ada, "acme", "{ __typename }").text


def test_tenant_and_user_names_in_the_bar_are_escaped() -> None:
    """Attack: markup in a tenant name (tenant file) or an SSO user name (identity provider)."""
    evil = '<img src=x onerror="alert(1)">'
    principal = Principal(username=evil, roles={"acme": "admin", "globex": "viewer"})
    html = bar_html(principal, "acme", {"acme": evil, "globex": "</summary><script>x()</script>"})
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
