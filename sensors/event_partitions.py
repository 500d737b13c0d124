"""The partition an outbox event runs, derived from the job's partitions definition.

* time-window partitions (e.g. one per business date): the payload's ``partition_key``
  (or ``business_date``) when it names one, validated against the definition; otherwise
  the partition holding the event's received time, in the definition's time zone;
* dynamic partitions with a :class:`DropSource` (one partition per inbox file): the payload's
  ``drop_file``, a file name relative to the inbox, confined to it; the partition is the
  file version's key, added in the same tick as the run request;
* any other partitions definition: the payload's ``partition_key``, which must exist.

A payload that cannot name a valid partition raises :class:`EventRefused` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from resources.confined_paths import PathOutsideRoot, confine
from sensors.file_arrival import ArrivedFile

PARTITION_FIELDS = ("partition_key", "business_date")
"""Payload fields naming the partition of a partitioned job (``business_date`` for daily partitions)."""

DROP_FIELD = "drop_file"
"""Payload field naming the drop file (relative to the tenant's inbox) of a dynamically partitioned job."""


class EventRefused(ValueError):
    """The event's payload names no valid partition of the job; the message says why and how to fix it."""


@dataclass(frozen=True)
class DropSource:
    """Where the files of one dynamic partitions definition arrive, and how a file becomes a run."""

    inbox: Path
    suffixes: Sequence[str]
    partition_key_for: Callable[[ArrivedFile], str]
    run_config_for: Callable[[Path], dict[str, Any]]


@dataclass(frozen=True)
class EventPartition:
    """What an event adds to its run request: partition key, run config and a dynamic partition to add."""

    key: str | None = None
    run_config: dict[str, Any] = field(default_factory=dict)
    added: tuple[dg.DynamicPartitionsDefinition, str] | None = None


def event_partition(
    payload: Mapping[str, Any],
    received_at: float,
    partitions_def: dg.PartitionsDefinition | None,
    drop_sources: Mapping[str, DropSource],
    instance: dg.DagsterInstance,
) -> EventPartition:
    """The partition of the run an event with ``payload`` requests; :class:`EventRefused` if none."""
    if partitions_def is None:
        return EventPartition()
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return EventPartition(key=_time_window_key(payload, received_at, partitions_def))
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name in drop_sources:
        return _drop_partition(payload, partitions_def, drop_sources[partitions_def.name])
    key = _named_key(payload)
    if key is None:
        raise EventRefused(f"payload: no {PARTITION_FIELDS[0]!r}. Fix: name one of the job's partitions")
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        if not _is_valid(partitions_def, key):
            raise EventRefused(f"payload: {key!r} is not a partition of the job. Fix: name an existing one")
    return EventPartition(key=key)


def _named_key(payload: Mapping[str, Any]) -> str | None:
    named = {name: payload[name] for name in PARTITION_FIELDS if payload.get(name) is not None}
    if not named:
        return None
    values = set(map(repr, named.values()))
    if len(values) > 1:
        raise EventRefused(
            f"payload: {' and '.join(f'{k}={v!r}' for k, v in named.items())} disagree. Fix: give one of them"
        )
    field_name, value = next(iter(named.items()))
    if not isinstance(value, str) or not value or len(value) > 200:
        raise EventRefused(f"payload.{field_name}: {value!r} is not a partition key. Fix: give a string")
    return value


def _is_valid(partitions_def: dg.PartitionsDefinition, key: str) -> bool:
    try:
        return partitions_def.has_partition_key(key)
    except (ValueError, TypeError, OverflowError):
        return False


def _time_window_key(
    payload: Mapping[str, Any], received_at: float, partitions_def: dg.TimeWindowPartitionsDefinition
) -> str:
    key = _named_key(payload)
    fmt = partitions_def.fmt
    if key is None:
        try:
            key = partitions_def.get_partition_key_for_timestamp(received_at)
        except (ValueError, TypeError, OverflowError) as exc:
            raise EventRefused(f"received time {received_at}: no partition ({exc})") from exc
        if not _is_valid(partitions_def, key):
            raise EventRefused(
                f"received time {datetime.fromtimestamp(received_at, UTC).isoformat()} falls in {key!r}, "
                f"outside the job's partitions. Fix: name a partition in payload.{PARTITION_FIELDS[1]}"
            )
        return key
    if not _is_valid(partitions_def, key):
        first = partitions_def.get_first_partition_key()
        last = partitions_def.get_last_partition_key()
        raise EventRefused(
            f"payload: {key!r} is not a partition of the job (format {fmt}, time zone "
            f"{partitions_def.timezone}, from {first} to {last}). Fix: give an existing date such as {last}"
        )
    return key


def _drop_partition(
    payload: Mapping[str, Any], partitions_def: dg.DynamicPartitionsDefinition, source: DropSource
) -> EventPartition:
    raw = payload.get(DROP_FIELD)
    fix = f"Fix: give the name of a file in the inbox {source.inbox}, e.g. customers.csv"
    if not isinstance(raw, str) or not raw.strip():
        raise EventRefused(f"payload.{DROP_FIELD}: missing or not a file name ({raw!r}). {fix}")
    if Path(raw).is_absolute():
        raise EventRefused(f"payload.{DROP_FIELD}: {raw!r} is an absolute path. {fix}")
    try:
        path = confine(raw, [source.inbox], f"payload.{DROP_FIELD}")
    except PathOutsideRoot as exc:
        raise EventRefused(str(exc)) from exc
    if path.parent != source.inbox.resolve() or path.suffix not in source.suffixes or not path.is_file():
        raise EventRefused(
            f"payload.{DROP_FIELD}: {raw!r} is not a {'/'.join(source.suffixes)} file directly in "
            f"{source.inbox}. {fix}"
        )
    stat = path.stat()
    key = source.partition_key_for(ArrivedFile(path, stat.st_size, stat.st_mtime_ns))
    return EventPartition(key=key, run_config=source.run_config_for(path), added=(partitions_def, key))
