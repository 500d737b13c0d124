"""``klikkflow dev`` on one port: the gateway in this process, each tenant's daemon supervised.

The gateway serves every tenant's Dagster UI in-process under ``/t/<tenant>/`` (its home page
lists the tenants: the tenant switcher), so there is no webserver process per tenant and only
one listening port. Each tenant keeps its own instance, daemon and code servers (the isolation
of DESIGN.md): the daemons, the audit checkpointer and their code servers are children of
:class:`~klikkflow_pipelines.tenancy.supervisor.Supervisor`, run from a background thread.
The port is bound before anything starts, so a taken port fails at once with the fix.
SIGINT, SIGTERM and SIGHUP stop the gateway, then every supervised process group, then any
code server of the gateway still alive.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.supervisor import Supervisor, build_supervisor, checkpointer_spec

#: Per-tick lines of the sensor daemon (INFO in Dagster, like the lines that matter, so no log level
#: separates them): shown only with ``klikkflow dev --verbose``.
SENSOR_CHATTER = re.compile(
    r"dagster\.daemon\.SensorDaemon\S* - \S*INFO\S* - (Checking for new runs for sensor|Sensor \S+ skipped)"
)
#: ``klikkflow dev`` runs each run's steps in the run worker (see :mod:`klikkflow_pipelines.definitions`).
DEV_EXECUTOR = "in_process"


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


def _stop_gateway_children() -> None:
    """Terminate code servers the gateway started that outlived its workspaces (then kill them)."""
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
    """Route this process's stdout/stderr (the gateway's logs, its code servers' output) through a
    pipe whose lines are logged as ``[gateway]``; yield the real output and the hook to set the logger.

    Dagster's code servers colour their logs whatever the output is; going through the supervisor's
    log they lose the colour codes when the output is not a terminal.
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
    """Serve the gateway on ``sock`` and supervise the tenants' daemons until a stop signal.

    Returns the names of processes given up after a crash loop (empty when all ran).
    """
    os.environ["KLIKKFLOW_EXECUTOR"] = DEV_EXECUTOR  # daemons, code servers and run workers inherit it
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
        with _own_output_prefixed(output or sys.stdout) as (real, set_logger):
            supervisor = build_supervisor(
                list(tenants),
                webservers=False,
                output=real,
                extra=[checkpointer_spec()],
                quiet=None if verbose else is_sensor_chatter,
            )
            set_logger(supervisor.log)
            supervising = threading.Thread(
                target=supervisor.run, args=(stop,), name="supervisor", daemon=True
            )
            supervising.start()
            try:
                _serve_gateway(tenants, sock, verbose, not supervisor.strip_ansi, stop, servers, supervisor)
            finally:
                stop.set()
                supervising.join(30)
                _stop_gateway_children()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return supervisor.given_up


def _serve_gateway(
    tenants: Sequence[TenantConfig],
    sock: socket.socket,
    verbose: bool,
    colors: bool,
    stop: threading.Event,
    servers: list[Any],
    supervisor: Supervisor,
) -> None:
    """Open every tenant's workspace and serve the gateway on ``sock`` until ``stop`` is set."""
    import uvicorn

    from klikkflow_pipelines.gateway.gate import MAX_GRAPHQL_BODY
    from klikkflow_pipelines.gateway.server import open_gateway
    from klikkflow_pipelines.gateway.settings import settings_from_env

    with open_gateway(settings_from_env(), {t.id: t for t in tenants}) as gateway:
        config = uvicorn.Config(
            gateway,
            log_level="info" if verbose else "warning",
            access_log=verbose,
            use_colors=colors,
            proxy_headers=False,
            ws_max_size=MAX_GRAPHQL_BODY + 64 * 1024,
            timeout_graceful_shutdown=3,
        )
        server = uvicorn.Server(config)
        servers.append(server)
        if not stop.is_set():
            host, port = sock.getsockname()[:2]
            supervisor.log("gateway", f"ready on http://{host}:{port}/")
            server.run(sockets=[sock])
