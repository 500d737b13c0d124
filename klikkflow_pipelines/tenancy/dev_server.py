"""``klikkflow dev`` on one port: the gateway in this process, tenants' code servers and daemons supervised.

The gateway serves every tenant's Dagster UI in-process under ``/t/<tenant>/`` (its home page
lists the tenants: the tenant switcher), so there is no webserver process per tenant and only
one listening port. Each tenant keeps its own instance, daemon and code servers (the isolation
of DESIGN.md). As in ``dagster dev``, each location's code server
(:mod:`~klikkflow_pipelines.tenancy.dev_code_servers`, the tenant's environment only) is shared
by the tenant's daemon and the gateway, and reloads from the UI. Code servers and daemons are
children of :class:`~klikkflow_pipelines.tenancy.supervisor.Supervisor`, run from a background
thread; the audit checkpointer is a thread of this platform process.
The port is bound before anything starts, so a taken port fails at once with the fix.
SIGINT, SIGTERM and SIGHUP stop the gateway, then every supervised process group, then any
child still alive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import os
import re
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.dev_code_servers import (
    TenantCodeServers,
    code_server_environment,
    tenant_code_servers,
    wait_for_code_servers,
)
from klikkflow_pipelines.tenancy.supervisor import Supervisor, tenant_process_specs

#: Per-tick lines of the sensor daemon (INFO in Dagster, like the lines that matter, so no log level
#: separates them): shown only with ``klikkflow dev --verbose``.
SENSOR_CHATTER = re.compile(
    r"dagster\.daemon\.SensorDaemon\S* - \S*INFO\S* - (Checking for new runs for sensor|Sensor \S+ skipped)"
)
#: ``klikkflow dev`` runs each run's steps in the run worker (see :mod:`klikkflow_pipelines.executor_choice`).
DEV_EXECUTOR = "in_process"
CHECKPOINTER = "platform/checkpointer"


class PortTakenError(Exception):
    """The dev port is in use; the message names it and the fix."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_sensor_chatter(line: str) -> bool:
    """True for the sensor daemon's per-tick "Checking for new runs" and "skipped" lines."""
    return SENSOR_CHATTER.search(line) is not None


