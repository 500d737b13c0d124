"""Fixtures for the event tests: fresh Postgres database, RabbitMQ queues, a real uvicorn server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pika
import pytest
import yaml

from klikkflow_pipelines.tenancy.pooled_postgres import storage_config

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture(scope="session")
def pg_url(fresh_database) -> Iterator[str]:
    """A fresh Postgres database for the event tables of this test run, dropped afterwards."""
    with fresh_database("kf_events_test") as url:
        yield url


@pytest.fixture
def pg_dagster_url(fresh_database) -> Iterator[str]:
    """A fresh Postgres database for one test's Dagster instance storage."""
    with fresh_database("kf_events_dagster") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The event store URL: a SQLite file, or the run's Postgres database with empty event tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'klikkflow.db'}"
    url = request.getfixturevalue("pg_url")
    # Each test gets empty tables: drop the event tables left by the previous test.
    from sqlalchemy import create_engine

    from klikkflow_pipelines.events import tables

    engine = create_engine(url)
    tables.metadata.drop_all(engine)
    tables.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def rabbit_queue() -> Iterator[str]:
    """A unique durable RabbitMQ queue, deleted after the test."""
    name = f"kf-test-{uuid.uuid4().hex[:12]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    connection.channel().queue_declare(queue=name, durable=True)
    connection.close()
    try:
        yield name
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        connection.channel().queue_delete(queue=name)
        connection.close()


class Receiver:
    """A local HTTP endpoint standing in for Slack, Teams and generic webhooks (``POST /<channel>``).

    ``fail_next[channel] = n`` makes the next ``n`` posts to that channel answer 503.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_next: dict[str, int] = {}

    def app(self):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        async def receive(request: Request) -> PlainTextResponse:
            channel = request.path_params["channel"]
            body = await request.body()
            if self.fail_next.get(channel, 0) > 0:
                self.fail_next[channel] -= 1
                return PlainTextResponse("temporarily unavailable", status_code=503)
            self.received.append((channel, dict(request.headers), body))
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/{channel}", receive, methods=["POST"])])

    def bodies(self, channel: str) -> list[bytes]:
        return [body for name, _headers, body in self.received if name == channel]


@pytest.fixture
def receiver(serve_app) -> Iterator[tuple[Receiver, str]]:
    """A running :class:`Receiver` and its base URL."""
    instance = Receiver()
    with serve_app(instance.app()) as base:
        yield instance, base


@pytest.fixture
def smtp_server(free_port) -> Iterator[tuple[list, int]]:
    """A local aiosmtpd server collecting messages; yields (messages, port)."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    messages: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield messages, port
    finally:
        controller.stop()


def dagster_yaml(postgres_url: str) -> str:
    """Instance config as in production: pooled Postgres storage, queued runs (the queue is not drained)."""
    storage = {"storage": storage_config(postgres_url.replace("+psycopg2", ""))}
    return yaml.safe_dump(storage) + (
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
        "sensors:\n  use_threads: true\n  num_workers: 2\n  num_submit_workers: 8\n"
        "telemetry:\n  enabled: false\n"
    )
