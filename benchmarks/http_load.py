"""A lean HTTP/1.1 load generator on asyncio streams, shared by the benchmarks.

The benchmarks run the load generator on the same cores as the server under
test. A general client (httpx) costs several times more CPU per request than a
small Starlette endpoint, so it would measure itself. This one writes prepared
request bytes on keep-alive connections and reads status, headers and a
``Content-Length`` body; nothing else (no chunked responses, no TLS).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

Request = bytes | Callable[[], bytes]  # prepared bytes, or built when sent (e.g. signed then)


def free_port() -> int:
    """An unused TCP port on loopback, for a server the benchmark starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_request(method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request to ``url``."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(
    url: str, requests: Sequence[Request], concurrency: int, rate: float | None = None, attempts: int = 5
) -> tuple[float, list[int]]:
    """Send ``requests`` to ``url``'s host over ``concurrency`` connections; return (seconds, statuses).

    With ``rate`` (requests/s), request n is not sent before ``n / rate`` seconds.
    A request whose connection drops is re-sent on a new connection, up to
    ``attempts`` times (status 0 when all fail), as a real sender retries.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    statuses = [0] * len(requests)
    pending = iter(range(len(requests)))
    started = time.perf_counter()

    async def worker() -> None:
        connection = None
        for index in pending:
            if rate:
                await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
            item = requests[index]
            request = item() if callable(item) else item
            for _attempt in range(attempts):
                try:
                    connection = connection or await asyncio.open_connection(host, port)
                    statuses[index] = await _exchange(*connection, request)
                    break
                except (ConnectionError, asyncio.IncompleteReadError, OSError):
                    connection = None
                    await asyncio.sleep(0.1)
        if connection:
            connection[1].close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses
