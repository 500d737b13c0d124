"""Object arrival under a storage prefix (S3/GCS/Azure-style listing), one run per new object version.

``ObjectStorePrefix`` is the interface an object store implements: list the
objects under a prefix with size and modification time. ``LocalPrefix``
implements it for a directory tree (local development, mounted buckets);
a cloud implementation only needs ``uri`` and ``list_objects``. The run key is
``<uri>/<key>:<size>:<modified_ns>``, so a re-uploaded object runs again and
the same version never runs twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dagster as dg


@dataclass(frozen=True)
class ObjectInfo:
    """One object version under the prefix."""

    key: str
    size: int
    modified_ns: int


class ObjectStorePrefix(Protocol):
    """What an object store offers the arrival sensor."""

    uri: str

    def list_objects(self, prefix: str) -> Iterable[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""
        ...


@dataclass(frozen=True)
class LocalPrefix:
    """A directory tree seen as an object store (keys are POSIX paths relative to ``root``)."""

    root: Path

    @property
    def uri(self) -> str:
        """``file://`` URI of the root."""
        return self.root.resolve().as_uri()

    def list_objects(self, prefix: str) -> Iterable[ObjectInfo]:
        """Files under ``root`` whose relative path starts with ``prefix``."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix):
                stat = path.stat()
                yield ObjectInfo(key, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class ObjectCursor:
    """Newest modification time handled and the keys handled at exactly that time."""

    modified_ns: int = 0
    keys: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> ObjectCursor:
        """Read a cursor written by :meth:`dump` (None → from the beginning)."""
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data["modified_ns"]), tuple(data["keys"]))

    def dump(self) -> str:
        """Serialize the cursor."""
        return json.dumps({"modified_ns": self.modified_ns, "keys": list(self.keys)})

    def is_new(self, obj: ObjectInfo) -> bool:
        """True when ``obj`` was not handled by an earlier tick."""
        return obj.modified_ns > self.modified_ns or (
            obj.modified_ns == self.modified_ns and obj.key not in self.keys
        )

    def advance(self, handled: Iterable[ObjectInfo]) -> ObjectCursor:
        """The cursor after ``handled`` (sorted by modification time) were requested."""
        cursor = self
        for obj in handled:
            if obj.modified_ns > cursor.modified_ns:
                cursor = ObjectCursor(obj.modified_ns, (obj.key,))
            else:
                cursor = ObjectCursor(cursor.modified_ns, (*cursor.keys, obj.key))
        return cursor


def build_object_arrival_sensor(
    name: str,
    job: Any,
    store: ObjectStorePrefix,
    prefix: str,
    run_config_for: Callable[[ObjectInfo], dict[str, Any]],
    *,
    min_age_seconds: float = 2.0,
    minimum_interval_seconds: int = 30,
    max_runs_per_tick: int = 100,
) -> dg.SensorDefinition:
    """A sensor requesting one run of ``job`` per new object version under ``prefix`` in ``store``."""

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"One run per new object under {store.uri}/{prefix}.",
    )
    def _object_arrival(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = ObjectCursor.parse(context.cursor)
        settled_before = time.time_ns() - int(min_age_seconds * 1e9)
        new = sorted(
            (o for o in store.list_objects(prefix) if o.modified_ns <= settled_before and cursor.is_new(o)),
            key=lambda o: (o.modified_ns, o.key),
        )[:max_runs_per_tick]
        requests = [
            dg.RunRequest(
                run_key=f"{store.uri}/{o.key}:{o.size}:{o.modified_ns}",
                run_config=run_config_for(o),
                tags={"klikkflow/source_object": f"{store.uri}/{o.key}"},
            )
            for o in new
        ]
        return dg.SensorResult(run_requests=requests, cursor=cursor.advance(new).dump())

    return _object_arrival
