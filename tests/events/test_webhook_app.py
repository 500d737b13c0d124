"""The signed-webhook receiver over real HTTP (uvicorn): accepted events and every kind of bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.events.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    secret_env_name,
    signed_headers,
)
from klikkflow_pipelines.events.webhook_app import create_webhook_app
from klikkflow_pipelines.tenancy.storage import create_storage_engine

SECRET = b"s3cret-for-orders"
MAX_BODY = 4096


@pytest.fixture
def hook(store_url: str, monkeypatch: pytest.MonkeyPatch, serve_app) -> Iterator[tuple[str, Outbox]]:
    """A running webhook app for tenant ``acme`` whose ``orders`` workflow has a secret in the env."""
    monkeypatch.setenv(secret_env_name("acme", "orders"), SECRET.decode())
    outbox = Outbox(create_storage_engine(store_url))
    app = create_webhook_app(
        outbox_for_tenant=lambda tenant: outbox, max_body_bytes=MAX_BODY, replay_window_seconds=300
    )
    with serve_app(app) as base:
        yield f"{base}/acme/orders", outbox


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_signed_event_is_recorded_and_answered_202(hook) -> None:
    url, outbox = hook
    body = json.dumps({"order_id": 42, "amount": 9.5}).encode()
    response = post(url, body, signed_headers(SECRET, body))
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    event = outbox.get(event_id)
    assert event is not None
    assert (event.tenant, event.workflow, event.source) == ("acme", "orders", "webhook")
    assert event.payload == {"order_id": 42, "amount": 9.5}


def _bad_requests() -> list[tuple[str, bytes, dict[str, str], int, str]]:
    body = json.dumps({"order_id": 1}).encode()
    now = int(time.time())
    stale = now - 3600
    return [
        ("unsigned", body, {"Content-Type": "application/json"}, 401, "unsigned"),
        (
            "wrongly signed",
            body,
            signed_headers(b"not-the-secret", body),
            401,
            "bad_signature",
        ),
        (
            "signature of another body",
            json.dumps({"order_id": 2}).encode(),
            signed_headers(SECRET, body),
            401,
            "bad_signature",
        ),
        ("stale timestamp", body, signed_headers(SECRET, body, timestamp=stale), 401, "stale_timestamp"),
        (
            "future timestamp",
            body,
            signed_headers(SECRET, body, timestamp=now + 3600),
            401,
            "stale_timestamp",
        ),
        (
            "non-numeric timestamp",
            body,
            {**signed_headers(SECRET, body), TIMESTAMP_HEADER: "yesterday"},
            400,
            "bad_timestamp",
        ),
        ("oversized", b"{" + b" " * MAX_BODY + b"}", {}, 413, "body_too_large"),
        ("malformed JSON", b'{"order_id": 1,', {}, 400, "malformed_json"),
        ("JSON that is not an object", b"[1, 2, 3]", {}, 422, "not_an_object"),
    ]


@pytest.mark.parametrize("label", [c[0] for c in _bad_requests()])
def test_bad_input_gets_4xx_with_reason_and_stores_nothing(hook, label) -> None:
    """Cases are signed when the test runs (not at collection, which may be minutes earlier)."""
    url, outbox = hook
    _, body, headers, status, error = next(c for c in _bad_requests() if c[0] == label)
    if not headers:  # correctly signed, so only the body itself is at fault
        headers = signed_headers(SECRET, body)
    response = post(url, body, headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["reason"]
    assert outbox.count() == 0


def test_replayed_request_is_rejected_and_adds_no_event(hook) -> None:
    url, outbox = hook
    body = json.dumps({"order_id": 7}).encode()
    headers = signed_headers(SECRET, body)
    first = post(url, body, headers)
    assert first.status_code == 202
    again = post(url, body, headers)
    assert again.status_code == 409
    assert again.json()["error"] == "duplicate_delivery"
    assert again.json()["event_id"] == first.json()["event_id"]
    assert outbox.count() == 1


def test_chunked_oversized_body_is_rejected(hook) -> None:
    url, outbox = hook
    body = json.dumps({"blob": "x" * (MAX_BODY * 2)}).encode()
    headers = signed_headers(SECRET, body)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    response = httpx.post(url, content=chunks(), headers=headers, timeout=10)
    assert response.status_code == 413
    assert outbox.count() == 0


def test_unknown_workflow_and_bad_names_get_404(hook) -> None:
    url, outbox = hook
    body = b"{}"
    base = url.rsplit("/", 2)[0]
    for path in ("/acme/no-such-workflow", "/other-tenant/orders", "/acme/..%2F..%2Fetc"):
        response = post(base + path, body, signed_headers(SECRET, body))
        assert response.status_code == 404, path
        assert response.json()["reason"]
    assert outbox.count() == 0


def test_secret_can_come_from_the_secrets_directory(tmp_path, monkeypatch, store_url, serve_app) -> None:
    (tmp_path / "webhooks" / "acme").mkdir(parents=True)
    (tmp_path / "webhooks" / "acme" / "refunds").write_text("file-secret\n", encoding="utf-8")
    monkeypatch.setenv("KLIKKFLOW_SECRETS_DIR", str(tmp_path))
    outbox = Outbox(create_storage_engine(store_url))
    with serve_app(create_webhook_app(outbox_for_tenant=lambda tenant: outbox)) as base:
        body = b'{"refund": 1}'
        ok = post(f"{base}/acme/refunds", body, signed_headers(b"file-secret", body))
        assert ok.status_code == 202
        headers = signed_headers(b"file-secret", body)
        headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER][:-2] + "00"
        assert post(f"{base}/acme/refunds", body, headers).status_code == 401
    assert outbox.count() == 1


def test_concurrent_requests_share_commits_without_losing_or_doubling_events(hook) -> None:
    import asyncio

    url, outbox = hook
    bodies = [json.dumps({"order_id": n}).encode() for n in range(100)]
    requests = [(b, signed_headers(SECRET, b)) for b in bodies]
    requests += requests[:20]  # 20 deliveries sent twice, concurrently with the originals

    async def send_all() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(*(client.post(url, content=b, headers=h) for b, h in requests))
        return [r.status_code for r in responses]

    statuses = asyncio.run(send_all())
    assert statuses.count(202) == 100 and statuses.count(409) == 20
    assert outbox.count() == 100
