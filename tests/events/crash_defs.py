"""Code location of the crash test's daemon: one job launched per outbox event, fed by webhooks and RabbitMQ.

Loaded by file path in the daemon subprocess; settings come from the environment
(``KF_CRASH_STORE_URL``, ``KF_CRASH_QUEUE``, ``KF_CRASH_RABBITMQ_URL``).
"""

import os

import dagster as dg

from klikkflow_pipelines.events.resources import EventStoreResource, TriggerEventResource
from resources.rabbitmq import RabbitMQResource
from sensors.outbox_events import build_outbox_sensor
from sensors.rabbitmq_events import build_rabbitmq_sensor


@dg.op
def accept_event() -> None:
    """Nothing to do: the crash test counts runs, it does not execute them."""


@dg.job
def intake_job() -> None:
    """Launched once per event."""
    accept_event()


defs = dg.Definitions(
    jobs=[intake_job],
    sensors=[
        build_outbox_sensor(
            intake_job, tags={"klikkflow/tenant": "crash"}, minimum_interval_seconds=1, batch_size=100
        ),
        build_rabbitmq_sensor(
            tenant="crash",
            queue=os.environ["KF_CRASH_QUEUE"],
            workflow="intake_job",
            minimum_interval_seconds=1,
            max_messages=100,
        ),
    ],
    resources={
        "event_store": EventStoreResource(url=os.environ["KF_CRASH_STORE_URL"]),
        "rabbitmq": RabbitMQResource(url=os.environ["KF_CRASH_RABBITMQ_URL"], prefetch_count=50),
        "trigger_event": TriggerEventResource(),
    },
)
