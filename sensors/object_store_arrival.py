"""Object arrival under a storage prefix (S3/GCS/Azure-style listing), one run per new object version.

``ObjectStorePrefix`` is the interface an object store implements: list the
objects under a prefix with size and modification time. ``LocalPrefix``
implements it for a directory tree (local development, mounted buckets);
a cloud implementation only needs ``uri`` and ``list_objects``. The run key is
``<uri>/<key>:<size>:<modified_ns>``, so a re-uploaded object runs again and
the same version never runs twice.

Keys never leave the prefix's root: ``LocalPrefix`` lists no object whose path
resolves outside its root (a symlink to another tenant's files, ``..``), and
:meth:`LocalPrefix.path_of` refuses such a key from run config or an event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dagster as dg

from resources.confined_paths import confine, is_inside


@dataclass(frozen=True)
class ObjectInfo:
    """One object version under the prefix."""

    key: str
    size: int
    modified_ns: int


class ObjectKeyConfig(dg.Config):
    """Run config naming one object under the store's root (resolve it with ``path_of``)."""

    key: str


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
        """Files under ``root`` whose relative path starts with ``prefix`` (none that lead outside it)."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix) and path.is_file() and is_inside(path, [self.root]):
                stat = path.stat()
                yield ObjectInfo(key, stat.st_size, stat.st_mtime_ns)

    def path_of(self, key: str, field: str = "key") -> Path:
        """The file of ``key``, refused (:class:`~resources.confined_paths.PathOutsideRoot`, naming
        ``field``) when it resolves outside ``root``."""
        return confine(key, [self.root], field)


def is_plain_key(key: str) -> bool:
    """True for a relative key without ``..`` segments (safe to map onto a path under a root)."""
    return not key.startswith("/") and ".." not in key.split("/") and "\0" not in key


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
        listed = list(store.list_objects(prefix))
        for odd in (o for o in listed if not is_plain_key(o.key)):
            context.log.warning(f"ignoring object {odd.key!r}: keys may not be absolute or contain '..'")
        new = sorted(
            (
                o
                for o in listed
                if is_plain_key(o.key) and o.modified_ns <= settled_before and cursor.is_new(o)
            ),
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
