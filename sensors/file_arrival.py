"""File-arrival sensor: one run per new file in an inbox directory, optionally one partition per file.

The run key is built from the file's path, size and modification time, so
the same file seen twice never makes a second run (Dagster drops a run
request whose run key it has already launched), and the cursor remembers the
newest file handled so each tick only looks at what is new. With a dynamic
partitions definition, each file version becomes its own partition (added in
the same tick result as the run requests), so concurrent runs of different
files never share storage. A file that fails the sensor's check gets no run: it is handed to
``on_reject`` (the onboarding workflow moves it to ``rejected/`` and dead-letters it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from klikkflow_pipelines.events.drop_inbox import DropProblem, is_drop_candidate
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


Rejecter = Callable[[ArrivedFile, DropProblem], int | None]
"""What a sensor does with a drop that failed its check (e.g. move it to ``rejected/``); the id of
its dead letter, or None when the file was no longer there to reject."""


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


def scan_inbox(inbox: Path, min_age_seconds: float) -> list[ArrivedFile]:
    """Drop candidates directly in ``inbox`` (see :func:`is_drop_candidate`), old enough to be
    complete, oldest first. ``processed/`` and ``rejected/`` are folders, so never scanned."""
    if not inbox.is_dir():
        return []
    now_ns = time.time_ns()
    found = []
    for path in inbox.iterdir():
        if not is_drop_candidate(path):
            continue
        stat = path.lstat()  # a symlink's own time: its target may be elsewhere (and is checked)
        if now_ns - stat.st_mtime_ns < min_age_seconds * 1e9:
            continue  # still being written
        found.append(ArrivedFile(path, stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: (f.mtime_ns, f.path.name))


def plain_drop_check(inbox: Path, suffixes: Sequence[str]) -> Callable[[Path], DropProblem | None]:
    """The least a drop must be: a wanted suffix, and (for a symlink) a target inside ``inbox``."""

    def check(path: Path) -> DropProblem | None:
        if not is_inside(path, [inbox]):
            return DropProblem(f"{path.name} leads outside the inbox {inbox}", "copy the file itself")
        if path.suffix not in suffixes:
            return DropProblem(f"unsupported format {path.suffix!r}", f"drop a {'/'.join(suffixes)} file")
        return None

    return check


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
    check: Callable[[Path], DropProblem | None] | None = None,
    on_reject: Rejecter | None = None,
) -> dg.SensorDefinition:
    """A sensor that requests one run of ``job`` per new file in ``inbox``.

    ``partitions`` (a dynamic partitions definition and the partition key of a file) makes
    each file its own partition: the tick adds the partitions and requests one run per partition.
    ``check`` (default: :func:`plain_drop_check`) judges each new file; a file it finds a problem
    with gets no run and goes to ``on_reject`` (default: ignored, with a log line). A rejected file
    never holds up the others of the tick.
    """
    check = check or plain_drop_check(inbox, suffixes)

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"One run per new file ({', '.join(suffixes)}) in {inbox}.",
    )
    def _file_arrival(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = FileCursor.parse(context.cursor)
        batch = [f for f in scan_inbox(inbox, min_age_seconds) if cursor.is_new(f)][:max_runs_per_tick]
        if not batch:
            return dg.SensorResult(skip_reason=f"No new files in {inbox}", cursor=cursor.serialize())
        accepted = []
        for arrived in batch:
            problem = check(arrived.path)
            if problem is None:
                accepted.append(arrived)
            elif on_reject is not None:
                entry = on_reject(arrived, problem)
                dropped = arrived.path.name
                context.log.warning(f"drop {dropped} rejected (dead letter {entry}): {problem.problem}")
            else:
                context.log.warning(f"{arrived.path} ignored: {problem.problem}")
        keys = [partitions[1](f) for f in accepted] if partitions else [None] * len(accepted)
        requests = [
            dg.RunRequest(
                run_key=f.run_key,
                run_config=run_config_for(f.path),
                tags={"klikkflow/source_file": str(f.path)},
                partition_key=key,
            )
            for f, key in zip(accepted, keys, strict=True)
        ]
        added = [partitions[0].build_add_request(sorted(set(keys)))] if partitions and accepted else []
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=added, cursor=cursor.advance(batch).serialize()
        )

    return _file_arrival
