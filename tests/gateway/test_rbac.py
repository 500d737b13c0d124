"""Every mutation of Dagster's GraphQL schema, for every role, over HTTP and websocket: only the
mutations the role allows get through; Dagster itself reports the role's permission set."""

from __future__ import annotations

import json

import pytest
from dagster_graphql.schema import create_schema
from websockets.sync.client import connect

from klikkflow_pipelines.gateway.graphql_authz import MUTATION_ROLES
from klikkflow_pipelines.gateway.roles import RANK

from .conftest import LiveGateway
from .helpers import graphql, graphql_websocket

ROLE_USERS = {"viewer": "vera", "launcher": "lars", "editor": "edda", "admin": "ada"}
MUTATIONS = sorted(create_schema().graphql_schema.mutation_type.fields)


def probe(field: str) -> str:
    """A document with one mutation field that Dagster rejects at validation (an undeclared
    variable type), so allowed mutations pass the gateway without changing anything."""
    return f"mutation Probe($unused: KlikkflowNoSuchType) {{ {field} {{ __typename }} }}"


def gateway_denied(status: int, body: str) -> bool:
    return status == 403 and "forbidden" in body


@pytest.mark.parametrize("role", [*ROLE_USERS, "owner"])
def test_http_mutations_per_role(live_gateway: LiveGateway, role: str) -> None:
    client = live_gateway.login(ROLE_USERS.get(role, "owner"))
    effective = "admin" if role == "owner" else role
    for field in MUTATIONS:
        response = graphql(client, "acme", probe(field))
        allowed = RANK[MUTATION_ROLES[field]] <= RANK[effective]
        if allowed:
            assert response.status_code == 400, (field, role, response.text)  # Dagster's own validation
            assert "KlikkflowNoSuchType" in response.text
        else:
            assert gateway_denied(response.status_code, response.text), (field, role, response.text)
            assert "data" not in response.json()


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_websocket_mutations_per_role(live_gateway: LiveGateway, role: str) -> None:
    client = live_gateway.login(ROLE_USERS[role])
    with graphql_websocket(live_gateway.url, client) as ws:
        for index, field in enumerate(MUTATIONS):
            ws.send(json.dumps({"type": "start", "id": str(index), "payload": {"query": probe(field)}}))
            reply = json.loads(ws.recv(timeout=10))
            assert reply["id"] == str(index)
            text = json.dumps(reply["payload"])
            if RANK[MUTATION_ROLES[field]] <= RANK[role]:
                assert "KlikkflowNoSuchType" in text, (field, role, reply)
            else:
                assert reply["type"] == "error" and "forbidden" in text, (field, role, reply)


def test_websocket_from_another_origin_is_refused(live_gateway: LiveGateway) -> None:
    from websockets.exceptions import InvalidStatus

    client = live_gateway.login("ada")
    url = live_gateway.url.replace("http", "ws") + "/t/acme/graphql"
    with pytest.raises(InvalidStatus):
        connect(
            url,
            subprotocols=["graphql-ws"],
            origin="https://evil.example",
            additional_headers={"cookie": f"kf_session={client.cookies['kf_session']}"},
            open_timeout=10,
        )


PERMISSIONS_QUERY = "{ permissions { permission value } }"


@pytest.mark.parametrize(
    ("role", "enabled", "disabled"),
    [
        ("viewer", set(), {"launch_pipeline_execution", "terminate_pipeline_execution", "start_schedule"}),
        (
            "launcher",
            {"launch_pipeline_execution", "terminate_pipeline_execution"},
            {"start_schedule", "edit_sensor", "wipe_assets"},
        ),
        (
            "editor",
            {"launch_pipeline_execution", "start_schedule", "edit_sensor", "wipe_assets"},
            {"edit_concurrency_limit"},
        ),
        ("admin", {"launch_pipeline_execution", "start_schedule", "edit_concurrency_limit"}, set()),
    ],
)
def test_dagster_reports_the_role_permission_set(
    live_gateway: LiveGateway, role: str, enabled: set[str], disabled: set[str]
) -> None:
    client = live_gateway.login(ROLE_USERS[role])
    data = graphql(client, "acme", PERMISSIONS_QUERY).json()["data"]["permissions"]
    values = {p["permission"]: p["value"] for p in data}
    assert {p for p in enabled if values[p]} == enabled
    assert {p for p in disabled if not values[p]} == disabled
    if role == "viewer":
        assert not any(values.values())


