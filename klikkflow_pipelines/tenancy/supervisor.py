"""Local development: every tenant's Dagster daemon (and webserver), supervised.

``build_supervisor`` prepares, per tenant, one ``dagster-daemon run`` with
``DAGSTER_HOME=<tenant home>`` and ``KLIKKFLOW_TENANT=<id>`` (so it serves only
that tenant's instance and run queue) and, unless the gateway serves the UIs,
one ``dagster-webserver``; ``checkpointer_spec`` is the audit checkpointer of all tenants (a
platform process: the only one that reads the checkpoint signing key, which
the tenant processes do not inherit). Before a tenant starts, the platform
publishes the tenant's detokenize public key into its home; the variables naming
private keys (:data:`compliance.token_keys.PRIVATE_KEY_ENVS`) are not inherited
either. Output lines are prefixed with ``[<tenant>/<role>]``.
A process that dies is restarted with exponential back-off; one that dies within
seconds of starting several times in a row (a crash loop) is given up with its last
lines. Lines for which ``quiet(line)`` is true (the daemon's per-tick sensor chatter in
``klikkflow dev``) are not shown, and ANSI colour codes are stripped when the output is
not a terminal. A broken tenant file is reported loudly and skipped; the other tenants
still start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from compliance.audit.keys import SIGNING_KEY_FILE_ENV
from compliance.crypto import KeyMaterialError
from compliance.token_keys import PRIVATE_KEY_ENVS, TOKEN_PUBLIC_KEY_ENV, publish_public_key
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants, load_tenant
from klikkflow_pipelines.tenancy.instance import tenant_instance
from klikkflow_pipelines.tenancy.provisioning import write_workspace
from resources.secrets import local_token_public_key_file

log = logging.getLogger("klikkflow.supervisor")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
QUICK_EXIT_SECONDS = 15.0  # a process that dies sooner than this after starting counts as a quick failure
MAX_QUICK_FAILURES = 3  # that many quick failures in a row: it is given up (a crash loop)


def _executable(name: str) -> str:
    """A console script of this environment (next to the interpreter), else from ``PATH``."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised command: its log prefix, argv, extra environment and working directory.

    Tenant processes run in the tenant home, so Dagster never sees the checkout's ``dagster.yaml``.
    ``unset`` names variables of this environment the process must not inherit; with
    ``inherit_env=False`` it inherits none and ``env`` is its whole environment (a pod's).
    """

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path = PROJECT_ROOT
    unset: tuple[str, ...] = ()
    inherit_env: bool = True

    def environment(self) -> dict[str, str]:
        """The environment the process starts with."""
        if not self.inherit_env:
            return dict(self.env)
        return {**{k: v for k, v in os.environ.items() if k not in self.unset}, **self.env}


@dataclass
class SupervisedProcess:
    """A running (or waiting-to-restart) process and its restart history."""

    spec: ProcessSpec
    popen: subprocess.Popen[str] | None = None
    restarts: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 1.0
    pids: list[int] = field(default_factory=list)
    quick_failures: int = 0
    given_up: bool = False
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=12))


class Supervisor:
    """Starts processes, prefixes their output, restarts them when they die, stops them on request."""

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        output: TextIO | None = None,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        quiet: Callable[[str], bool] | None = None,
        max_quick_failures: int = MAX_QUICK_FAILURES,
    ) -> None:
        self.processes = {spec.name: SupervisedProcess(spec, backoff=min_backoff) for spec in specs}
        self._output = output or sys.stdout
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()  # start() against stop() from another thread
        self._stopped = False
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self._quiet = quiet
        self._max_quick_failures = max_quick_failures
        isatty = getattr(self._output, "isatty", None)
        self.strip_ansi = not (callable(isatty) and isatty())

    def log(self, name: str, line: str) -> None:
        """Write one line prefixed with the process name (colour codes stripped unless on a terminal)."""
        text = ANSI_ESCAPE.sub("", line.rstrip()) if self.strip_ansi else line.rstrip()
        with self._lock:
            self._output.write(f"[{name}] {text}\n")
            self._output.flush()

    def _pump(self, process: SupervisedProcess, stream: TextIO) -> None:
        for line in stream:
            process.last_lines.append(ANSI_ESCAPE.sub("", line.rstrip()))
            if self._quiet is None or not self._quiet(line):
                self.log(process.spec.name, line)

    def _start(self, process: SupervisedProcess) -> None:
        spec = process.spec
        process.popen = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=spec.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: stopping it also stops its code servers
        )
        process.pids.append(process.popen.pid)
        process.started_at = time.monotonic()
        process.restart_at = None
        assert process.popen.stdout is not None
        threading.Thread(target=self._pump, args=(process, process.popen.stdout), daemon=True).start()
        self.log(spec.name, f"started (pid {process.popen.pid})")

    def start(self, names: Iterable[str] | None = None) -> None:
        """Start every process (or those named: the others wait until a later ``start``).

        Once :meth:`stop` has run, it starts nothing (a late start from another thread leaves no orphan).
        """
        wanted = None if names is None else set(names)
        with self._state_lock:
            if self._stopped:
                return
            for name, process in self.processes.items():
                if wanted is None or name in wanted:
                    self._start(process)

    def check(self) -> None:
        """Restart processes that died (after their back-off delay); call this periodically."""
        now = time.monotonic()
        for process in self.processes.values():
            if process.popen is None or process.popen.poll() is None:
                if process.restart_at is not None and now >= process.restart_at:
                    process.restarts += 1
                    self._start(process)
                continue
            code = process.popen.returncode
            _signal_group(process.popen, signal.SIGTERM)  # children it left behind (code servers)
            process.popen = None
            if now - process.started_at > 60:
                process.backoff = self._min_backoff  # it ran fine for a while: restart promptly
            quick = now - process.started_at < QUICK_EXIT_SECONDS
            process.quick_failures = process.quick_failures + 1 if quick else 0
            if process.quick_failures >= self._max_quick_failures:
                self._give_up(process, code)
                continue
            process.restart_at = now + process.backoff
            self.log(process.spec.name, f"exited with code {code}; restarting in {process.backoff:.0f}s")
            process.backoff = min(process.backoff * 2, self._max_backoff)

    def _give_up(self, process: SupervisedProcess, code: int) -> None:
        """Stop restarting a process that keeps dying right after it starts; say so with its last lines."""
        process.given_up = True
        name = process.spec.name
        self.log(
            name,
            f"GIVEN UP: exited with code {code} within {QUICK_EXIT_SECONDS:.0f}s of starting, "
            f"{process.quick_failures} times in a row; not restarting it. Its last lines:",
        )
        for line in process.last_lines:
            self.log(name, f"  | {line}")
        self.log(name, "Fix the cause above, then restart klikkflow dev.")

    @property
    def given_up(self) -> list[str]:
        """Names of the processes given up after a crash loop."""
        return [name for name, process in self.processes.items() if process.given_up]

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate every process group (SIGTERM, then SIGKILL after ``timeout``)."""
        with self._state_lock:
            self._stopped = True
        running = [p.popen for p in self.processes.values() if p.popen is not None and p.popen.poll() is None]
        for popen in running:
            _signal_group(popen, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for popen in running:
            try:
                popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(popen, signal.SIGKILL)
                popen.wait()
        for process in self.processes.values():
            process.popen = None
            process.restart_at = None

    def run(
        self,
        stop_event: threading.Event | None = None,
        poll_seconds: float = 0.5,
        first: Iterable[str] | None = None,
    ) -> None:
        """Start everything (or only the processes named in ``first``: the others wait for a later
        :meth:`start`) and supervise until ``stop_event`` is set, Ctrl-C, SIGTERM or SIGHUP; then
        stop everything (a container runtime or ``kill`` stops ``klikkflow dev`` with SIGTERM)."""
        stop_event = stop_event or threading.Event()
        restore = _stop_on_signals(stop_event)
        self.start(first)
        try:
            while not stop_event.wait(poll_seconds):
                self.check()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            restore()


def _stop_on_signals(stop_event: threading.Event) -> Callable[[], None]:
    """Set ``stop_event`` on SIGTERM/SIGHUP (main thread only); return what restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    wanted = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda _sig, _frame: stop_event.set()) for sig in wanted}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _signal_group(popen: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)


def tenant_process_specs(
    tenant: TenantConfig, webserver_port: int | None, host: str = "127.0.0.1", workspace: Path | None = None
) -> list[ProcessSpec]:
    """Write the tenant's instance config and code location; return its daemon (and webserver) specs.

    Without ``workspace`` they start their own code servers (the tenant's ``workspace.yaml`` of
    ``python_module`` entries); with it (``klikkflow dev``'s ``grpc_server`` workspace) they use
    the code servers it names.
    """
    # open the instance once so its storage exists before the daemon and webserver race to create it
    with tenant_instance(tenant) as instance:
        home = Path(instance.root_directory)
    workspace = workspace or write_workspace(tenant, home / "workspace.yaml")
    env = {"DAGSTER_HOME": str(home), "KLIKKFLOW_TENANT": tenant.id}
    if tenant.source_path:
        env["KLIKKFLOW_TENANTS_DIR"] = str(Path(tenant.source_path).parent)
    # Tokens are made with the public half; the private half (and where it lives) stays here.
    if not os.environ.get(TOKEN_PUBLIC_KEY_ENV):
        try:
            publish_public_key(tenant.id, local_token_public_key_file(home))
        except KeyMaterialError as error:  # the tenant still starts; its tokenize rules fail clearly
            log.warning("tenant %s: no detokenize public key published: %s", tenant.id, error)
    unset = (SIGNING_KEY_FILE_ENV, *PRIVATE_KEY_ENVS)
    daemon = [_executable("dagster-daemon"), "run", "-w", str(workspace)]
    specs = [ProcessSpec(f"{tenant.id}/daemon", daemon, env, home, unset)]
    if webserver_port is not None:
        argv = [_executable("dagster-webserver"), "-w", str(workspace), "-h", host, "-p", str(webserver_port)]
        specs.append(ProcessSpec(f"{tenant.id}/webserver", argv, env, home, unset))
    return specs


def checkpointer_spec(interval: float = 5.0) -> ProcessSpec:
    """The audit checkpointer of all tenants' logs and the platform log (``audit checkpoint --loop``)."""
    argv = [sys.executable, "-m", "klikkflow_pipelines.cli", "audit", "checkpoint", "--loop"]
    return ProcessSpec("platform/checkpointer", [*argv, "--interval", f"{interval:g}"], {})


def resolve_tenants(tenants: Iterable[str | TenantConfig] | None, output: TextIO) -> list[TenantConfig]:
    """The given tenant ids/configs, or every tenant file; broken ones are reported and skipped."""
    if tenants is None:
        loaded, failed = load_all_tenants()
        for tenant_id, error in failed.items():
            output.write(f"[{tenant_id}] NOT STARTED: its tenant file is invalid:\n{error}\n")
        return list(loaded.values())
    resolved = []
    for item in tenants:
        if isinstance(item, TenantConfig):
            resolved.append(item)
            continue
        try:
            resolved.append(load_tenant(item))
        except Exception as exc:  # ConfigError or unreadable file: this tenant only
            output.write(f"[{item}] NOT STARTED: {exc}\n")
    return resolved


def build_supervisor(
    tenants: Iterable[str | TenantConfig] | None = None,
    *,
    webservers: bool = True,
    host: str = "127.0.0.1",
    base_port: int = 3001,
    output: TextIO | None = None,
    extra: Sequence[ProcessSpec] = (),
    quiet: Callable[[str], bool] | None = None,
) -> Supervisor:
    """A supervisor for the tenants' daemons and (with ``webservers``) webservers on consecutive ports.

    ``extra`` processes (for example the checkpointer) are supervised alongside; lines for which
    ``quiet(line)`` is true are not shown.
    """
    output = output or sys.stdout
    specs: list[ProcessSpec] = list(extra)
    for index, tenant in enumerate(resolve_tenants(tenants, output)):
        port = base_port + index if webservers else None
        specs.extend(tenant_process_specs(tenant, port, host))
        if port is not None:
            output.write(f"[{tenant.id}] UI on http://{host}:{port}\n")
    return Supervisor(specs, output=output, quiet=quiet)
