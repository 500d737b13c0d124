"""Webhook events: accepted per second, and latency from accept to queued run.

10,000 signed webhook events are posted (``--concurrency`` connections) to the
webhook app running under uvicorn in its own process, with the outbox in a
fresh PostgreSQL database. Meanwhile Dagster's sensor daemon iteration (the
outbox sensor, ``minimum_interval_seconds=1``, 8 submit workers) turns them into
queued runs on a real instance (dagster-postgres, QueuedRunCoordinator).

Baseline in the same run: a bare Starlette endpoint under uvicorn that answers
202 without verifying or storing anything, hit by the same client.

Reported: accepted/s (ours, baseline, ratio, target >= 200/s) and latency from
accept (outbox ``received_at``) to the run's creation (p50/p99; target p99 <=
sensor interval + 1 s), plus how many runs were queued within ``--drain-timeout``.

    python benchmarks/events_bench.py [--events 10000] [--concurrency 32] [--drain-timeout 240]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); creates and drops
``kf_bench_*`` databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from klikkflow_pipelines.events.outbox import Outbox  # noqa: E402
from klikkflow_pipelines.events.signing import secret_env_name, signed_headers  # noqa: E402
from klikkflow_pipelines.tenancy.storage import create_storage_engine  # noqa: E402

SENSOR_INTERVAL = 1
SECRET = b"bench-secret"
DAEMON = ROOT / "tests" / "events" / "sensor_daemon.py"
SERVER = ROOT / "tests" / "events" / "webhook_server.py"

DEFS = textwrap.dedent(
    """
    import os
    import dagster as dg
    from klikkflow_pipelines.events.resources import EventStoreResource
    from sensors.outbox_events import build_outbox_sensor

    @dg.op
    def accept_event() -> None:
        pass

    @dg.job
    def intake_job() -> None:
        accept_event()

    defs = dg.Definitions(
        jobs=[intake_job],
        sensors=[build_outbox_sensor(intake_job, minimum_interval_seconds=INTERVAL, batch_size=500)],
        resources={"event_store": EventStoreResource(url=os.environ["KF_BENCH_STORE_URL"])},
    )
    """
).replace("INTERVAL", str(SENSOR_INTERVAL))

BASELINE_APP = textwrap.dedent(
    """
    import sys
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def accept(request):
        await request.body()
        return JSONResponse({"status": "accepted"}, status_code=202)

    app = Starlette(routes=[Route("/{tenant}/{workflow}", accept, methods=["POST"])])
    port = int(sys.argv[1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=60)
    """
)


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new Postgres database; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run a subprocess for the duration of the block."""
    with log.open("w") as handle:
        proc = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for(url: str, timeout: float = 30) -> None:
    """Wait until ``url`` answers at all."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            httpx.post(url, content=b"{}", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def free_port() -> int:
    """An unused loopback port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def post_all(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[float, int]:
    """POST every request with ``concurrency`` workers; return (seconds, number accepted)."""
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    accepted = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body, headers = queue.get_nowait()
            headers = headers or signed_headers(SECRET, body)  # signed when sent, as a real sender does
            for _attempt in range(5):  # a sender retries the same signed request on a dropped connection
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
                    continue
                # 409 after a retry: the earlier attempt was recorded, its answer lost.
                accepted += response.status_code in (202, 409)
                break

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, accepted


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--drain-timeout", type=float, default=240.0)
    args = parser.parse_args()

    bodies = [json.dumps({"order_id": n, "amount": n % 97}).encode() for n in range(args.events)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database("kf_bench_events") as store_url,
        fresh_database("kf_bench_dagster") as dagster_url,
    ):
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(
            "storage:\n  postgres:\n    postgres_url: " + dagster_url.replace("+psycopg2", "") + "\n"
            "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
            "sensors:\n  use_threads: true\n  num_workers: 2\n  num_submit_workers: 8\n"
            "telemetry:\n  enabled: false\n",
            encoding="utf-8",
        )
        (work / "bench_defs.py").write_text(DEFS, encoding="utf-8")
        (work / "baseline_app.py").write_text(BASELINE_APP, encoding="utf-8")
        Outbox(create_storage_engine(store_url))  # create the tables before the processes start
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "KF_BENCH_STORE_URL": store_url,
            "PYTHONPATH": str(ROOT),
            secret_env_name("bench", "intake_job"): SECRET.decode(),
        }

        # Baseline: bare endpoint, same client, same number of requests.
        port = free_port()
        with process([sys.executable, str(work / "baseline_app.py"), str(port)], env, work / "baseline.log"):
            url = f"http://127.0.0.1:{port}/bench/intake_job"
            wait_for(url)
            base_seconds, base_ok = asyncio.run(
                post_all(url, [(b, {"Content-Type": "application/json"}) for b in bodies], args.concurrency)
            )

        # KlikkFlow: signed webhooks into the outbox while the sensor daemon queues runs.
        port = free_port()
        with (
            process([sys.executable, str(SERVER), str(port), store_url], env, work / "server.log"),
            process([sys.executable, str(DAEMON), str(work / "bench_defs.py")], env, work / "daemon.log"),
        ):
            url = f"http://127.0.0.1:{port}/bench/intake_job"
            wait_for(f"http://127.0.0.1:{port}/healthz")
            seconds, ok = asyncio.run(post_all(url, [(b, {}) for b in bodies], args.concurrency))

            admin = psycopg2.connect(dagster_url.replace("postgresql+psycopg2", "postgresql"))
            admin.autocommit = True
            deadline = time.time() + args.drain_timeout
            queued = 0
            while time.time() < deadline:
                try:
                    with admin.cursor() as cur:
                        cur.execute("SELECT count(*) FROM runs")
                        queued = cur.fetchone()[0]
                except psycopg2.Error:
                    queued = 0  # tables not created yet
                if queued >= ok:
                    break
                time.sleep(1)
            drained_at = time.time()
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT t.value, extract(epoch from r.create_timestamp) FROM runs r "
                    "JOIN run_tags t ON t.run_id = r.run_id AND t.key = 'klikkflow/event_id'"
                )
                created = dict(cur.fetchall())
            admin.close()

        received = {
            e.event_id: e.received_at
            for e in Outbox(create_storage_engine(store_url)).fetch(after_seq=0, limit=10**7)
        }
        latencies = [float(created[eid]) - received[eid] for eid in created if eid in received]

    rate, base_rate = ok / seconds, base_ok / base_seconds
    first = min(received.values())
    print()
    print(
        f"{args.events} webhook events, {args.concurrency} connections, sensor interval {SENSOR_INTERVAL} s"
    )
    print(f"{'metric':<34}{'KlikkFlow':>14}{'baseline':>14}{'ratio':>8}   target")
    print(f"{'accepted events/s':<34}{rate:>14.1f}{base_rate:>14.1f}{rate / base_rate:>8.2f}   >= 200")
    print(f"{'accepted (202)':<34}{ok:>14}{base_ok:>14}")
    print(f"{'runs queued within drain timeout':<34}{len(latencies):>14}")
    if latencies:
        print(f"{'accept -> queued run p50 (s)':<34}{statistics.median(latencies):>14.2f}")
        p99 = percentile(latencies, 0.99)
        print(f"{'accept -> queued run p99 (s)':<34}{p99:>14.2f}{'':>22}<= {SENSOR_INTERVAL + 1}")
        print(f"{'runs queued per second':<34}{len(latencies) / (drained_at - first):>14.1f}")


if __name__ == "__main__":
    main()
