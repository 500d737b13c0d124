"""RabbitMQ as an event source (pika): drain a queue, acknowledging only what was durably recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pika
from pika.exceptions import ChannelClosedByBroker


@dataclass(frozen=True)
class QueueMessage:
    """One message taken from a queue (not yet acknowledged)."""

    delivery_tag: int
    message_id: str | None
    body: bytes
    redelivered: bool


class RabbitMQQueueMissing(RuntimeError):
    """The configured queue does not exist on the broker."""


class RabbitMQResource(dg.ConfigurableResource):
    """Connection to a RabbitMQ broker.

    ``url`` is an AMQP URL, e.g. ``dg.EnvVar("KLIKKFLOW_RABBITMQ_URL")`` holding
    ``amqp://user:password@host:5672/%2F``.
    """

    url: str
    prefetch_count: int = 500
    inactivity_timeout_seconds: float = 0.5

    def connect(self) -> pika.BlockingConnection:
        """Open a blocking connection."""
        return pika.BlockingConnection(pika.URLParameters(self.url))

    def drain(
        self,
        queue: str,
        record: Callable[[Sequence[QueueMessage]], Sequence[bool]],
        *,
        max_messages: int = 1000,
        batch_size: int = 200,
    ) -> tuple[int, int]:
        """Take up to ``max_messages`` from ``queue`` and hand them to ``record`` in batches.

        ``record`` must durably store the batch before returning; it returns, per
        message, True to acknowledge or False to reject it (without requeue, so the
        queue's dead-letter exchange gets it). Messages are acknowledged only after
        ``record`` returned, so a crash at any point leaves them on the queue to be
        redelivered; recording must therefore be idempotent per message id.
        Returns (acknowledged, rejected).
        """
        acked = rejected = 0
        connection = self.connect()
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=min(self.prefetch_count, max_messages))
            try:
                channel.queue_declare(queue=queue, passive=True)
            except ChannelClosedByBroker as error:
                raise RabbitMQQueueMissing(
                    f"RabbitMQ queue {queue!r} does not exist ({error.reply_text}); declare it on the "
                    "broker or fix the queue name in the tenant's events config"
                ) from None
            taken = 0
            while taken < max_messages:
                batch: list[QueueMessage] = []
                for method, properties, body in channel.consume(
                    queue, inactivity_timeout=self.inactivity_timeout_seconds
                ):
                    if method is None:
                        break
                    batch.append(
                        QueueMessage(method.delivery_tag, properties.message_id, body, method.redelivered)
                    )
                    if len(batch) >= min(batch_size, max_messages - taken):
                        break
                if not batch:
                    break
                taken += len(batch)
                outcomes = record(batch)
                for message, ok in zip(batch, outcomes, strict=True):
                    if ok:
                        channel.basic_ack(message.delivery_tag)
                        acked += 1
                    else:
                        channel.basic_nack(message.delivery_tag, requeue=False)
                        rejected += 1
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()
        return acked, rejected

    def publish(self, queue: str, payload: dict[str, Any], *, message_id: str) -> None:
        """Publish one persistent JSON message to ``queue`` (for senders and tests)."""
        connection = self.connect()
        try:
            connection.channel().basic_publish(
                exchange="",
                routing_key=queue,
                body=json.dumps(payload).encode(),
                properties=pika.BasicProperties(
                    message_id=message_id, delivery_mode=2, content_type="application/json"
                ),
            )
        finally:
            connection.close()
