"""Replay by editing the signature header: every rewritten header of one signed request stores nothing new.

An attacker who saw one accepted request (body, timestamp, ``v1=<hex>``) must
not be able to turn it into a second event by re-spelling the signature header
(trailing comma, an extra bogus scheme, the entry twice, ...). Over real HTTP
(uvicorn), against SQLite and Postgres: the outbox ends with exactly one row.
"""

from __future__ import annotations

import json

import httpx
import pytest

from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.events.signing import SIGNATURE_HEADER, secret_env_name, signed_headers
from klikkflow_pipelines.events.webhook_app import create_webhook_app
from klikkflow_pipelines.tenancy.storage import create_storage_engine

SECRET = b"s3cret-for-orders"


def _variants(signature: str) -> list[tuple[str, str]]:
    """Re-spellings of a valid ``v1=<hex>`` header an attacker can produce without the secret."""
    hex_digest = signature.removeprefix("v1=")
    return [
        ("trailing comma", f"{signature},"),
        ("leading comma", f",{signature}"),
        ("bogus v0 scheme first", f"v0=x,{signature}"),
        ("bogus v0 scheme last", f"{signature},v0=x"),
        ("entry twice", f"{signature},{signature}"),
        ("space after comma", f"{signature}, {signature}"),
        ("unknown scheme v2 with the same digest", f"{signature},v2={hex_digest}"),
        ("upper-case hex", f"v1={hex_digest.upper()}"),
        ("upper-case scheme", f"V1={hex_digest}"),
        ("space around equals", f"v1 = {hex_digest}"),
        ("semicolon separator", f"{signature};"),
    ]


@pytest.fixture
def hook(store_url: str, monkeypatch: pytest.MonkeyPatch, serve_app):
    """The webhook app over uvicorn for tenant ``acme`` workflow ``orders``; yields (url, outbox)."""
    monkeypatch.setenv(secret_env_name("acme", "orders"), SECRET.decode())
    outbox = Outbox(create_storage_engine(store_url))
    with serve_app(create_webhook_app(outbox_for_tenant=lambda _tenant: outbox)) as base:
        yield f"{base}/acme/orders", outbox


def test_replay_with_rewritten_signature_header_adds_no_outbox_row(hook) -> None:
    url, outbox = hook
    body = json.dumps({"order_id": 7}).encode()
    headers = signed_headers(SECRET, body)
    first = httpx.post(url, content=body, headers=headers, timeout=10)
    assert first.status_code == 202, first.text
    answers = {}
    for label, header in _variants(headers[SIGNATURE_HEADER]):
        response = httpx.post(url, content=body, headers={**headers, SIGNATURE_HEADER: header}, timeout=10)
        answers[label] = (response.status_code, response.json().get("error"))
        assert response.status_code in (400, 401, 409), f"{label}: {response.status_code} {response.text}"
    assert outbox.count() == 1, f"one signed request must stay one event; answers: {answers}"


@pytest.mark.parametrize("label", [label for label, _ in _variants("v1=" + "0" * 64)])
def test_malformed_signature_header_is_rejected_before_anything_is_stored(hook, label: str) -> None:
    """A header not exactly ``v1=<64 lower-case hex>`` is refused even on a first delivery."""
    url, outbox = hook
    body = json.dumps({"order_id": 8}).encode()
    headers = signed_headers(SECRET, body)
    header = dict(_variants(headers[SIGNATURE_HEADER]))[label]
    response = httpx.post(url, content=body, headers={**headers, SIGNATURE_HEADER: header}, timeout=10)
    assert response.status_code in (400, 401), f"{label}: {response.status_code} {response.text}"
    assert response.json()["error"] == "malformed_signature"
    assert "v1=<64 lower-case hex digits>" in response.json()["reason"]
    assert outbox.count() == 0