LAUNCH = """mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) { __typename ... on LaunchRunSuccess { run { runId } } }
}"""


def launch_params(tenant: str) -> dict:
    selector = {"repositoryLocationName": tenant, "repositoryName": "__repository__", "jobName": "orders_job"}
    return {"params": {"selector": selector, "runConfigData": {}}}


def test_launcher_really_launches_and_viewer_cannot(live_gateway: LiveGateway) -> None:
    launcher = live_gateway.login("lars")
    response = graphql(launcher, "acme", LAUNCH, variables=launch_params("acme"))
    assert response.status_code == 200, response.text
    result = response.json()["data"]["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    viewer = live_gateway.login("vera")
    denied = graphql(viewer, "acme", LAUNCH, variables=launch_params("acme"))
    assert denied.status_code == 403
    runs = graphql(viewer, "acme", "{ runsOrError { ... on Runs { results { runId } } } }").json()
    assert run_id in {r["runId"] for r in runs["data"]["runsOrError"]["results"]}
    audit = [e for e in live_gateway.gateway.audit_logs["acme"].entries() if e.action == "graphql.mutation"]
    assert any(e.actor == "lars" and e.target == "launchRun" and e.outcome == "allowed" for e in audit)
    assert any(e.actor == "vera" and e.target == "launchRun" and e.outcome == "denied" for e in audit)


def test_editor_starts_a_schedule_launcher_cannot(live_gateway: LiveGateway) -> None:
    query = """mutation Start($s: ScheduleSelector!) {
      startSchedule(scheduleSelector: $s) {
        __typename ... on ScheduleStateResult { scheduleState { status } }
      }
    }"""
    selector = {
        "repositoryLocationName": "acme",
        "repositoryName": "__repository__",
        "scheduleName": "orders_daily",
    }
    assert graphql(live_gateway.login("lars"), "acme", query, variables={"s": selector}).status_code == 403
    response = graphql(live_gateway.login("edda"), "acme", query, variables={"s": selector})
    assert response.json()["data"]["startSchedule"]["scheduleState"]["status"] == "RUNNING", response.text


def test_mutation_via_get_or_form_encoding_is_still_authorized(live_gateway: LiveGateway) -> None:
    viewer = live_gateway.login("vera")
    query = "mutation { wipeAssets(assetPartitionRanges: []) { __typename } }"
    origin = {"origin": live_gateway.url}
    assert viewer.get("/t/acme/graphql", params={"query": query}, headers=origin).status_code == 403
    as_text = viewer.post(
        "/t/acme/graphql",
        params={"query": query},
        content=b"x",
        headers={**origin, "content-type": "text/plain"},
    )
    assert as_text.status_code == 403
    graphql_body = viewer.post(
        "/t/acme/graphql", content=query.encode(), headers={**origin, "content-type": "application/graphql"}
    )
    assert graphql_body.status_code == 403
    batched = viewer.post("/t/acme/graphql", json=[{"query": query}], headers=origin)
    assert batched.status_code == 400


@pytest.mark.parametrize("path", ["/t/acme/graphql/", "/t/acme//graphql", "/t/acme/graphql//"])
def test_path_variants_of_the_endpoint_are_authorized_too(live_gateway: LiveGateway, path: str) -> None:
    viewer = live_gateway.login("vera")
    query = "mutation { wipeAssets(assetPartitionRanges: []) { __typename } }"
    response = viewer.post(path, json={"query": query}, headers={"origin": live_gateway.url})
    assert response.status_code == 403
