"""One failed-run notification reaches its channel once, and a failing channel's URL never lands in storage.

Against a real loopback HTTP receiver (uvicorn) that counts what it receives:

* the failure path (``Alerter.record_failure``, what ``run_failure_alert_sensor``
  calls) and the real ``alert_delivery_sensor`` retrying due deliveries run at
  the same time, and the receiver still gets the alert exactly once;
* a Slack/Teams incoming-webhook URL is a credential: when the channel fails,
  the stored ``last_error`` names neither the URL nor its secret path, even when
  the receiver echoes the URL back in its error page.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import dagster as dg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from klikkflow_pipelines.events.alerting import Alerter, AlertPolicy, EscalationLevel
from klikkflow_pipelines.events.resources import EventStoreResource
from klikkflow_pipelines.tenancy.storage import create_storage_engine
from resources.notifier import NotifierResource
from sensors.run_alerts import build_alert_sensors

SLACK_PATH = "/services/T0KLIKK/B0FLOW/s3cr3tW3bh00kT0k3n"
TEAMS_PATH = "/webhookb2/0b5e-tenant@1c2d/IncomingWebhook/9f8e7d6c5b4a/t3amsS3cret"


class CountingReceiver:
    """Slack/Teams stand-in: answers slowly (so a second sender has time to race), or fails on demand."""

    def __init__(self, delay_seconds: float = 0.0, fail: bool = False) -> None:
        self.delay_seconds, self.fail = delay_seconds, fail
        self.posts: list[str] = []
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        async def receive(request: Request) -> PlainTextResponse:
            await request.body()
            with self.lock:
                self.posts.append(request.url.path)
            await asyncio.sleep(self.delay_seconds)
            if self.fail:  # some services echo the request URL in their error page
                return PlainTextResponse(f"no such hook: {request.url}", status_code=503)
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


@pytest.fixture
def slow_receiver(serve_app) -> Iterator[tuple[CountingReceiver, str]]:
    receiver = CountingReceiver(delay_seconds=1.0)
    with serve_app(receiver.app()) as base:
        yield receiver, base


@pytest.fixture
def failing_receiver(serve_app) -> Iterator[tuple[CountingReceiver, str]]:
    receiver = CountingReceiver(fail=True)
    with serve_app(receiver.app()) as base:
        yield receiver, base


def _delivery_sensor() -> dg.SensorDefinition:
    policy = AlertPolicy(levels=[EscalationLevel(channels=["slack"])])
    (sensor,) = [
        s for s in build_alert_sensors(tenant="acme", policy=policy) if s.name == "alert_delivery_sensor"
    ]
    return sensor


def test_failure_alert_racing_the_delivery_sensor_is_delivered_exactly_once(store_url, slow_receiver) -> None:
    receiver, base = slow_receiver
    notifier = NotifierResource(slack_webhook_url=f"{base}{SLACK_PATH}")
    policy = AlertPolicy(levels=[EscalationLevel(channels=["slack"])])
    alerter = Alerter(create_storage_engine(store_url), policy, notifier, tenant="acme")
    sensor = _delivery_sensor()
    recorded = threading.Event()

    def record() -> None:
        alerter.record_failure(
            workflow="orders",
            job_name="orders",
            run_id="run-1",
            error="ledger unavailable",
            event_id=None,
            will_retry=False,
        )
        recorded.set()

    def retry_like_the_sensor() -> None:
        while not recorded.is_set():  # the delivery sensor ticking while the failure is being handled
            with dg.build_sensor_context(
                resources={"event_store": EventStoreResource(url=store_url), "notifier": notifier}
            ) as context:
                sensor(context)
            time.sleep(0.01)

    threads = [threading.Thread(target=record), threading.Thread(target=retry_like_the_sensor)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    time.sleep(1.5)  # a second, slower delivery would arrive now
    assert receiver.posts == [SLACK_PATH], f"the alert was delivered {len(receiver.posts)} times"
    (delivery,) = alerter.deliveries()
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)


@pytest.mark.parametrize(("channel", "path"), [("slack", SLACK_PATH), ("teams", TEAMS_PATH)])
def test_failed_delivery_does_not_store_the_webhook_url(store_url, failing_receiver, channel, path) -> None:
    receiver, base = failing_receiver
    url = f"{base}{path}"
    notifier = NotifierResource(slack_webhook_url=url, teams_webhook_url=url)
    policy = AlertPolicy(levels=[EscalationLevel(channels=[channel])], backoff_base_seconds=1)
    alerter = Alerter(create_storage_engine(store_url), policy, notifier, tenant="acme")
    alerter.record_failure(
        workflow="orders", job_name="orders", run_id="run-1", error="boom", event_id=None, will_retry=False
    )
    time.sleep(1.1)
    alerter.retry_due_deliveries()
    assert len(receiver.posts) == 2, "the channel was tried (and failed) twice"
    (delivery,) = alerter.deliveries()
    error = delivery["last_error"]
    assert delivery["status"] == "pending" and "503" in error, error
    secret_parts = [part for part in path.split("/") if len(part) > 8]
    assert url not in error and not any(part in error for part in secret_parts), error
    assert "127.0.0.1" in error, "the error still says which host refused"
