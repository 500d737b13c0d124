"""Attack: Dagster's GraphQL answers hand tenant users Python stack traces with server paths
(``PythonError.stack``, its causes and error chain, ``extensions.errorInfo.stack``). Only tenant
admins may see them; everyone else gets the messages without stacks."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from .conftest import LiveGateway
from .helpers import graphql, graphql_websocket

FAILURE_EVENTS = """query Failures($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent {
          error { message stack cause { message stack } errorChain { error { message stack } } }
        }
      }
    }
  }
}"""
BAD_LOG_KEY = '{ capturedLogs(logKey: ["..", "x"]) { stdout } }'


@dg.asset
def exploding() -> int:
    """Fails with a chained exception, so the error has a cause."""
    try:
        raise KeyError("inner-cause")
    except KeyError as error:
        raise ValueError("boom-in-tenant-code") from error


@pytest.fixture(scope="module")
def failed_run(live_gateway: LiveGateway) -> str:
    instance = live_gateway.gateway.workspaces["acme"].instance
    result = dg.materialize([exploding], instance=instance, raise_on_error=False)
    assert not result.success
    return result.run_id


def failure_errors(answer: dict) -> list[dict]:
    events = answer["data"]["logsForRun"]["events"]
    errors = [e["error"] for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
    assert errors, answer
    return errors


def all_stacks(error: dict) -> list[list[str]]:
    stacks = [error["stack"]]
    if error.get("cause"):
        stacks.append(error["cause"]["stack"])
    stacks += [link["error"]["stack"] for link in error.get("errorChain") or []]
    return stacks


@pytest.mark.parametrize("user", ["vera", "lars", "edda"])
def test_python_error_stacks_are_hidden_from_non_admins(
    live_gateway: LiveGateway, failed_run: str, user: str
) -> None:
    response = graphql(live_gateway.login(user), "acme", FAILURE_EVENTS, variables={"runId": failed_run})
    assert response.status_code == 200, response.text
    assert int(response.headers["content-length"]) == len(response.content)
    for error in failure_errors(response.json()):
        assert "boom-in-tenant-code" in json.dumps(error)  # the messages stay
        assert all(stack == [] for stack in all_stacks(error)), error
    assert 'File \\"' not in response.text and ".py" not in response.text


def test_python_error_stacks_are_kept_for_admins(live_gateway: LiveGateway, failed_run: str) -> None:
    for user in ("ada", "owner"):
        response = graphql(live_gateway.login(user), "acme", FAILURE_EVENTS, variables={"runId": failed_run})
        error = failure_errors(response.json())[0]
        stacks = all_stacks(error)
        assert all(stacks) and "test_error_stacks.py" in json.dumps(stacks)


def test_error_info_stack_of_graphql_errors_only_for_admins(live_gateway: LiveGateway) -> None:
    viewer = graphql(live_gateway.login("vera"), "acme", BAD_LOG_KEY)
    info = viewer.json()["errors"][0]["extensions"]["errorInfo"]
    assert info["stack"] == [] and "Invalid path" in info["message"]
    assert "site-packages" not in viewer.text
    admin = graphql(live_gateway.login("ada"), "acme", BAD_LOG_KEY)
    assert admin.json()["errors"][0]["extensions"]["errorInfo"]["stack"]


RUN_LOGS = """subscription Logs($runId: ID!) {
  pipelineRunLogs(runId: $runId) {
    __typename
    ... on PipelineRunLogsSubscriptionSuccess {
      messages { __typename ... on ExecutionStepFailureEvent { error { message stack cause { stack } } } }
    }
  }
}"""


def subscription_failure(live_gateway: LiveGateway, user: str, run_id: str) -> str:
    client = live_gateway.login(user)
    with graphql_websocket(live_gateway.url, client) as ws:
        payload = {"query": RUN_LOGS, "variables": {"runId": run_id}}
        ws.send(json.dumps({"type": "start", "id": "1", "payload": payload}))
        while True:
            frame = ws.recv(timeout=20)
            if "ExecutionStepFailureEvent" in frame:
                return frame


def test_websocket_error_stacks_only_for_admins(live_gateway: LiveGateway, failed_run: str) -> None:
    assert "test_error_stacks.py" in subscription_failure(live_gateway, "ada", failed_run)
    viewer = subscription_failure(live_gateway, "vera", failed_run)
    assert "Error occurred while executing" in viewer and ".py" not in viewer
