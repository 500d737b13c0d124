"""Attack: a launcher starts runs and the audit log keeps only the mutation name, so nobody can say
who launched which run. Launch, backfill and re-execution entries must hold the job, the run (or
backfill) id Dagster created, the tags and the asset selection."""

from __future__ import annotations

import json

import pytest

from .conftest import LiveGateway
from .helpers import graphql

LAUNCH = """mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  }
}"""
TERMINATE = "mutation Stop($id: String!) { terminateRun(runId: $id) { __typename } }"
REEXECUTE = """mutation Again($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  }
}"""
BACKFILL = """mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  }
}"""


def launches_by(live_gateway: LiveGateway, actor: str) -> list[dict]:
    entries = live_gateway.gateway.audit_logs["acme"].entries()
    return [
        {**json.loads(e.details), "target": e.target, "outcome": e.outcome}
        for e in entries
        if e.actor == actor and e.action == "run.launch"
    ]


@pytest.fixture(scope="module")
def launched_run(live_gateway: LiveGateway) -> str:
    params = {
        "selector": {
            "repositoryLocationName": "acme",
            "repositoryName": "__repository__",
            "jobName": "orders_job",
            "assetSelection": [{"path": ["orders"]}],
        },
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "ticket", "value": "AUD-1"}]},
    }
    response = graphql(live_gateway.login("lars"), "acme", LAUNCH, variables={"params": params})
    result = response.json()["data"]["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def test_launch_audit_names_job_run_tags_and_assets(live_gateway: LiveGateway, launched_run: str) -> None:
    instance = live_gateway.gateway.workspaces["acme"].instance
    run = instance.get_run_by_id(launched_run)
    assert run is not None and run.tags["ticket"] == "AUD-1"
    entry = next(e for e in launches_by(live_gateway, "lars") if launched_run in e["run_ids"])
    assert entry["mutation"] == "launchRun" and entry["outcome"] == "success"
    assert entry["job"] == "orders_job" == entry["target"] == run.job_name
    assert entry["run_ids"] == [launched_run]
    assert entry["tags"] == {"ticket": "AUD-1"}
    assert entry["asset_selection"] == ["orders"]


def test_reexecution_audit_names_the_new_run_and_its_parent(
    live_gateway: LiveGateway, launched_run: str
) -> None:
    launcher = live_gateway.login("lars")
    assert graphql(launcher, "acme", TERMINATE, variables={"id": launched_run}).status_code == 200
    params = {
        "parentRunId": launched_run,
        "strategy": "ALL_STEPS",
        "extraTags": [{"key": "why", "value": "retry"}],
    }
    response = graphql(launcher, "acme", REEXECUTE, variables={"params": params})
    result = response.json()["data"]["launchRunReexecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    new_run = live_gateway.gateway.workspaces["acme"].instance.get_run_by_id(result["run"]["runId"])
    assert new_run is not None and new_run.parent_run_id == launched_run
    entry = next(e for e in launches_by(live_gateway, "lars") if new_run.run_id in e["run_ids"])
    assert entry["mutation"] == "launchRunReexecution" and entry["run_ids"] == [new_run.run_id]
    assert entry["parent_run_id"] == launched_run and entry["strategy"] == "ALL_STEPS"
    assert entry["tags"]["why"] == "retry"


def test_backfill_audit_names_the_backfill_partitions_tags_and_assets(live_gateway: LiveGateway) -> None:
    params = {
        "assetSelection": [{"path": ["regional_orders"]}],
        "partitionNames": ["north", "south"],
        "tags": [{"key": "ticket", "value": "AUD-2"}],
    }
    response = graphql(live_gateway.login("edda"), "acme", BACKFILL, variables={"params": params})
    result = response.json()["data"]["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    backfill = live_gateway.gateway.workspaces["acme"].instance.get_backfill(result["backfillId"])
    assert backfill is not None
    entry = next(e for e in launches_by(live_gateway, "edda") if e.get("backfill_id") == result["backfillId"])
    assert entry["mutation"] == "launchPartitionBackfill" and entry["outcome"] == "success"
    assert entry["asset_selection"] == ["regional_orders"]
    assert entry["partitions"] == ["north", "south"] and entry["tags"] == {"ticket": "AUD-2"}
