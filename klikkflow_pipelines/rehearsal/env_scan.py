"""Watching every process of the rehearsal for secrets that are not its own, while it runs.

A thread polls (every 0.2 s) the supervised processes and all their descendants — code servers,
daemons, the run workers a code server starts for each run and the step workers a run starts —
and reads each new process's environment and command line (``/proc/<pid>/environ`` and
``cmdline`` through psutil). Each process belongs to the owner of the supervised process it
descends from (a tenant id, ``gateway`` or ``checkpointer``), and is checked against the secret
values that owner must not hold. Run and step workers live for seconds; the poll interval is far
shorter, and the result lists every process seen, so a check can require that workers were seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

MIN_SECRET_LENGTH = 8
"""Shorter values (an empty endpoint, a region) are not secrets and would match by accident."""


@dataclass(frozen=True)
class ScannedProcess:
    """One process seen: whose it is and what it does."""

    pid: int
    owner: str
    role: str
    command: str


@dataclass(frozen=True)
class Leak:
    """A secret value found in a process that must not hold it."""

    pid: int
    owner: str
    role: str
    secret: str
    where: str


def _role(root_role: str, depth: int, command: str) -> str:
    if depth == 0:
        return root_role
    if "resource_tracker" in command:
        return "resource tracker"
    if "multiprocessing" in command:
        return {1: "run worker", 2: "step worker"}.get(depth, "worker")
    return f"child of {root_role}"


@dataclass
class EnvScanner:
    """Polls the processes under ``roots()`` (pid -> (owner, role)) against ``forbidden`` (owner ->
    secret label -> value); a process of one of ``tenants`` must also be bound to it
    (``KLIKKFLOW_TENANT``). :meth:`start`, then :meth:`stop` and read ``processes`` and ``leaks``."""

    roots: Callable[[], Mapping[int, tuple[str, str]]]
    forbidden: Mapping[str, Mapping[str, str]]
    tenants: frozenset[str] = frozenset()
    interval: float = 0.2
    processes: dict[tuple[int, float, str], ScannedProcess] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> EnvScanner:
        """Start polling in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="rehearsal-env-scan", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling (after one last scan)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.scan_once()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan_once()
            except Exception as error:  # a scan must never stop the rehearsal; reported by the check
                self.errors.append(repr(error))

    def scan_once(self) -> None:
        """Scan every process under the roots that was not scanned yet."""
        for pid, (owner, role) in dict(self.roots()).items():
            try:
                root = psutil.Process(pid)
                tree = [(root, 0)] + [
                    (child, self._depth(root, child)) for child in root.children(recursive=True)
                ]
            except psutil.Error:
                continue
            for process, depth in tree:
                self._scan(process, owner, role, depth)

    @staticmethod
    def _depth(root: psutil.Process, child: psutil.Process) -> int:
        depth, current = 0, child
        while current is not None and current.pid != root.pid and depth < 10:
            current, depth = current.parent(), depth + 1
        return depth

    def _scan(self, process: psutil.Process, owner: str, root_role: str, depth: int) -> None:
        try:
            with process.oneshot():
                command = " ".join(process.cmdline())
                key = (process.pid, process.create_time(), command)
                if key in self.processes:
                    return
                environ = process.environ()
        except psutil.Error:  # it ended meanwhile
            return
        role = _role(root_role, depth, command)
        # A process caught between fork and exec (or exiting) shows no environment in /proc: it is not
        # recorded, so the next poll reads it again once it settles; its command line is checked now.
        if environ:
            self.processes[key] = ScannedProcess(process.pid, owner, role, command[:160])
        if environ and owner in self.tenants and environ.get("KLIKKFLOW_TENANT") != owner:
            bound = environ.get("KLIKKFLOW_TENANT")
            self.leaks.append(Leak(process.pid, owner, role, f"KLIKKFLOW_TENANT={bound}", "environment"))
        text = {"environment": "\n".join(f"{k}={v}" for k, v in environ.items()), "command line": command}
        for label, value in self.forbidden.get(owner, {}).items():
            if len(value) < MIN_SECRET_LENGTH:
                continue
            for where, haystack in text.items():
                if value in haystack:
                    self.leaks.append(Leak(process.pid, owner, role, label, where))

    def seen(self, owner: str, role: str) -> int:
        """How many processes of ``owner`` in ``role`` were scanned."""
        return sum(1 for p in self.processes.values() if p.owner == owner and p.role == role)