def bind_port(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`PortTakenError` (with the fix) when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTakenError(
                f"port {port} on {host} is already in use (another klikkflow dev, dagster dev or other "
                f"program). Fix: run `klikkflow dev --port N` with a free port, or stop the process "
                f"listening on {port} (e.g. `lsof -i :{port}`)."
            ) from None
        raise PortTakenError(
            f"cannot listen on {host}:{port}: {exc.strerror}. Fix: choose --host/--port."
        ) from None
    sock.listen(128)
    return sock


def _stop_leftover_children() -> None:
    """Terminate any child of this process still alive once the supervisor stopped (then kill it)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


@contextlib.contextmanager
def _own_output_prefixed(output: TextIO) -> Iterator[tuple[TextIO, Callable[[str, str], None] | None]]:
    """Route this process's stdout/stderr (the gateway's and Dagster's logs) through a pipe whose
    lines are logged as ``[gateway]``; yield the real output and the hook to set the logger.

    Dagster colours its logs whatever the output is; going through the supervisor's log they lose
    the colour codes when the output is not a terminal.
    """
    real_fd = os.dup(output.fileno())
    real = os.fdopen(real_fd, "w", buffering=1, encoding="utf-8", errors="replace")
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    logger: list[Callable[[str, str], None]] = []

    def pump() -> None:
        with os.fdopen(read_fd, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                (logger[0] if logger else lambda _n, text: real.write(text))("gateway", line)

    reader = threading.Thread(target=pump, name="gateway-output", daemon=True)
    reader.start()
    for fd in (1, 2):
        os.dup2(write_fd, fd)
    os.close(write_fd)
    try:
        yield real, logger.append  # type: ignore[misc]
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        reader.join(5)
        real.close()


def serve_dev(
    tenants: Sequence[TenantConfig],
    sock: socket.socket,
    *,
    verbose: bool = False,
    output: TextIO | None = None,
) -> list[str]:
    """Serve the gateway on ``sock`` and supervise the tenants' code servers and daemons until a stop
    signal.

    Order: every tenant's code servers start at once (each loads its code in its own process while
    this one imports the gateway), the gateway opens the tenants' workspaces side by side once they
    answer, then the daemons and the audit checkpointer start and the gateway serves. Returns the
    names of processes given up after a crash loop (empty when all ran).
    """
    os.environ["KLIKKFLOW_EXECUTOR"] = DEV_EXECUTOR  # code servers (so run workers) and daemons get it
    host, port = sock.getsockname()[:2]
    os.environ.setdefault("KLIKKFLOW_PUBLIC_URL", f"http://{host}:{port}")
    stop = threading.Event()
    servers: list[Any] = []

    def on_signal(_sig: int, _frame: object) -> None:
        stop.set()
        for server in servers:
            server.should_exit = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with (
            _own_output_prefixed(output or sys.stdout) as (real, set_logger),
            tempfile.TemporaryDirectory(prefix="klikkflow-dev-", ignore_cleanup_errors=True) as sockets,
        ):  # the code servers' sockets: a directory of mode 0700, removed at the end
            code = [tenant_code_servers(tenant, Path(sockets)) for tenant in tenants]
            daemons = [  # a daemon gets its tenant's allow-list too: no other tenant's key or secret
                dataclasses.replace(
                    spec, env={**code_server_environment(tenant, spec.cwd), **spec.env}, inherit_env=False
                )
                for tenant, tenant_code in zip(tenants, code, strict=True)
                for spec in tenant_process_specs(tenant, None, workspace=tenant_code.workspace)
            ]
            code_specs = [spec for tenant_code in code for spec in tenant_code.specs]
            supervisor = Supervisor(
                [*code_specs, *daemons], output=real, quiet=None if verbose else is_sensor_chatter
            )
            set_logger(supervisor.log)
            first = [spec.name for spec in code_specs]
            supervising = threading.Thread(
                target=supervisor.run, args=(stop,), kwargs={"first": first}, name="supervisor", daemon=True
            )
            supervising.start()
            checkpointing = threading.Thread(
                target=run_checkpointer_thread,
                args=(stop, supervisor.log, [tenant.id for tenant in tenants]),
                name="checkpointer",
                daemon=True,
            )
            try:
                started = _Started(supervisor, [spec.name for spec in daemons], checkpointing)
                _serve_gateway(tenants, code, sock, verbose, stop, servers, started)
            finally:
                stop.set()
                supervising.join(30)
                if checkpointing.is_alive():
                    checkpointing.join(10)
                _stop_leftover_children()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return supervisor.given_up


@dataclasses.dataclass(frozen=True)
class _Started:
    """What the gateway starts once it has opened the workspaces: the daemons and the checkpointer."""

    supervisor: Supervisor
    daemons: list[str]
    checkpointer: threading.Thread

    def start(self) -> None:
        """Start the daemons (supervised) and the checkpointer thread."""
        self.supervisor.start(self.daemons)
        self.checkpointer.start()


def _serve_gateway(
    tenants: Sequence[TenantConfig],
    code: Sequence[TenantCodeServers],
    sock: socket.socket,
    verbose: bool,
    stop: threading.Event,
    servers: list[Any],
    later: _Started,
) -> None:
    """Open every tenant's workspace (once its code servers answer) and serve the gateway on ``sock``
    until ``stop`` is set."""
    import uvicorn

    import klikkflow_pipelines.gateway.dagster_mount  # noqa: F401  (imported while the code loads)
    from klikkflow_pipelines.gateway.gate import MAX_GRAPHQL_BODY
    from klikkflow_pipelines.gateway.server import open_gateway
    from klikkflow_pipelines.gateway.settings import settings_from_env

    supervisor = later.supervisor
    for name in wait_for_code_servers(code, supervisor, stop=stop):
        if not stop.is_set():
            supervisor.log(name, "did not answer; its code location shows a load error in the UI")
    workspaces = {tenant_code.tenant_id: tenant_code.workspace for tenant_code in code}
    with open_gateway(
        settings_from_env(), {t.id: t for t in tenants}, workspace_for=lambda t: workspaces[t.id]
    ) as gateway:
        config = uvicorn.Config(
            gateway,
            log_level="info" if verbose else "warning",
            access_log=verbose,
            use_colors=not supervisor.strip_ansi,
            proxy_headers=False,
            ws_max_size=MAX_GRAPHQL_BODY + 64 * 1024,
            timeout_graceful_shutdown=3,
        )
        server = uvicorn.Server(config)
        servers.append(server)
        if not stop.is_set():
            later.start()
            host, port = sock.getsockname()[:2]
            supervisor.log("gateway", f"ready on http://{host}:{port}/")
            server.run(sockets=[sock])


def run_checkpointer_thread(
    stop: threading.Event, log: Callable[[str, str], None], tenant_ids: Sequence[str], interval: float = 5.0
) -> None:
    """The audit checkpointer of the served tenants' logs and the platform log, until ``stop`` is set
    (a tenant ``--tenant`` left out is not opened, so its home is not created).

    It runs as a thread of ``klikkflow dev``, a platform process that already reads the signing key's
    directory; no tenant code runs in this process (it runs in the code servers, each a process with
    the tenant's environment only), so the key is held by nothing a tenant process shares. A failure
    is reported and the loop tried again after 30 s.
    """
    from compliance.audit import audit_log_for_tenant
    from compliance.audit.checkpointer import run_checkpointer
    from compliance.audit.keys import load_signing_key
    from klikkflow_pipelines.gateway.store import platform_audit_log

    def say(line: str) -> None:
        log(CHECKPOINTER, line)

    def open_logs() -> Iterator[Any]:
        for tenant_id in ["platform", *sorted(tenant_ids)]:
            try:
                yield platform_audit_log() if tenant_id == "platform" else audit_log_for_tenant(tenant_id)
            except Exception as exc:  # one unreachable database must not stop the others
                say(f"{tenant_id}: cannot open its audit log: {exc}")

    say(f"checkpointer running every {interval:g} s (a thread of this process)")
    while not stop.is_set():
        try:
            run_checkpointer(open_logs, load_signing_key(), interval=interval, report=say, stop_event=stop)
        except Exception as exc:  # a bad key file, a broken tenant directory: say so, retry later
            say(f"checkpointer failed: {exc}; retrying in 30 s")
            stop.wait(30)
