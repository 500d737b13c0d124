"""Dagster resources of the event system: the tenant's event store and the triggering event."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from klikkflow_pipelines.events.dead_letters import DeadLetters
from klikkflow_pipelines.events.outbox import Outbox, OutboxEvent

TRIGGER_EVENT_RESOURCE_KEY = "trigger_event"


class EventStoreResource(dg.ConfigurableResource):
    """The tenant's storage database holding the outbox, dead letters and alert state.

    Give ``tenant`` to use the tenant's own storage (resolved at run time, so
    no database password appears in resource config), or an explicit
    SQLAlchemy ``url`` (e.g. ``dg.EnvVar("KLIKKFLOW_EVENT_STORE_URL")``).
    """

    tenant: str | None = None
    url: str | None = None
    _engine: Any = PrivateAttr(default=None)

    def engine(self) -> Any:
        """The SQLAlchemy engine (created once per resource instance)."""
        if self._engine is None:
            from klikkflow_pipelines.tenancy.storage import create_storage_engine, tenant_storage_url

            if self.url:
                url = self.url
            elif self.tenant:
                url = tenant_storage_url(self.tenant)
            else:
                raise ValueError("EventStoreResource needs `tenant` or `url`")
            self._engine = create_storage_engine(url)
        return self._engine

    def outbox(self) -> Outbox:
        """The outbox table."""
        return Outbox(self.engine())

    def dead_letters(self) -> DeadLetters:
        """The dead-letter table."""
        return DeadLetters(self.engine())


class TriggerEventResource(dg.ConfigurableResource):
    """The event that triggered this run; the outbox sensor fills it in through run config."""

    event_id: str = ""
    workflow: str = ""
    source: str = ""
    payload_json: str = "{}"

    def payload(self) -> dict[str, Any]:
        """The event payload (a JSON object)."""
        return json.loads(self.payload_json)


def trigger_event_run_config(event: OutboxEvent) -> dict[str, Any]:
    """Run config that hands ``event`` to the run through the ``trigger_event`` resource."""
    return {
        "resources": {
            TRIGGER_EVENT_RESOURCE_KEY: {
                "config": {
                    "event_id": event.event_id,
                    "workflow": event.workflow,
                    "source": event.source,
                    "payload_json": json.dumps(event.payload, sort_keys=True),
                }
            }
        }
    }
