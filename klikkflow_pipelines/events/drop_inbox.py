"""Inbox hygiene: processed drops move to ``processed/<run id>/``, invalid ones to ``rejected/``.

An inbox (e.g. ``<tenant home>/inbox/onboarding``) keeps only files still waiting for a run:

* ``processed/<run id>/<file>``: the drop after the run that consumed it succeeded;
* ``rejected/<file>@<mtime ns>/<file>`` and ``<file>.reason.json`` next to it: a drop that
  failed validation (what is wrong and how to fix it); it is also a dead letter.

Every move is one ``os.replace`` inside the inbox's file system (atomic: the file is in its old
place or its new one, never lost) and keeps the file's modification time, so a partition key
``<file>@<mtime ns>`` still finds its file (:func:`find_drop_version`). Movers take an exclusive
``flock`` on ``.klikkflow-inbox.lock`` in the inbox and re-check the file's version under it, so
two sensor/daemon processes never move a file twice or move a newer file of the same name.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

PROCESSED = "processed"
REJECTED = "rejected"
LOCK_NAME = ".klikkflow-inbox.lock"
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload")
"""Suffixes of uploads still being written: neither a drop nor rejected, just not yet there."""


@dataclass(frozen=True)
class DropProblem:
    """Why a drop file cannot be ingested, and what the sender should do."""

    problem: str
    fix: str


def is_drop_candidate(path: Path) -> bool:
    """True for a file (or symlink) directly in the inbox that is meant as a drop.

    Hidden files (``.name``, the lock file) and uploads still in progress (``.part``, ``.tmp``)
    are left alone; ``processed/`` and ``rejected/`` are folders, so never candidates.
    """
    if path.name.startswith(".") or path.suffix.lower() in IN_PROGRESS_SUFFIXES:
        return False
    return path.is_symlink() or path.is_file()


def check_drop(
    path: Path,
    inbox: Path,
    suffixes: Sequence[str],
    required_columns: Sequence[str],
    max_bytes: int,
) -> DropProblem | None:
    """What is wrong with the drop ``path`` (None when it can be ingested).

    Checks, cheapest first: the name (printable, no ``@``-only tricks), a symlink leading outside
    ``inbox``, the format (suffix), empty or larger than ``max_bytes``, and the header: a CSV's
    first line, or a JSON Lines file's first record, must parse and (for CSV) name
    ``required_columns``. Reading stops after the first line, so a check stays cheap for big files.
    """
    name = path.name
    allowed = ", ".join(suffixes)
    if not name.isprintable() or name.strip() != name:
        return DropProblem(
            f"file name {name!r} has control characters or leading/trailing spaces",
            "rename the file to plain printable characters",
        )
    if path.is_symlink() and not path.resolve().is_relative_to(inbox.resolve()):
        return DropProblem(
            f"{name} is a symlink to {path.resolve()}, outside the inbox {inbox}",
            "copy the file itself into the inbox instead of linking to it",
        )
    if not path.is_file():
        return DropProblem(f"{name} is not a regular file", "drop a regular file")
    if path.suffix not in suffixes:
        return DropProblem(
            f"unsupported format {path.suffix or '(no suffix)'!r}; accepted: {allowed}",
            f"export the data as one of {allowed} and drop it again",
        )
    size = path.stat().st_size
    if size == 0:
        return DropProblem("the file is empty", "drop the file again once it has a header and rows")
    if size > max_bytes:
        return DropProblem(
            f"the file has {size:,} bytes, more than the limit of {max_bytes:,}",
            "split it into smaller drops, or raise the workflow's max_drop_bytes",
        )
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 20).decode("utf-8-sig").strip()
    except OSError as exc:
        return DropProblem(f"cannot be read: {exc.strerror}", "check the file's permissions")
    except UnicodeDecodeError:
        return DropProblem("the first line is not UTF-8 text", "save the file as UTF-8")
    if path.suffix == ".csv":
        header = [c.strip().strip('"') for c in first.split(",")]
        missing = [c for c in required_columns if c not in header]
        if missing:
            return DropProblem(
                f"CSV header lacks the required column(s) {', '.join(missing)}",
                f"give the header line all of {', '.join(required_columns)}",
            )
        return None
    try:
        record = json.loads(first)
    except ValueError as exc:
        return DropProblem(f"the first line is not JSON ({exc})", "write one JSON object per line")
    if not isinstance(record, dict):
        return DropProblem("the first line is not a JSON object", "write one JSON object per line")
    return None


@contextmanager
def inbox_lock(inbox: Path) -> Iterator[None]:
    """Hold the inbox's exclusive mover lock (blocks until another process releases it)."""
    inbox.mkdir(parents=True, exist_ok=True)
    with (inbox / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def drop_mtime_ns(path: Path) -> int | None:
    """The version of a drop: its own modification time (a symlink's, not its target's); None if gone."""
    try:
        return path.lstat().st_mtime_ns
    except FileNotFoundError:
        return None


def move_to_processed(inbox: Path, name: str, mtime_ns: int, run_id: str) -> Path | None:
    """Move version ``mtime_ns`` of ``inbox/name`` to ``processed/<run_id>/``; the new path.

    Idempotent and safe with concurrent movers: None when the inbox holds no such version (already
    moved, or replaced by a newer file of the same name, which stays for its own run).
    """
    source = inbox / name
    target = inbox / PROCESSED / run_id / name
    with inbox_lock(inbox):
        if drop_mtime_ns(source) != mtime_ns:
            return target if drop_mtime_ns(target) == mtime_ns else None
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    return target


def rejected_path(inbox: Path, name: str, mtime_ns: int) -> Path:
    """Where version ``mtime_ns`` of ``name`` goes when rejected (one folder per file version)."""
    return inbox / REJECTED / f"{name}@{mtime_ns}" / name


def reason_path(rejected: Path) -> Path:
    """The reason file next to a rejected file."""
    return rejected.with_name(f"{rejected.name}.reason.json")


def reject_drop(inbox: Path, name: str, mtime_ns: int, problem: DropProblem, workflow: str) -> Path | None:
    """Move version ``mtime_ns`` of ``inbox/name`` to ``rejected/`` with its reason file; the new path.

    The reason file is written (atomically) before the move, so a rejected file always has one.
    None when the inbox no longer holds that version (another process moved it).
    """
    source = inbox / name
    target = rejected_path(inbox, name, mtime_ns)
    with inbox_lock(inbox):
        if drop_mtime_ns(source) != mtime_ns:
            return target if drop_mtime_ns(target) == mtime_ns else None
        target.parent.mkdir(parents=True, exist_ok=True)
        reason = {
            "file": name,
            "workflow": workflow,
            "problem": problem.problem,
            "fix": problem.fix,
            "rejected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "replay": "fix the file in place, then `klikkflow dlq replay <id>` puts it back in the inbox",
        }
        staging = reason_path(target).with_suffix(".json.tmp")
        staging.write_text(json.dumps(reason, indent=2) + "\n", encoding="utf-8")
        os.replace(staging, reason_path(target))
        os.replace(source, target)
    return target


def restore_rejected(inbox: Path, rejected: Path) -> tuple[Path, int]:
    """Put a rejected file back into the inbox as a new version (mtime now); its path and mtime.

    Raises :class:`FileNotFoundError` when the rejected file is gone, :class:`FileExistsError`
    when the inbox already holds a file of that name (it would be overwritten) and
    :class:`PermissionError` for a path outside ``rejected/`` or a symlink (never followed).
    """
    target = inbox / rejected.name
    if rejected.parent.parent.resolve() != (inbox / REJECTED).resolve():
        raise PermissionError(f"{rejected} is not a rejected drop of {inbox}; drop the file yourself")
    if rejected.is_symlink():
        raise PermissionError(f"{rejected} is a symlink; copy the file itself into {inbox}")
    with inbox_lock(inbox):
        if not rejected.is_file():
            raise FileNotFoundError(f"{rejected} no longer exists; drop the fixed file into {inbox}")
        if target.exists() or target.is_symlink():
            raise FileExistsError(f"{target} exists; move it away or drop the fixed file under a new name")
        os.utime(rejected)  # a new version: the arrival sensor sees it as a new drop
        os.replace(rejected, target)
        reason_path(rejected).unlink(missing_ok=True)
        with suppress(OSError):  # not empty: leave it
            rejected.parent.rmdir()
    return target, target.stat().st_mtime_ns


def find_drop_version(inbox: Path, name: str, mtime_ns: int) -> Path | None:
    """The file of version ``mtime_ns`` of ``name``: in the inbox, else under ``processed/``."""
    candidates = [inbox / name, *sorted((inbox / PROCESSED).glob(f"*/{_glob_escape(name)}"))]
    for candidate in candidates:
        if candidate.is_file() and drop_mtime_ns(candidate) == mtime_ns:
            return candidate
    return None


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
