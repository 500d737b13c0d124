"""Key files created once, atomically: the first of any number of concurrent processes wins.

A key is written to a temporary file (mode 0600) in the target's directory,
flushed to disk, and then hard-linked to its final name. ``os.link`` fails
when the name exists, so exactly one writer's key becomes the file, and a
reader never sees a half-written one: the final name only ever points to
complete content. Every process, winner or not, returns what the file holds.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path


class KeyFileError(ValueError):
    """A key file exists but does not hold a usable key."""


def random_hex_key() -> str:
    """A new random 256-bit key as 64 hex characters."""
    return secrets.token_hex(32)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(path: Path, text: str, *, replace: bool = False) -> None:
    """Write ``text`` to a temp file (0600) beside ``path``, then give it the name ``path``.

    Without ``replace`` it is hard-linked, so an existing file (another process's key)
    is kept; with ``replace`` it atomically replaces the file (for derived content
    such as a public key). Readers never see a half-written file.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
        else:
            with contextlib.suppress(FileExistsError):  # another process won: keep its key
                os.link(temp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def read_or_create_key_file(
    path: Path,
    *,
    create: Callable[[], str] = random_hex_key,
    min_length: int = 32,
) -> str:
    """The key text in ``path``; created from ``create()`` (mode 0600) when the file does not exist.

    Safe under any number of concurrent processes: all of them return the same
    key. A file shorter than ``min_length`` characters (for example one left
    empty by an older, non-atomic version) is an error naming the file and the fix.
    """
    if not path.exists():
        publish_file(path, create())
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < min_length:
        raise KeyFileError(
            f"{path}: holds {len(text)} characters, a key needs at least {min_length}. "
            "Fix: delete the file (a new key is created on next use) or write a valid key into it."
        )
    return text
