"""Webhook paths name a tenant's workflow (its job's name is an alias), over real HTTP (uvicorn).

The resolver is the gateway's (:class:`TenantWebhooks` over tenant configs and
``events/<tenant>.yaml``); the attacks: unknown names, another tenant's
workflow, a signature made with another workflow's secret, and 404 answers that
do not tell which tenants or workflows exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.events.routing import TenantWebhooks, webhook_names
from klikkflow_pipelines.events.signing import secret_env_name, signed_headers
from klikkflow_pipelines.events.webhook_app import create_webhook_app
from klikkflow_pipelines.tenancy.config import TenantConfig, WorkflowSettings
from klikkflow_pipelines.tenancy.storage import create_storage_engine

ONBOARDING_SECRET = b"acme-onboarding-secret"
CLAIMS_SECRET = b"acme-claims-secret"
GLOBEX_SECRET = b"globex-claims-secret"


def _tenant(tenant_id: str, *workflows: str, disabled: tuple[str, ...] = ()) -> TenantConfig:
    settings = {w: WorkflowSettings() for w in workflows}
    settings |= {w: WorkflowSettings(enabled=False) for w in disabled}
    return TenantConfig(id=tenant_id, name=tenant_id.title(), workflows=settings)


TENANTS = {
    "acme": _tenant(
        "acme", "customer_onboarding", "claims_processing", "operations_report", disabled=("disabled_flow",)
    ),
    "globex": _tenant("globex", "claims_processing", "fraud_review"),
}


@pytest.fixture
def hooks(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, serve_app
) -> Iterator[tuple[str, Outbox, Path]]:
    """The webhook app as the gateway builds it, for acme and globex; the events config dir is empty."""
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tmp_path / "tenants"))
    (tmp_path / "tenants" / "events").mkdir(parents=True)
    monkeypatch.setenv(secret_env_name("acme", "customer_onboarding"), ONBOARDING_SECRET.decode())
    monkeypatch.setenv(secret_env_name("acme", "claims_processing"), CLAIMS_SECRET.decode())
    monkeypatch.setenv(secret_env_name("globex", "claims_processing"), GLOBEX_SECRET.decode())
    monkeypatch.setenv(secret_env_name("globex", "fraud_review"), "globex-fraud-secret")
    monkeypatch.setenv(secret_env_name("acme", "disabled_flow"), "set-but-disabled")
    outbox = Outbox(create_storage_engine(store_url))
    routes = TenantWebhooks(lambda: TENANTS)
    app = create_webhook_app(
        outbox_for_tenant=lambda _tenant: outbox,
        secret_lookup=routes.secret,
        workflow_lookup=routes.workflow,
    )
    with serve_app(app) as base:
        yield base, outbox, tmp_path / "tenants" / "events"


def _post(url: str, payload: dict, secret: bytes) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(url, content=body, headers=signed_headers(secret, body), timeout=10)


def test_path_takes_the_workflow_name_and_the_job_name_is_an_alias(hooks) -> None:
    base, outbox, _ = hooks
    by_workflow = _post(f"{base}/acme/customer_onboarding", {"drop_file": "a.csv"}, ONBOARDING_SECRET)
    by_job = _post(f"{base}/acme/customer_onboarding_job", {"drop_file": "b.csv"}, ONBOARDING_SECRET)
    assert by_workflow.status_code == 202, by_workflow.text
    assert by_job.status_code == 202, by_job.text
    events = [outbox.get(r.json()["event_id"]) for r in (by_workflow, by_job)]
    assert [(e.workflow, e.payload) for e in events] == [
        ("customer_onboarding", {"drop_file": "a.csv"}),
        ("customer_onboarding", {"drop_file": "b.csv"}),
    ]
    # One workflow, one de-duplication: the same signed request at the alias is a repeat.
    body = json.dumps({"drop_file": "c.csv"}).encode()
    headers = signed_headers(ONBOARDING_SECRET, body)
    first = httpx.post(f"{base}/acme/customer_onboarding", content=body, headers=headers, timeout=10)
    again = httpx.post(f"{base}/acme/customer_onboarding_job", content=body, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (202, 409)
    assert again.json()["event_id"] == first.json()["event_id"]
    assert outbox.count() == 3


def test_signature_of_another_workflow_or_tenant_launches_nothing(hooks) -> None:
    base, outbox, _ = hooks
    # acme's onboarding secret does not open acme's claims workflow, nor globex's.
    assert _post(f"{base}/acme/claims_processing", {"n": 1}, ONBOARDING_SECRET).status_code == 401
    assert _post(f"{base}/acme/claims_processing_job", {"n": 1}, ONBOARDING_SECRET).status_code == 401
    assert _post(f"{base}/globex/claims_processing", {"n": 1}, CLAIMS_SECRET).status_code == 401
    # The same workflow name at another tenant is that tenant's, with its own secret.
    assert _post(f"{base}/globex/claims_processing", {"n": 2}, GLOBEX_SECRET).status_code == 202
    assert outbox.count() == 1


def test_unknown_paths_get_one_404_that_names_nothing(hooks) -> None:
    base, outbox, _ = hooks
    answers = {
        path: _post(f"{base}{path}", {"n": 1}, secret)
        for path, secret in (
            ("/acme/no_such_workflow", ONBOARDING_SECRET),
            ("/acme/fraud_review", b"globex-fraud-secret"),  # globex's workflow, not acme's
            ("/nope/customer_onboarding", ONBOARDING_SECRET),  # no such tenant
            ("/acme/operations_report", ONBOARDING_SECRET),  # enabled, but no secret
            ("/acme/disabled_flow", b"set-but-disabled"),  # secret set, workflow disabled
            ("/acme/customer_onboarding_job_job", ONBOARDING_SECRET),
        )
    }
    assert {p: r.status_code for p, r in answers.items()} == dict.fromkeys(answers, 404)
    bodies = {r.text for r in answers.values()}
    assert len(bodies) == 1, bodies  # the same answer whatever exists
    (text,) = bodies
    assert not any(name in text for name in ("acme", "globex", "fraud", "claims", "onboarding"))
    assert outbox.count() == 0


def test_events_config_narrows_webhooks_by_workflow_or_job_name(hooks) -> None:
    base, outbox, events_dir = hooks
    (events_dir / "acme.yaml").write_text("webhooks: [claims_processing_job]\n", encoding="utf-8")
    assert _post(f"{base}/acme/claims_processing", {"n": 1}, CLAIMS_SECRET).status_code == 202
    assert _post(f"{base}/acme/customer_onboarding", {"n": 1}, ONBOARDING_SECRET).status_code == 404
    # An events config that does not validate closes the tenant's webhooks; other tenants keep theirs.
    (events_dir / "acme.yaml").write_text("webhooks: [claims_processing]\nnot_a_field: 1\n", encoding="utf-8")
    assert _post(f"{base}/acme/claims_processing", {"n": 2}, CLAIMS_SECRET).status_code == 404
    assert _post(f"{base}/globex/claims_processing", {"n": 3}, GLOBEX_SECRET).status_code == 202
    assert outbox.count() == 2


def test_secret_named_after_the_job_is_read_only_when_the_workflows_is_unset(
    hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, outbox, _ = hooks
    monkeypatch.setenv(secret_env_name("acme", "operations_report_job"), "legacy-job-secret")
    assert _post(f"{base}/acme/operations_report", {"n": 1}, b"legacy-job-secret").status_code == 202
    monkeypatch.setenv(secret_env_name("acme", "operations_report"), "workflow-secret")
    assert _post(f"{base}/acme/operations_report", {"n": 2}, b"legacy-job-secret").status_code == 401
    assert _post(f"{base}/acme/operations_report_job", {"n": 3}, b"workflow-secret").status_code == 202
    assert outbox.count() == 2


def test_webhook_names_map_each_name_to_its_workflow() -> None:
    names = webhook_names(["claims_processing", "operations_report"], ["operations_report_job", "nope"])
    assert names == {"operations_report": "operations_report", "operations_report_job": "operations_report"}
    assert set(webhook_names(["a"], None)) == {"a", "a_job"}
