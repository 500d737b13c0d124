"""The witness store: the platform's own copy of every signed checkpoint, outside the tenant database.

Locally one append-only JSON Lines file per log in
``$KLIKKFLOW_HOME/platform/witness/<tenant>.jsonl`` (``KLIKKFLOW_AUDIT_WITNESS_DIR``
moves it), written only by the checkpointer; an exclusive ``flock`` on
``<tenant>.lock`` serialises checkpointers. In production the directory is a
platform-namespace volume that no tenant pod mounts, replicated to an object
storage bucket with Object Lock (see README, "Audit log"). Someone who can
rewrite a tenant database cannot reach it, so a rewrite, truncation or deletion
of the database's checkpoints shows up as a mismatch with the witness.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compliance.audit.chain import Checkpoint
from compliance.home import klikkflow_home, platform_home

WITNESS_DIR_ENV = "KLIKKFLOW_AUDIT_WITNESS_DIR"
_LOG_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class WitnessError(ValueError):
    """A witness file cannot be read."""


def witness_dir(create: bool = True) -> Path:
    """The witness directory (``create``: made 0700 if missing; readers pass False and create nothing)."""
    configured = os.environ.get(WITNESS_DIR_ENV)
    if configured:
        path = Path(configured)
    else:
        path = (platform_home() if create else klikkflow_home(create=False) / "platform") / "witness"
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


class FileWitness:
    """The witnessed checkpoints of one log (``tenant``) in an append-only file."""

    def __init__(self, tenant: str, directory: Path | None = None) -> None:
        if not _LOG_NAME.match(tenant):
            raise WitnessError(f"{tenant!r} is not a tenant id usable as a witness file name")
        self.tenant = tenant
        self._default_directory = directory is None  # made on the first write, never by a reader
        directory = directory or witness_dir(create=False)
        self.path = directory / f"{tenant}.jsonl"
        self._lock_path = directory / f"{tenant}.lock"

    def checkpoints(self) -> list[Checkpoint]:
        """Every witnessed checkpoint in file order (a torn last line from a crash is ignored)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        found = []
        for number, line in enumerate(lines, start=1):
            try:
                found.append(Checkpoint(**json.loads(line)))
            except (ValueError, TypeError):
                if number == len(lines):
                    break  # the checkpointer died mid-write; the next append completes the file
                raise WitnessError(
                    f"{self.path}: line {number} is not a checkpoint record. "
                    "Fix: restore the witness file from its object-storage copy."
                ) from None
        return found

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the witness lock (one checkpointer at a time per log)."""
        if self._default_directory:
            witness_dir(create=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, checkpoint: Checkpoint) -> None:
        """Append one checkpoint durably (call while holding :meth:`exclusive`).

        A torn last line (a crash mid-write) is cut off first: it was never a checkpoint.
        """
        line = json.dumps(checkpoint.as_record(), sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                tail = os.pread(fd, min(size, 1 << 16), max(0, size - (1 << 16)))
                os.ftruncate(fd, size - len(tail) + tail.rfind(b"\n") + 1)
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
