"""Signed webhooks are served by the gateway at /hooks/<tenant>/<workflow>, without a session."""

from __future__ import annotations

import json

import pytest

from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.events.signing import secret_env_name, signed_headers
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine


def test_signed_webhook_is_accepted_into_the_tenant_outbox(
    live_gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = b"acme-orders-webhook-secret"
    monkeypatch.setenv(secret_env_name("acme", "orders_job"), secret.decode())
    body = json.dumps({"order": 7}).encode()
    with live_gateway.client() as client:  # no session cookie, no bearer token
        accepted = client.post("/hooks/acme/orders_job", content=body, headers=signed_headers(secret, body))
        unsigned = client.post("/hooks/acme/orders_job", content=b'{"order": 8}')
        other_tenant = client.post(
            "/hooks/nope/orders_job", content=body, headers=signed_headers(secret, body)
        )
    assert accepted.status_code == 202, accepted.text
    event = Outbox(tenant_storage_engine("acme")).get(accepted.json()["event_id"])
    assert event is not None and event.payload == {"order": 7} and event.workflow == "orders_job"
    assert unsigned.status_code == 401 and "error" in unsigned.json()
    assert other_tenant.status_code == 404
