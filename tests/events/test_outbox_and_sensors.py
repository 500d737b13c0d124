"""The outbox, the outbox sensor and the RabbitMQ sensor on SQLite and Postgres, real Dagster instance."""

from __future__ import annotations

import json
import uuid

import dagster as dg
import pika
import pytest

from klikkflow_pipelines.events.outbox import Outbox, OutboxEvent
from klikkflow_pipelines.events.resources import EventStoreResource, TriggerEventResource
from klikkflow_pipelines.workflows.template import WORKFLOW_TAG
from resources.rabbitmq import RabbitMQResource
from sensors.outbox_events import EVENT_ID_TAG, OutboxCursor, build_outbox_sensor
from sensors.rabbitmq_events import build_rabbitmq_sensor

from .conftest import RABBITMQ_URL
from .event_jobs import order_job


def _record(outbox: Outbox, workflow: str, payload: dict, key: str | None = None) -> str:
    result = outbox.record(
        tenant="acme",
        workflow=workflow,
        source="webhook",
        payload=payload,
        dedupe_key=key or f"test:{uuid.uuid4().hex}",
    )
    return result.event_id


def test_record_is_idempotent_per_dedupe_key(store_url: str) -> None:
    outbox = EventStoreResource(url=store_url).outbox()
    first = outbox.record(tenant="acme", workflow="w", source="webhook", payload={"a": 1}, dedupe_key="k1")
    again = outbox.record(tenant="acme", workflow="w", source="webhook", payload={"a": 2}, dedupe_key="k1")
    assert first.created and not again.created
    assert again.event_id == first.event_id
    assert outbox.count() == 1
    assert outbox.get(first.event_id).payload == {"a": 1}
    # One batch with a repeat inside it and a key recorded earlier: one new event.
    batch = [
        {"tenant": "acme", "workflow": "w", "source": "webhook", "payload": {"n": n}, "dedupe_key": key}
        for n, key in enumerate(["k2", "k2", "k1"])
    ]
    created, repeat, earlier = outbox.record_many(batch)
    assert created.created and not repeat.created and not earlier.created
    assert repeat.event_id == created.event_id and earlier.event_id == first.event_id
    assert outbox.count() == 2


def test_outbox_sensor_requests_one_run_per_event_and_runs_get_the_payload(store_url: str, tmp_path) -> None:
    store = EventStoreResource(url=store_url)
    outbox = store.outbox()
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    ids = [_record(outbox, "order_job", {"order_id": n, "ledger": str(ledger)}) for n in range(3)]
    _record(outbox, "another_workflow", {"order_id": 99})
    sensor = build_outbox_sensor(order_job, tags={"klikkflow/tenant": "acme"})
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"event_store": store})
        result = sensor(context)
        assert [r.run_key for r in result.run_requests] == ids
        request = result.run_requests[0]
        assert request.tags[EVENT_ID_TAG] == ids[0]
        assert request.tags["klikkflow/tenant"] == "acme"
        assert WORKFLOW_TAG not in request.tags  # the job's own workflow tag applies

        # The cursor remembers what was requested: the next tick requests only new events.
        later = _record(outbox, "order_job", {"order_id": 3, "ledger": str(ledger)})
        next_context = dg.build_sensor_context(
            instance=instance, cursor=result.cursor, resources={"event_store": store}
        )
        assert [r.run_key for r in sensor(next_context).run_requests] == [later]

        defs = dg.Definitions(jobs=[order_job], resources={"trigger_event": TriggerEventResource()})
        run = defs.resolve_job_def("order_job").execute_in_process(
            run_config=request.run_config, instance=instance, tags=request.tags
        )
        assert run.success
        assert json.loads((ledger / "0.json").read_text())["order_id"] == 0


def _event(seq: int, received_at: float) -> OutboxEvent:
    return OutboxEvent(seq, f"e{seq}", f"k{seq}", "acme", "w", "webhook", {}, received_at)


