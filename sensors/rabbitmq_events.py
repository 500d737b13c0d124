"""The RabbitMQ sensor: moves queue messages into the tenant's outbox, then acknowledges them.

A message is acknowledged only after its event is committed to the outbox
(unique per queue and message id), so a crash between the two redelivers it
and the second recording is a no-op. The outbox sensor then launches the runs.
Messages without a ``message_id`` are keyed by the SHA-256 of their body.
Bodies that are not JSON objects are rejected to the queue's dead-letter exchange.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import dagster as dg

from klikkflow_pipelines.events.resources import EventStoreResource
from resources.rabbitmq import QueueMessage, RabbitMQResource


def message_dedupe_key(queue: str, message: QueueMessage) -> str:
    """The outbox dedupe key of a message: its id, or its body hash when it has none."""
    key = message.message_id or "sha256:" + hashlib.sha256(message.body).hexdigest()
    return f"amqp:{queue}:{key}"


def build_rabbitmq_sensor(
    *,
    tenant: str,
    queue: str,
    workflow: str,
    name: str | None = None,
    minimum_interval_seconds: int = 5,
    max_messages: int = 1000,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """A sensor that records messages of ``queue`` as outbox events of ``workflow``."""

    @dg.sensor(
        name=name or f"{workflow}_rabbitmq_{queue}_sensor".replace(".", "_").replace("-", "_"),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"Records messages of RabbitMQ queue {queue} as {workflow} events.",
    )
    def _rabbitmq_sensor(
        context: dg.SensorEvaluationContext, event_store: EventStoreResource, rabbitmq: RabbitMQResource
    ):
        outbox = event_store.outbox()

        def record(batch: Sequence[QueueMessage]) -> list[bool]:
            items, outcomes = [], []
            for message in batch:
                try:
                    payload = json.loads(message.body)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    payload = None
                if not isinstance(payload, dict):
                    context.log.warning(
                        f"rejecting message {message.message_id!r} on {queue}: body is not a JSON object"
                    )
                    outcomes.append(False)
                    continue
                items.append(
                    {
                        "tenant": tenant,
                        "workflow": workflow,
                        "source": "rabbitmq",
                        "payload": payload,
                        "dedupe_key": message_dedupe_key(queue, message),
                    }
                )
                outcomes.append(True)
            outbox.record_many(items)
            return outcomes

        acked, rejected = rabbitmq.drain(queue, record, max_messages=max_messages)
        return dg.SkipReason(f"recorded {acked} message(s) from {queue}; rejected {rejected}")

    return _rabbitmq_sensor
