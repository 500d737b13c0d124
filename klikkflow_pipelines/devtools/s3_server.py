"""An S3-compatible server on loopback for tests and the production rehearsal: moto's standalone server.

No real S3 server installs on this machine (Debian packages only Ceph's radosgw), so the
tests and ``make rehearse`` run ``python -m moto.server`` (from the ``dev`` extra) as a
real subprocess on a free loopback port. Processes reach it through the standard variables
of :meth:`S3Server.env` (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), exactly as a
production pod reaches its object store, and a tenant's frames through
``KLIKKFLOW_STORAGE_URL=s3://<bucket>/<prefix>``::

    with running_s3_server() as server:
        bucket = server.create_bucket("kf-rehearsal")
        env = {**server.env(), "KLIKKFLOW_STORAGE_URL": f"s3://{bucket}/acme"}

Development tooling only: Definitions never import it. moto keeps its objects in memory,
so they vanish with the server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

ACCESS_KEY_ID = "klikkflow-test"
SECRET_ACCESS_KEY = "klikkflow-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server: its endpoint, process and log (an unnamed temporary file)."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def env(self) -> dict[str, str]:
        """The ``AWS_*`` variables that point a process (boto, s3fs, KlikkFlow's frame storage) here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def create_bucket(self, prefix: str = "kf-test") -> str:
        """Create a bucket named ``<prefix>-<random>`` (unique among concurrent test runs); its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(f"{self.endpoint_url}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"moto server at {self.endpoint_url}: creating bucket {name} failed")
        return name

    def stop(self) -> None:
        """Stop the server process (its objects are gone with it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log (requests and errors)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_s3_server(host: str = "127.0.0.1", port: int | None = None, timeout: float = 60) -> S3Server:
    """Start ``python -m moto.server`` on ``host``:``port`` (a free port when ``None``) and wait until
    it answers. Raises :class:`RuntimeError` when it exits or does not answer within ``timeout`` s;
    call :meth:`S3Server.stop` when done (or use :func:`running_s3_server`)."""
    port = port or _free_port(host)
    # werkzeug logs every request: a pipe nobody reads would fill up. Closed by S3Server.stop.
    log = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(f"http://{host}:{port}", process, log)
    deadline = time.monotonic() + timeout
    while not _answers(server.endpoint_url):
        if process.poll() is not None:
            error = server.log_tail().strip()
            server.stop()
            fix = (
                "install the dev extra (pip install -e '.[dev]', which brings moto[server])"
                if "No module named" in error
                else "see the server's output (a port in use: pass another port, or none for a free one)"
            )
            raise RuntimeError(
                f"moto server on {host}:{port} exited with {process.returncode}: {error}. Fix: {fix}"
            )
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"moto server on {host}:{port} did not answer within {timeout:.0f} s")
        time.sleep(0.1)
    return server


@contextmanager
def running_s3_server(host: str = "127.0.0.1", port: int | None = None) -> Iterator[S3Server]:
    """``with running_s3_server() as server``: a moto server for the block, stopped after it."""
    server = start_s3_server(host, port)
    try:
        yield server
    finally:
        server.stop()
