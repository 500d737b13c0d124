"""The path guard: a tenant's process may not touch another tenant's files or the platform's.

:func:`install_path_guard` adds a ``sys.addaudithook`` hook, once per process,
in the processes that serve one tenant (its code server, daemon and run
workers: ``KLIKKFLOW_TENANT=<id>``). Every ``open``, directory listing, removal,
rename, link, ``chmod``/``chown`` and ``shutil`` copy/move/archive/rmtree on a path that
resolves (``..`` collapsed, every symlink followed) inside another tenant's home
(``$KLIKKFLOW_HOME/tenants/<other>/``: its tenant key, warehouse, storage), inside the
platform directory (``$KLIKKFLOW_HOME/platform``: audit signing key, witness
store, gateway database), or that lists ``$KLIKKFLOW_HOME/tenants`` itself (which
would name the other tenants), raises :class:`PermissionError` saying what was
refused and why, and appends a ``path_escape`` event to this tenant's
``compliance_events`` table.

This is defence in depth for the embedded default, where all tenants share one
machine and one ``KLIKKFLOW_HOME``. Production isolates tenants by pod: a tenant
pod mounts neither the other tenants' volumes nor the platform's, and holds no
other tenant's secrets. An audit hook cannot see what a child process does
(``subprocess``), nor file descriptors opened relative to a ``dir_fd``; the pod
boundary covers those.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.events import ComplianceEvent
from compliance.guard import EventSink
from compliance.home import klikkflow_home

log = logging.getLogger(__name__)

_FIRST_PATH = ("open", "os.listdir", "os.scandir", "os.remove", "os.rmdir", "os.mkdir", "os.chmod")
_MORE_FIRST_PATH = ("os.chown", "os.truncate", "os.utime", "os.chflags", "os.setxattr", "os.removexattr")
_SHUTIL = ("shutil.chown", "shutil.rmtree", "shutil.make_archive")
_TWO_PATHS = ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.copymode", "shutil.copystat")
_MORE_TWO_PATHS = ("shutil.copytree", "shutil.unpack_archive")
WATCHED: dict[str, tuple[int, ...]] = {
    **{e: (0,) for e in (*_FIRST_PATH, *_MORE_FIRST_PATH, *_SHUTIL)},
    **{e: (0, 1) for e in (*_TWO_PATHS, *_MORE_TWO_PATHS)},
}
"""Audit event -> positions of its path arguments."""

LISTING = frozenset({"os.listdir", "os.scandir"})
MUTATING = frozenset(WATCHED) - LISTING - {"open", "os.chmod", "os.utime", "os.truncate"}
"""Events that may change how a path resolves (new or removed links and directories)."""
CACHE_SIZE = 4096


@dataclass(frozen=True)
class PathGuard:
    """What one tenant's process may not touch, and where its refusals are recorded."""

    tenant_id: str
    tenants_root: str
    own_home: str
    platform: str
    events: EventSink
    _resolved: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, requested: str) -> str:
        """Where ``requested`` leads (``..`` after symlinks, as the kernel does).

        Resolutions are cached; the cache is emptied on every event of this process that could
        change one (rename, link, symlink, remove, rmdir, mkdir, rmtree, ...), so a path cached as
        an own folder cannot later be swapped for a link by this process.
        """
        if not os.path.isabs(requested):
            requested = os.path.join(os.getcwd(), requested)
        resolved = self._resolved.get(requested)
        if resolved is None:
            if len(self._resolved) >= CACHE_SIZE:
                self._resolved.clear()
            folder, name = os.path.split(requested)
            if name in ("", ".", ".."):
                resolved = os.path.realpath(requested)
            else:
                candidate = os.path.join(self.resolve(folder) if folder != requested else folder, name)
                resolved = os.path.realpath(candidate) if os.path.islink(candidate) else candidate
            self._resolved[requested] = resolved
        return resolved

    def refusal(self, event: str, raw: Any) -> str | None:
        """Why ``event`` on ``raw`` is refused, or ``None`` when it is allowed."""
        if raw is None or isinstance(raw, int):  # the working directory, or an already-open descriptor
            return None
        try:
            requested = os.fsdecode(os.fspath(raw))
            resolved = self.resolve(requested)
        except (TypeError, ValueError, OSError):
            return None  # not a path, or one the operating system will refuse anyway
        if _inside(resolved, self.platform):
            return f"{resolved} is in the platform directory {self.platform}"
        if _inside(resolved, self.tenants_root) and not _inside(resolved, self.own_home):
            if resolved == self.tenants_root:
                return f"listing {resolved} would name the other tenants" if event in LISTING else None
            other = os.path.relpath(resolved, self.tenants_root).split(os.sep, 1)[0]
            return f"{resolved} is in the home of tenant {other!r}"
        return None

    def check(self, event: str, args: Sequence[Any]) -> None:
        """Raise :class:`PermissionError` (and record a ``path_escape`` event) when ``event`` is refused."""
        if event in MUTATING:
            self._resolved.clear()
        for position in WATCHED[event]:
            if position >= len(args):
                continue
            reason = self.refusal(event, args[position])
            if reason is not None:
                requested = os.fsdecode(os.fspath(args[position]))
                self._record(event, requested, reason)
                raise PermissionError(
                    f"KlikkFlow path guard: {event} {requested!r} refused for tenant {self.tenant_id!r}: "
                    f"{reason}. A tenant's code may use only its own home {self.own_home}"
                )

    def _record(self, event: str, requested: str, reason: str) -> None:
        details = {"event": event, "path": requested, "reason": reason, "pid": os.getpid()}
        escape = ComplianceEvent(
            f"process:{os.getpid()}", self.tenant_id, "path_escape", "filesystem", None, None, details
        )
        try:
            self.events.record([escape])
        except Exception:  # the refusal stands even when the event cannot be stored
            log.exception("path guard: could not record the path_escape event of %s", requested)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


