"""Where stored frames and objects live: a local directory or any fsspec URL (``s3://bucket/prefix``).

fsspec resolves a location (``fsspec.core.url_to_fs``); it imports s3fs, and s3fs
aiobotocore, only when an ``s3://`` location is opened in a run, never when Definitions
load. S3 credentials, region and endpoint come from the standard variables botocore reads
by itself: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` and
``AWS_ENDPOINT_URL`` for an S3-compatible server (botocore reads it since 1.31; checked with
s3fs 2026.9 / aiobotocore 3.10 against moto, so no endpoint is passed by hand).

Writes are atomic from a reader's point of view: on a local disk the data goes to a temp
file of this writer only, renamed over the target; on an object store it is one PUT (or a
multipart upload, which becomes visible only when completed), so a reader sees the old
object or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

LOCAL_PROTOCOLS = frozenset({"file", "local"})
STORAGE_FIX = (
    "Fix: check that the bucket exists and that AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and "
    "AWS_ENDPOINT_URL for an S3-compatible server) in the run's environment may write it"
)


class StorageUnavailable(OSError):
    """The object store refused or could not be reached (message: the URL, the cause and the fix)."""


def location_problem(location: str) -> str | None:
    """Why ``location`` (a directory or URL) is unusable, without importing fsspec; ``None`` if usable."""
    if "://" not in location:
        return None if location.strip() else "is empty"
    parts = urlsplit(location)
    if not parts.scheme:
        return f"{location!r} has no scheme before '://'"
    if parts.scheme not in LOCAL_PROTOCOLS and not parts.netloc:
        return f"{location!r} names no bucket (write it like {parts.scheme}://<bucket>/<prefix>)"
    if parts.query or parts.fragment:
        return f"{location!r} has a query or fragment; credentials and options come from the environment"
    return None


def storage_options(base: str) -> dict[str, object]:
    """fsspec options for ``base``: an object store keeps no listings cache, since other processes
    (run workers writing other partitions) change what a listing made earlier in this one says."""
    scheme = urlsplit(base).scheme if "://" in base else ""
    return {} if scheme in {"", *LOCAL_PROTOCOLS} else {"use_listings_cache": False}


@dataclass(frozen=True)
class StorageLocation:
    """An opened location: its fsspec filesystem and the root path inside it."""

    fs: AbstractFileSystem
    root: str

    @classmethod
    def open(cls, base: str, folder: str = "") -> StorageLocation:
        """Open ``base`` (a local directory or fsspec URL), with ``folder`` (may be empty) below it."""
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(base, **storage_options(base))
        return cls(fs, join_key(root, folder) if folder else root.rstrip("/") or "/")

    @property
    def is_local(self) -> bool:
        """True for the local filesystem (temp file + rename), False for an object store (one PUT)."""
        protocols = (self.fs.protocol,) if isinstance(self.fs.protocol, str) else self.fs.protocol
        return bool(LOCAL_PROTOCOLS & set(protocols))

    def path(self, *parts: str) -> str:
        """The path of ``parts`` (each one or more ``/``-separated names) under the root."""
        return join_key(self.root, *parts)

    def url(self, path: str) -> str:
        """``path`` as a user sees it: a local path, or the full URL (``s3://bucket/key``)."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def write_atomically(self, path: str, write: Callable[[IO[bytes]], None]) -> None:
        """Store what ``write`` writes to a binary file at ``path``, atomically for readers."""
        if self.is_local:
            _write_local(path, write)
            return
        buffer = io.BytesIO()
        write(buffer)
        try:
            self.fs.pipe_file(path, buffer.getvalue())
        except Exception as error:  # botocore's own errors (no credentials, bad endpoint) are no OSError
            raise StorageUnavailable(f"could not write {self.url(path)}: {error!r}. {STORAGE_FIX}") from error

    def read_bytes(self, path: str) -> bytes:
        """The bytes at ``path`` (:class:`FileNotFoundError` when nothing is stored there)."""
        return self.fs.cat_file(path)

    def exists(self, path: str) -> bool:
        """Whether something is stored at ``path``."""
        return self.fs.exists(path)


def join_key(root: str, *parts: str) -> str:
    """``root`` and ``parts`` joined with ``/`` (no empty segments from leading/trailing slashes)."""
    tail = [p.strip("/") for p in parts if p.strip("/")]
    return "/".join([root.rstrip("/"), *tail]) if tail else root


def _write_local(path: str, write: Callable[[IO[bytes]], None]) -> None:
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
