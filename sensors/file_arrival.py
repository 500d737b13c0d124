"""File-arrival sensor: one run per new file in an inbox directory, optionally one partition per file.

The run key is built from the file's path, size and modification time, so
the same file seen twice never makes a second run (Dagster drops a run
request whose run key it has already launched), and the cursor remembers the
newest file handled so each tick only looks at what is new. With a dynamic
partitions definition, each file version becomes its own partition (added in
the same tick result as the run requests), so concurrent runs of different
files never share storage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from resources.confined_paths import is_inside


@dataclass(frozen=True)
class ArrivedFile:
    """A file found in the inbox."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def run_key(self) -> str:
        """Stable identity of this version of the file."""
        return f"{self.path}:{self.size}:{self.mtime_ns}"


@dataclass(frozen=True)
class FileCursor:
    """The newest modification time handled, and the files handled at exactly that time."""

    mtime_ns: int = 0
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> FileCursor:
        """Read a cursor string; an empty or unreadable cursor starts from the beginning."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(int(data["mtime_ns"]), tuple(data["names"]))
        except (ValueError, KeyError, TypeError):
            return cls()

    def serialize(self) -> str:
        """The cursor as a JSON string."""
        return json.dumps({"mtime_ns": self.mtime_ns, "names": list(self.names)})

    def is_new(self, arrived: ArrivedFile) -> bool:
        """True when ``arrived`` was not handled by an earlier tick."""
        return arrived.mtime_ns > self.mtime_ns or (
            arrived.mtime_ns == self.mtime_ns and arrived.path.name not in self.names
        )

    def advance(self, handled: Sequence[ArrivedFile]) -> FileCursor:
        """The cursor after ``handled`` (sorted by mtime) have been turned into run requests."""
        cursor = self
        for item in handled:
            if item.mtime_ns > cursor.mtime_ns:
                cursor = FileCursor(item.mtime_ns, (item.path.name,))
            else:
                cursor = FileCursor(cursor.mtime_ns, (*cursor.names, item.path.name))
        return cursor


def scan_inbox(inbox: Path, suffixes: Sequence[str], min_age_seconds: float) -> list[ArrivedFile]:
    """Files in ``inbox`` with a wanted suffix, old enough to be complete, oldest first.

    A symlink whose target lies outside ``inbox`` (another tenant's files, ``/etc``) is not a drop.
    """
    if not inbox.is_dir():
        return []
    now_ns = time.time_ns()
    found = []
    for path in inbox.iterdir():
        if not path.is_file() or path.suffix not in suffixes or not is_inside(path, [inbox]):
            continue
        stat = path.stat()
        if now_ns - stat.st_mtime_ns < min_age_seconds * 1e9:
            continue  # still being written
        found.append(ArrivedFile(path, stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: (f.mtime_ns, f.path.name))


def build_file_arrival_sensor(
    name: str,
    job: Any,
    inbox: Path,
    suffixes: Sequence[str],
    run_config_for: Callable[[Path], dict[str, Any]],
    min_age_seconds: float = 2.0,
    interval_seconds: int = 30,
    max_runs_per_tick: int = 50,
    partitions: tuple[dg.DynamicPartitionsDefinition, Callable[[ArrivedFile], str]] | None = None,
) -> dg.SensorDefinition:
    """A sensor that requests one run of ``job`` per new file in ``inbox``.

    ``partitions`` (a dynamic partitions definition and the partition key of a file) makes
    each file its own partition: the tick adds the partitions and requests one run per partition.
    """

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"One run per new file ({', '.join(suffixes)}) in {inbox}.",
    )
    def _file_arrival(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = FileCursor.parse(context.cursor)
        new_files = [f for f in scan_inbox(inbox, suffixes, min_age_seconds) if cursor.is_new(f)]
        batch = new_files[:max_runs_per_tick]
        if not batch:
            return dg.SensorResult(skip_reason=f"No new files in {inbox}", cursor=cursor.serialize())
        keys = [partitions[1](f) for f in batch] if partitions else [None] * len(batch)
        requests = [
            dg.RunRequest(
                run_key=f.run_key,
                run_config=run_config_for(f.path),
                tags={"klikkflow/source_file": str(f.path)},
                partition_key=key,
            )
            for f, key in zip(batch, keys, strict=True)
        ]
        added = [partitions[0].build_add_request(sorted(set(keys)))] if partitions else []
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=added, cursor=cursor.advance(batch).serialize()
        )

    return _file_arrival