_installed: PathGuard | None = None
_install_lock = threading.Lock()
_busy = threading.local()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in WATCHED or _installed is None or getattr(_busy, "active", False):
        return
    _busy.active = True  # the guard's own work (resolving, recording the event) opens files too
    try:
        _installed.check(event, args)
    finally:
        _busy.active = False


def install_path_guard(
    tenant_id: str,
    events: EventSink | None = None,
    process_tenant: Callable[[], str | None] = lambda: os.environ.get("KLIKKFLOW_TENANT"),
) -> bool:
    """Guard this process's file access for ``tenant_id``, when the process serves that tenant alone.

    A process serves a tenant alone when ``process_tenant()`` (``$KLIKKFLOW_TENANT``, set for the
    tenant's code server, daemon and run workers) names it; processes that load several tenants'
    definitions (the gateway, tests) are left alone. Installs once (an audit hook cannot be removed);
    later calls for the same tenant do nothing. Returns whether the guard is active for ``tenant_id``.
    ``events`` receives the ``path_escape`` events (default: the tenant's own storage).
    """
    global _installed
    if process_tenant() != tenant_id:
        return False
    with _install_lock:
        if _installed is not None:
            if _installed.tenant_id != tenant_id:
                raise RuntimeError(
                    f"path guard: this process is guarded for tenant {_installed.tenant_id!r} and cannot "
                    f"serve tenant {tenant_id!r}. Fix: run each tenant's code in its own process"
                )
            return True
        if events is None:
            from klikkflow_pipelines.tenant_resources import TenantEvents

            events = TenantEvents(tenant_id)
        home = klikkflow_home()
        tenants_root = os.path.realpath(home / "tenants")
        _installed = PathGuard(
            tenant_id=tenant_id,
            tenants_root=tenants_root,
            own_home=os.path.realpath(Path(tenants_root) / tenant_id),
            platform=os.path.realpath(home / "platform"),
            events=events,
        )
        sys.addaudithook(_hook)
    return True
