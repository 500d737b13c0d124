"""Members of tenant acme get 403 and no data on anything of globex: runs, logs, assets, schedules."""

from __future__ import annotations

import pytest

from .conftest import LiveGateway
from .helpers import graphql
from .test_rbac import LAUNCH, launch_params

QUERIES = {
    "runs": "{ runsOrError { ... on Runs { results { runId } } } }",
    "assets": "{ assetNodes { assetKey { path } } }",
    "schedules": """{ schedulesOrError(repositorySelector: {repositoryLocationName: "globex",
        repositoryName: "__repository__"}) { ... on Schedules { results { name } } } }""",
    "instance": "{ instance { info } }",
}


@pytest.fixture(scope="module")
def globex_run(live_gateway: LiveGateway) -> str:
    """A run launched in globex by its own admin."""
    response = graphql(live_gateway.login("gina"), "globex", LAUNCH, variables=launch_params("globex"))
    return response.json()["data"]["launchRun"]["run"]["runId"]


@pytest.mark.parametrize("what", list(QUERIES))
def test_graphql_of_another_tenant_is_forbidden(
    live_gateway: LiveGateway, globex_run: str, what: str
) -> None:
    for user in ("vera", "ada"):
        response = graphql(live_gateway.login(user), "globex", QUERIES[what])
        assert response.status_code == 403
        assert globex_run not in response.text
        assert "data" not in response.json()
    own = graphql(live_gateway.login("gina"), "globex", QUERIES[what])
    assert own.status_code == 200, own.text


def test_logs_downloads_and_pages_of_another_tenant_are_forbidden(
    live_gateway: LiveGateway, globex_run: str
) -> None:
    client = live_gateway.login("ada")
    for path in (
        f"/t/globex/runs/{globex_run}",
        f"/t/globex/download_debug/{globex_run}",
        f"/t/globex/logs/{globex_run}/compute_logs/stdout",
        "/t/globex/assets/orders",
        "/t/globex/overview/automation",
        "/t/globex/",
        "/t/globex/server_info",
    ):
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 403, path
        assert globex_run not in response.text and "dagster" not in response.text.lower()


def test_own_tenant_never_shows_the_other_tenants_runs(live_gateway: LiveGateway, globex_run: str) -> None:
    runs = graphql(live_gateway.login("ada"), "acme", QUERIES["runs"]).json()["data"]["runsOrError"][
        "results"
    ]
    assert globex_run not in {r["runId"] for r in runs}


def test_cross_tenant_attempts_are_audited(live_gateway: LiveGateway) -> None:
    graphql(live_gateway.login("vera"), "globex", QUERIES["runs"])
    entries = list(live_gateway.gateway.audit_logs["globex"].entries())
    assert any(e.actor == "vera" and e.action == "tenant.access" and e.outcome == "denied" for e in entries)


def test_unknown_tenant_looks_like_a_forbidden_one(live_gateway: LiveGateway) -> None:
    client = live_gateway.login("ada")
    assert graphql(client, "does-not-exist", QUERIES["runs"]).status_code == 403
    assert client.get("/").text.count("/t/") == 1  # the landing page lists only acme