def test_cursor_floor_only_passes_settled_events() -> None:
    cursor = OutboxCursor()
    now = 1_000.0
    cursor.advance([_event(1, now - 60), _event(2, now - 30), _event(4, now - 1)], now, settle_seconds=5)
    # 1 and 2 are settled; 4 is recent, so a late commit of seq 3 is still fetched (> floor, not excluded).
    assert cursor.floor == 2
    assert cursor.recent == [(4, now - 1)]
    restored = OutboxCursor.parse(cursor.dump())
    assert (restored.floor, restored.recent) == (2, [(4, now - 1)])
    restored.advance([_event(3, now - 1)], now + 10, settle_seconds=5)
    assert restored.floor == 4 and restored.recent == []


def _publish(queue: str, body: bytes, message_id: str | None) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    connection.channel().basic_publish(
        "", queue, body, pika.BasicProperties(message_id=message_id, delivery_mode=2)
    )
    connection.close()


def _queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    depth = connection.channel().queue_declare(queue=queue, passive=True).method.message_count
    connection.close()
    return depth


@pytest.mark.rabbitmq
def test_rabbitmq_sensor_records_each_message_once_and_rejects_bad_bodies(store_url, rabbit_queue) -> None:
    store = EventStoreResource(url=store_url)
    rabbitmq = RabbitMQResource(url=RABBITMQ_URL)
    for n in range(5):
        _publish(rabbit_queue, json.dumps({"order_id": n}).encode(), f"m-{n}")
    _publish(rabbit_queue, json.dumps({"order_id": 0}).encode(), "m-0")  # redelivery of the same message
    _publish(rabbit_queue, b"not json", "m-bad")
    _publish(rabbit_queue, b'{"order_id": 5}', None)  # no message id: keyed by body hash
    sensor = build_rabbitmq_sensor(tenant="acme", queue=rabbit_queue, workflow="order_job")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"event_store": store, "rabbitmq": rabbitmq}
        )
        sensor(context)
    assert _queue_depth(rabbit_queue) == 0
    events = store.outbox().fetch(after_seq=0)
    assert sorted(e.payload["order_id"] for e in events) == [0, 1, 2, 3, 4, 5]
    assert {e.source for e in events} == {"rabbitmq"}


@pytest.mark.rabbitmq
def test_crash_between_record_and_ack_redelivers_without_duplicate(store_url, rabbit_queue) -> None:
    store = EventStoreResource(url=store_url)
    outbox = store.outbox()
    rabbitmq = RabbitMQResource(url=RABBITMQ_URL)
    for n in range(3):
        _publish(rabbit_queue, json.dumps({"order_id": n}).encode(), f"m-{n}")

    def record_then_crash(batch):
        outbox.record_many(
            [
                {
                    "tenant": "acme",
                    "workflow": "order_job",
                    "source": "rabbitmq",
                    "payload": json.loads(m.body),
                    "dedupe_key": f"amqp:{rabbit_queue}:{m.message_id}",
                }
                for m in batch
            ]
        )
        raise SystemExit("process dies before acknowledging")

    with pytest.raises(SystemExit):
        rabbitmq.drain(rabbit_queue, record_then_crash)
    assert outbox.count() == 3
    assert _queue_depth(rabbit_queue) == 3  # unacknowledged messages went back to the queue

    sensor = build_rabbitmq_sensor(tenant="acme", queue=rabbit_queue, workflow="order_job")
    with dg.instance_for_test() as instance:
        sensor(
            dg.build_sensor_context(instance=instance, resources={"event_store": store, "rabbitmq": rabbitmq})
        )
    assert _queue_depth(rabbit_queue) == 0
    assert outbox.count() == 3


@pytest.mark.rabbitmq
def test_missing_queue_is_a_clear_error(store_url) -> None:
    sensor = build_rabbitmq_sensor(tenant="acme", queue="kf-no-such-queue-x", workflow="order_job")
    resources = {
        "event_store": EventStoreResource(url=store_url),
        "rabbitmq": RabbitMQResource(url=RABBITMQ_URL),
    }
    with dg.instance_for_test() as instance, pytest.raises(Exception, match="does not exist"):
        sensor(dg.build_sensor_context(instance=instance, resources=resources))
