"""How the rehearsal makes runs happen, each the way a user or a system outside would.

- **schedule**: nothing to do; the tenant's daemon fires ``operations_report_daily`` (every
  minute in the rehearsal) at the next minute; once its run exists, the tenant's member stops the
  schedule through the gateway, so it starts no more runs;
- **webhook**: a correctly signed ``POST /hooks/<tenant>/claims_processing`` to the gateway
  with the tenant's business date; the outbox sensor turns the event into a run;
- **file drop**: a sample onboarding CSV moved (atomically) into the tenant's onboarding inbox;
  the file-arrival sensor picks it up;
- **gateway launch**: the tenant's local account signs in to the gateway and launches
  ``operations_report_job`` through GraphQL (``launchRun``), as the UI does.

Each trigger says how to find its run in the tenant's instance (:class:`RunMatch`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from klikkflow_pipelines.events.signing import signed_headers
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.workflows.onboarding.sample_data import write_sample_drops
from sensors.outbox_events import EVENT_ID_TAG

SCHEDULE_TAG = "dagster/schedule_name"
SOURCE_FILE_TAG = "klikkflow/source_file"
LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}
"""
RUNS_QUERY = "{ runsOrError { __typename ... on Runs { results { runId jobName } } } }"
SCHEDULE_STATE = """
query State($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { __typename ... on Schedule { scheduleState { id status } } }
}
"""
STOP_SCHEDULE = """
mutation Stop($id: String) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


class TriggerFailed(RuntimeError):
    """A trigger was refused (its message holds the answer)."""


@dataclass(frozen=True)
class RunMatch:
    """How to find a trigger's run: its id, or tags it carries."""

    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Trigger:
    """One trigger fired (or awaited) for one tenant."""

    tenant: str
    kind: str
    job: str
    match: RunMatch


def business_date(tenant: TenantConfig) -> str:
    """Today in the tenant's time zone: the claims partition a webhook names."""
    return datetime.now(ZoneInfo(tenant.timezone)).date().isoformat()


def drop_file(inbox: Path, staging: Path) -> Path:
    """Move one sample onboarding CSV into ``inbox`` (written elsewhere first: the sensor never sees
    half a file); return its path in the inbox."""
    staging.mkdir(parents=True, exist_ok=True)
    sample = next(p for p in write_sample_drops(staging, drops=1, rows_per_drop=200) if p.suffix == ".csv")
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox / f"rehearsal_{sample.name}"
    shutil.copyfile(sample, staging / f".{target.name}.tmp")
    os.replace(staging / f".{target.name}.tmp", target)
    return target


def post_webhook(base_url: str, tenant: str, workflow: str, secret: str, payload: dict) -> str:
    """Send a signed event to the gateway's webhook route of ``workflow``; the accepted event's id."""
    body = json.dumps(payload).encode()
    answer = httpx.post(
        f"{base_url}/hooks/{tenant}/{workflow}",
        content=body,
        headers=signed_headers(secret.encode(), body),
        timeout=30,
    )
    if answer.status_code != 202:
        raise TriggerFailed(f"webhook {tenant}/{workflow} answered {answer.status_code}: {answer.text}")
    return answer.json()["event_id"]


def signed_in_client(base_url: str, username: str, password: str) -> httpx.Client:
    """An HTTP client with a gateway session of ``username`` (the sign-in form, with its CSRF token)."""
    client = httpx.Client(base_url=base_url, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or token is None:
        raise TriggerFailed(f"the gateway's sign-in page answered {page.status_code}")
    data = {"username": username, "password": password, "csrf_token": token.group(1), "next": "/"}
    answer = client.post("/login", data=data)
    if answer.status_code != 303 or "kf_session" not in client.cookies:
        raise TriggerFailed(f"signing in as {username} answered {answer.status_code}: {answer.text[:300]}")
    return client


def graphql(client: httpx.Client, tenant: str, query: str, variables: dict | None = None) -> httpx.Response:
    """POST a GraphQL document to ``tenant`` through the gateway, from the gateway's own origin."""
    origin = str(client.base_url).rstrip("/")
    return client.post(
        f"/t/{tenant}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"origin": origin},
    )


def gateway_launch(client: httpx.Client, tenant: str, job: str) -> str:
    """Launch ``job`` of the tenant's built-in location through the gateway; the new run's id."""
    selector = {"repositoryLocationName": tenant, "repositoryName": "__repository__", "jobName": job}
    answer = graphql(
        client, tenant, LAUNCH_RUN, {"executionParams": {"selector": selector, "mode": "default"}}
    )
    result = answer.json().get("data", {}) if answer.status_code == 200 else {}
    launched = (result or {}).get("launchRun") or {}
    if launched.get("__typename") != "LaunchRunSuccess":
        raise TriggerFailed(f"launchRun of {tenant}/{job} answered {answer.status_code}: {answer.text[:500]}")
    return launched["run"]["runId"]


def stop_schedule(client: httpx.Client, tenant: str, schedule: str) -> None:
    """Stop the tenant's ``schedule`` through the gateway (an editor's ``stopRunningSchedule``)."""
    selector = {
        "repositoryLocationName": tenant,
        "repositoryName": "__repository__",
        "scheduleName": schedule,
    }
    state = graphql(client, tenant, SCHEDULE_STATE, {"selector": selector}).json()
    state_id = ((state.get("data") or {}).get("scheduleOrError") or {}).get("scheduleState", {}).get("id")
    answer = graphql(client, tenant, STOP_SCHEDULE, {"id": state_id})
    stopped = (
        ((answer.json().get("data") or {}).get("stopRunningSchedule") or {})
        if answer.status_code == 200
        else {}
    )
    if stopped.get("__typename") != "ScheduleStateResult":
        raise TriggerFailed(
            f"stopping {tenant}/{schedule} answered {answer.status_code}: {answer.text[:500]}"
        )


def schedule_trigger(tenant: str, job: str, schedule: str) -> Trigger:
    """The schedule's next run (found by its schedule tag)."""
    return Trigger(tenant, "schedule", job, RunMatch(tags={SCHEDULE_TAG: schedule}))


def webhook_trigger(tenant: str, job: str, event_id: str) -> Trigger:
    """The run the outbox sensor makes of the event."""
    return Trigger(tenant, "webhook", job, RunMatch(tags={EVENT_ID_TAG: event_id}))


def drop_trigger(tenant: str, job: str, path: Path) -> Trigger:
    """The run the file-arrival sensor makes of the dropped file."""
    return Trigger(tenant, "file drop", job, RunMatch(tags={SOURCE_FILE_TAG: str(path)}))


def launch_trigger(tenant: str, job: str, run_id: str) -> Trigger:
    """The run launched through the gateway."""
    return Trigger(tenant, "gateway launch", job, RunMatch(run_id=run_id))
