"""The outbox sensor: every recorded event becomes exactly one run (``run_key`` = event id).

The cursor holds a ``floor`` (every event at or below it has been requested)
and the ``recent`` events above it that were already requested. The floor only
moves past events older than ``settle_seconds``, so an event whose insert
committed late (Postgres sequence values can commit out of order) is still
picked up; requesting an event twice is harmless because Dagster skips a
``run_key`` it has already launched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._utils.merger import deep_merge_dicts

from klikkflow_pipelines.events.outbox import OutboxEvent
from klikkflow_pipelines.events.resources import (
    TRIGGER_EVENT_RESOURCE_KEY,
    EventStoreResource,
    trigger_event_run_config,
)
from sensors.event_partitions import DropSource, EventRefused, event_partition

EVENT_ID_TAG = "klikkflow/event_id"
EVENT_SOURCE_TAG = "klikkflow/event_source"
REPLAY_OF_RUN_TAG = "klikkflow/replay_of_run"
REPLAY_OF_EVENT_TAG = "klikkflow/replay_of_event"


@dataclass
class OutboxCursor:
    """Sensor cursor: the settled floor and the already-requested events above it."""

    floor: int = 0
    recent: list[tuple[int, float]] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: str | None) -> OutboxCursor:
        """Read a cursor string written by :meth:`dump` (None → start from the beginning)."""
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(floor=int(data["floor"]), recent=[(int(s), float(t)) for s, t in data["recent"]])

    def dump(self) -> str:
        """Serialize the cursor."""
        return json.dumps({"floor": self.floor, "recent": self.recent}, separators=(",", ":"))

    def advance(self, events: Sequence[OutboxEvent], now: float, settle_seconds: float) -> None:
        """Remember ``events`` as requested and raise the floor past settled ones."""
        self.recent.extend((e.seq, e.received_at) for e in events)
        settled = [seq for seq, received in self.recent if received < now - settle_seconds]
        if settled:
            self.floor = max(self.floor, max(settled))
        self.recent = sorted((seq, t) for seq, t in self.recent if seq > self.floor)


def event_run_tags(event: OutboxEvent) -> dict[str, str]:
    """Tags linking a run to its event (and, for replays, to the failed run it replaces).

    ``klikkflow/workflow`` is left to the job: a workflow template's job carries its
    workflow name, so event-triggered and scheduled runs of one workflow share it.
    """
    tags = {EVENT_ID_TAG: event.event_id, EVENT_SOURCE_TAG: event.source}
    if event.replay_of_run:
        tags[REPLAY_OF_RUN_TAG] = event.replay_of_run
    if event.replay_of_event:
        tags[REPLAY_OF_EVENT_TAG] = event.replay_of_event
    return tags


def _resolved_job(context: dg.SensorEvaluationContext, job: Any) -> Any:
    return context.repository_def.get_job(job.name) if context.repository_def else job


def _default_run_config(resolved: Any) -> Callable[[OutboxEvent], dict[str, Any]]:
    if TRIGGER_EVENT_RESOURCE_KEY in getattr(resolved, "required_resource_keys", ()):
        return trigger_event_run_config
    return lambda _event: {}


def refused_event_run_id(event: OutboxEvent) -> str:
    """The ``failed_run_id`` of the dead letter of an event refused before any run (one per event)."""
    return f"refused:{event.event_id}"


def build_outbox_sensor(
    job: Any,
    *,
    workflows: Sequence[str] | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_config_for_event: Callable[[OutboxEvent], dict[str, Any]] | None = None,
    minimum_interval_seconds: int = 5,
    batch_size: int = 500,
    settle_seconds: float = 5.0,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    drop_sources: Mapping[str, DropSource] | None = None,
) -> dg.SensorDefinition:
    """A sensor launching ``job`` once per outbox event of ``workflows`` (default: the job's name).

    The event reaches the run through ``run_config_for_event``; by default the
    payload goes into the ``trigger_event`` resource's run config when the job
    uses that resource (otherwise the run has the event id tag only). ``tags``
    (e.g. the tenant's run tags) are added to every run.

    A partitioned job's run gets the partition the event names (see
    :mod:`sensors.event_partitions`; ``drop_sources`` maps a dynamic partitions definition's
    name to its inbox); the tick adds new dynamic partitions with the run requests. An event
    naming no valid partition is dead-lettered with the reason and passed (no run).
    """
    selected = list(workflows) if workflows is not None else [job.name]
    extra_tags = dict(tags or {})
    sources = dict(drop_sources or {})

    @dg.sensor(
        name=name or f"{job.name}_outbox_sensor",
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"Launches {job.name} for each outbox event of {', '.join(selected)}.",
    )
    def _outbox_sensor(context: dg.SensorEvaluationContext, event_store: EventStoreResource):
        resolved = _resolved_job(context, job)
        to_run_config = run_config_for_event or _default_run_config(resolved)
        partitions_def = getattr(resolved, "partitions_def", None)
        cursor = OutboxCursor.parse(context.cursor)
        events = event_store.outbox().fetch(
            after_seq=cursor.floor,
            exclude=[seq for seq, _ in cursor.recent],
            workflows=selected,
            limit=batch_size,
        )
        requests, added = [], {}
        for event in events:
            try:
                part = event_partition(
                    event.payload, event.received_at, partitions_def, sources, context.instance
                )
            except EventRefused as exc:
                reason = f"refused before any run of {resolved.name}: {exc}"
                context.log.warning(f"event {event.event_id} dead-lettered: {reason}")
                event_store.dead_letters().add(
                    event, failed_run_id=refused_event_run_id(event), reason=reason, attempts=0
                )
                continue
            if part.added:
                added.setdefault(part.added[0].name, (part.added[0], set()))[1].add(part.added[1])
            requests.append(
                dg.RunRequest(
                    run_key=event.event_id,
                    run_config=deep_merge_dicts(to_run_config(event), part.run_config),
                    tags={**extra_tags, **event_run_tags(event)},
                    partition_key=part.key,
                )
            )
        cursor.advance(events, time.time(), settle_seconds)
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[d.build_add_request(sorted(keys)) for d, keys in added.values()],
            cursor=cursor.dump(),
        )

    return _outbox_sensor
