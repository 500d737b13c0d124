"""Signed webhooks are served by the gateway at /hooks/<tenant>/<workflow>, without a session.

The path takes the name of a workflow the tenant enabled in its tenant file (its
job's name is an alias); secrets are per tenant and workflow.
"""

from __future__ import annotations

import json

import pytest

from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.events.signing import secret_env_name, signed_headers
from klikkflow_pipelines.tenancy.config import WorkflowSettings
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine


@pytest.fixture
def acme_workflows(live_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """acme enables customer_onboarding and claims_processing (globex enables none), each with a secret."""
    tenants = live_gateway.gateway.tenants
    workflows = {"customer_onboarding": WorkflowSettings(), "claims_processing": WorkflowSettings()}
    monkeypatch.setitem(tenants, "acme", tenants["acme"].model_copy(update={"workflows": workflows}))
    monkeypatch.setenv(secret_env_name("acme", "customer_onboarding"), "acme-onboarding-secret")
    monkeypatch.setenv(secret_env_name("acme", "claims_processing"), "acme-claims-secret")
    monkeypatch.setenv(secret_env_name("globex", "customer_onboarding"), "globex-onboarding-secret")


def test_signed_webhook_for_a_workflow_is_accepted_into_the_tenant_outbox(
    live_gateway, acme_workflows
) -> None:
    secret = b"acme-onboarding-secret"
    body = json.dumps({"drop_file": "customers.csv"}).encode()
    with live_gateway.client() as client:  # no session cookie, no bearer token
        accepted = client.post(
            "/hooks/acme/customer_onboarding", content=body, headers=signed_headers(secret, body)
        )
        alias_body = json.dumps({"drop_file": "more.csv"}).encode()
        by_job = client.post(
            "/hooks/acme/customer_onboarding_job",
            content=alias_body,
            headers=signed_headers(secret, alias_body),
        )
        unsigned = client.post("/hooks/acme/customer_onboarding", content=b'{"order": 8}')
    assert accepted.status_code == 202, accepted.text
    assert by_job.status_code == 202, by_job.text
    outbox = Outbox(tenant_storage_engine("acme"))
    for answer in (accepted, by_job):
        event = outbox.get(answer.json()["event_id"])
        assert event is not None and event.workflow == "customer_onboarding"
    assert unsigned.status_code == 401 and "error" in unsigned.json()


def test_webhook_attacks_get_401_or_the_same_404(live_gateway, acme_workflows) -> None:
    body = json.dumps({"n": 1}).encode()

    def post(path: str, secret: bytes):
        with live_gateway.client() as client:
            return client.post(path, content=body, headers=signed_headers(secret, body))

    # A signature made with another workflow's secret, or another tenant's, launches nothing.
    assert post("/hooks/acme/claims_processing", b"acme-onboarding-secret").status_code == 401
    assert post("/hooks/acme/customer_onboarding", b"globex-onboarding-secret").status_code == 401
    # globex has a secret for customer_onboarding but does not enable it; unknown tenants and
    # workflows answer the same 404 as a workflow without a secret, naming none of them.
    missing = [
        post("/hooks/globex/customer_onboarding", b"globex-onboarding-secret"),
        post("/hooks/acme/no_such_workflow", b"acme-onboarding-secret"),
        post("/hooks/nope/customer_onboarding", b"acme-onboarding-secret"),
        post("/hooks/acme/operations_report", b"acme-onboarding-secret"),
    ]
    assert [r.status_code for r in missing] == [404] * 4
    assert len({r.text for r in missing}) == 1
    assert "acme" not in missing[0].text and "globex" not in missing[0].text
    assert Outbox(tenant_storage_engine("acme")).count() == 0
