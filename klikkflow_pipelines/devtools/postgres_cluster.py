"""A private PostgreSQL cluster on loopback with password authentication, for tests and the rehearsal.

The machine's server on 127.0.0.1:5432 trusts every TCP connection, so a wrong password is
never refused there. :func:`start_postgres_cluster` runs ``initdb`` into a new directory with
``scram-sha-256`` for every TCP connection (``trust`` only on its private Unix socket) and starts
``postgres`` on a free loopback port, so a role's password is checked exactly as on a production
server::

    with running_postgres_cluster() as cluster:
        server = cluster.admin  # a PostgresServer for the superuser, with its password
        os.environ["KLIKKFLOW_PG_ADMIN_URL"] = cluster.admin_url

As root, the cluster belongs to the ``postgres`` OS user (PostgreSQL refuses to run as root):
``initdb`` and ``pg_ctl`` run through ``runuser -u postgres``. Otherwise they run as the current
user. It takes about 3 s to start. Development tooling only: Definitions never import it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from klikkflow_pipelines.tenancy.db_roles import new_password
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

SUPERUSER = "postgres"
SERVER_OS_USER = "postgres"
"""The OS user the cluster runs as when this process is root."""


class PostgresClusterError(RuntimeError):
    """The private cluster could not be created or started (the message names the fix)."""


def find_bindir() -> Path:
    """PostgreSQL's server binaries: ``pg_config --bindir`` if it holds ``initdb``, else the newest
    ``/usr/lib/postgresql/<version>/bin``."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    candidates += [Path(p) for p in reversed(versions) if Path(p).parent.name.isdigit()]
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise PostgresClusterError(
        "no PostgreSQL server binaries (initdb, pg_ctl) found via `pg_config --bindir` or in "
        "/usr/lib/postgresql/*/bin. Fix: apt-get install postgresql (or pass --pg-admin-url to use a "
        "running server)"
    )


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class PostgresCluster:
    """A running private cluster: its directory, port and superuser password."""

    directory: Path
    port: int
    password: str
    bindir: Path
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (``PGDATA``)."""
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.directory / "postgres.log"

    @property
    def admin(self) -> PostgresServer:
        """The superuser's connection settings (password authenticated over TCP)."""
        return PostgresServer(host=self.host, port=self.port, user=SUPERUSER, password=self.password)

    @property
    def admin_url(self) -> str:
        """``postgresql://postgres:<password>@127.0.0.1:<port>/``, as ``KLIKKFLOW_PG_ADMIN_URL`` takes it."""
        return f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self.port}/"

    def pg_ctl(self, *args: str) -> list[str]:
        """A ``pg_ctl`` command line for this cluster, run as the cluster's OS user."""
        return [*_as_server_user(), str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), *args]

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log."""
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, remove: bool = True) -> None:
        """Stop the server (fast shutdown) and, with ``remove``, delete its directory."""
        if (self.data_dir / "postmaster.pid").exists():
            subprocess.run(
                self.pg_ctl("-m", "fast", "-w", "-t", "30", "stop"), capture_output=True, check=False
            )
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)


def _as_server_user() -> list[str]:
    return ["runuser", "-u", SERVER_OS_USER, "--"] if os.geteuid() == 0 else []


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        owner = pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise PostgresClusterError(
            f"running as root, but there is no OS user {SERVER_OS_USER!r} to run PostgreSQL as (it refuses "
            "to run as root). Fix: install the postgresql package (it creates the user), or run as a "
            "non-root user"
        ) from None
    os.chown(path, owner.pw_uid, owner.pw_gid)


def _run(command: list[str], what: str, fix: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-1500:]
        raise PostgresClusterError(f"{what} failed with exit code {result.returncode}: {output}. Fix: {fix}")


def _answers(cluster: PostgresCluster) -> bool:
    try:
        cluster.admin.connect().close()
    except psycopg2.OperationalError:
        return False
    return True


def start_postgres_cluster(
    base_dir: Path | None = None,
    port: int | None = None,
    timeout: float = 60,
    settings: Mapping[str, str] | None = None,
) -> PostgresCluster:
    """Create and start a private cluster under ``base_dir`` (default: a new temporary directory,
    which must be reachable by the cluster's OS user) on 127.0.0.1:``port`` (free when ``None``).
    ``settings`` are added to its ``postgresql.conf`` (e.g. ``{"log_statement": "ddl"}``).

    Raises :class:`PostgresClusterError` naming the fix when the binaries are missing or the server
    does not start; call :meth:`PostgresCluster.stop` when done (or use :func:`running_postgres_cluster`).
    """
    bindir = find_bindir()
    directory = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="klikkflow-pg-"))
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _give_to_server_user(directory)
    cluster = PostgresCluster(directory, port or _free_port("127.0.0.1"), new_password(), bindir)
    password_file = directory / "superuser.pw"
    password_file.write_text(cluster.password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    _give_to_server_user(password_file)
    initdb = [*_as_server_user(), str(bindir / "initdb"), "-D", str(cluster.data_dir), "-U", SUPERUSER]
    initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}"]
    initdb += ["--no-sync", "--encoding=UTF8", "--locale=C"]
    try:
        _run(
            initdb,
            "initdb",
            f"check that the OS user running it may write {directory} (and every directory above it is "
            "searchable by it), or pass --pg-admin-url",
        )
    finally:
        password_file.unlink(missing_ok=True)
    if settings:
        with (cluster.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            for name, value in settings.items():
                quoted = value.replace("'", "''")
                conf.write(f"{name} = '{quoted}'\n")
    options = f"-p {cluster.port} -k {directory} -c listen_addresses={cluster.host} -c fsync=off"
    try:
        _run(
            cluster.pg_ctl(
                "-o", options, "-l", str(cluster.log_file), "-w", "-t", str(int(timeout)), "start"
            ),
            f"starting PostgreSQL on {cluster.host}:{cluster.port}",
            "see the server log above (a port in use: start again for another free port)",
        )
    except PostgresClusterError as error:
        log = cluster.log_tail()
        cluster.stop()
        raise PostgresClusterError(f"{error}\nserver log:\n{log}") from None
    deadline = time.monotonic() + timeout
    while not _answers(cluster):
        if time.monotonic() > deadline:
            log = cluster.log_tail()
            cluster.stop()
            raise PostgresClusterError(
                f"PostgreSQL on {cluster.host}:{cluster.port} accepted no password login within "
                f"{timeout:.0f} s. Server log:\n{log}"
            )
        time.sleep(0.1)
    return cluster


@contextmanager
def running_postgres_cluster(
    base_dir: Path | None = None, *, keep: bool = False, settings: Mapping[str, str] | None = None
) -> Iterator[PostgresCluster]:
    """``with running_postgres_cluster() as cluster``: a private cluster for the block, stopped after
    it and its directory removed (kept, stopped, with ``keep``)."""
    cluster = start_postgres_cluster(base_dir, settings=settings)
    try:
        yield cluster
    finally:
        cluster.stop(remove=not keep)
