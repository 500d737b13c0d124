"""Webhook events: accepted per second, and latency from accept to queued run.

Signed webhook events are posted (``--concurrency`` keep-alive connections, a
lean asyncio client) to the webhook app under uvicorn in its own process, with
the outbox in a fresh PostgreSQL database. Meanwhile Dagster's sensor-daemon
iteration (the outbox sensor, ``minimum_interval_seconds=1``, 8 submit workers)
turns them into queued runs on a real instance (QueuedRunCoordinator) in its
own fresh database. Three phases, each on fresh databases:

1. burst: ``--events`` (10,000) as fast as the client can send, instance on
   KlikkFlow's pooled Postgres storage (``tenancy/pooled_postgres.py``);
2. paced: ``--paced-events`` offered at ``--rate`` events/s, same storage: the
   latency a steady stream sees when it is within run-creation capacity;
3. stock: ``--stock-events`` burst on stock dagster-postgres storage (NullPool),
   the baseline for run creation.

Baseline for acceptance, in the same run: a bare Starlette endpoint under
uvicorn that answers 202 without verifying or storing anything, same client.

Reported: accepted/s (ours, baseline, ratio; target >= 200/s), and per phase
runs queued, runs/s and latency from accept (outbox ``received_at``) to the
run's creation (p50/p99; target p99 <= sensor interval + 1 s).

    python benchmarks/events_bench.py [--events 10000] [--rate 100] [--drain-timeout 600]

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
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from http_load import Request, free_port, http_request, load  # noqa: E402

from klikkflow_pipelines.events.outbox import Outbox  # noqa: E402
from klikkflow_pipelines.events.signing import secret_env_name, signed_headers  # noqa: E402
from klikkflow_pipelines.tenancy.pooled_postgres import storage_config  # noqa: E402
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer  # noqa: E402
from klikkflow_pipelines.tenancy.storage import create_storage_engine  # noqa: E402

SENSOR_INTERVAL = 1
LOCAL_PG = PostgresServer(host="127.0.0.1", port=5432, user="postgres")
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
    LOCAL_PG.create_database(name)
    try:
        yield LOCAL_PG.url(name)
    finally:
        LOCAL_PG.drop_database(name)


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


def post_all(
    url: str, bodies: list[bytes], concurrency: int, rate: float | None = None, signed: bool = True
) -> tuple[float, int]:
    """POST every body to ``url`` (signed when sent, as a real sender does); return (seconds, accepted).

    A 409 counts as accepted: it answers a retry whose earlier attempt was recorded
    but whose answer was lost with a dropped connection.
    """

    def request(body: bytes) -> Request:
        if not signed:
            return http_request("POST", url, {"Content-Type": "application/json"}, body)
        return lambda: http_request("POST", url, signed_headers(SECRET, body), body)

    seconds, statuses = asyncio.run(load(url, [request(b) for b in bodies], concurrency, rate))
    return seconds, sum(status in (202, 409) for status in statuses)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Phase:
    """What one phase measured."""

    events: int
    seconds: float
    accepted: int
    latencies: list[float]
    runs_per_second: float

    @property
    def accepted_per_second(self) -> float:
        """Accepted events per second."""
        return self.accepted / self.seconds


def storage_yaml(dagster_url: str, pooled: bool) -> str:
    """The instance's storage block: KlikkFlow's pooled storage or stock dagster-postgres."""
    url = dagster_url.replace("+psycopg2", "")
    storage = storage_config(url) if pooled else {"postgres": {"postgres_url": url}}
    return yaml.safe_dump({"storage": storage})


def run_phase(
    work: Path, bodies: list[bytes], args: argparse.Namespace, pooled: bool, rate: float | None
) -> Phase:
    """Post ``bodies`` as signed webhooks while the sensor daemon queues runs; measure."""
    with (
        fresh_database("kf_bench_events") as store_url,
        fresh_database("kf_bench_dagster") as dagster_url,
    ):
        home = Path(tempfile.mkdtemp(dir=work))
        (home / "dagster.yaml").write_text(
            storage_yaml(dagster_url, pooled)
            + "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
            "sensors:\n  use_threads: true\n  num_workers: 2\n  num_submit_workers: 8\n"
            "telemetry:\n  enabled: false\n",
            encoding="utf-8",
        )
        Outbox(create_storage_engine(store_url))  # create the tables before the processes start
        env = bench_env(work, DAGSTER_HOME=str(home), KF_BENCH_STORE_URL=store_url)
        port = free_port()
        with (
            process([sys.executable, str(SERVER), str(port), store_url], env, home / "server.log"),
            process([sys.executable, str(DAEMON), str(work / "bench_defs.py")], env, home / "daemon.log"),
        ):
            url = f"http://127.0.0.1:{port}/bench/intake_job"
            wait_for(f"http://127.0.0.1:{port}/healthz")
            seconds, ok = post_all(url, bodies, args.concurrency, rate)
            created = wait_for_runs(dagster_url, ok, args.drain_timeout)
        if not created:
            print((home / "daemon.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
        received = {
            e.event_id: e.received_at
            for e in Outbox(create_storage_engine(store_url)).fetch(after_seq=0, limit=10**7)
        }
    latencies = [created[eid] - received[eid] for eid in created if eid in received]
    span = max(created.values()) - min(received.values()) if created else float("inf")
    return Phase(len(bodies), seconds, ok, latencies, len(created) / span)


def wait_for_runs(dagster_url: str, expected: int, timeout: float) -> dict[str, float]:
    """Wait until ``expected`` runs exist (or ``timeout``); return event id -> run creation time."""
    admin = psycopg2.connect(dagster_url.replace("postgresql+psycopg2", "postgresql"))
    admin.autocommit = True
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            try:
                with admin.cursor() as cur:
                    cur.execute("SELECT count(*) FROM runs")
                    if cur.fetchone()[0] >= expected:
                        break
            except psycopg2.Error:
                pass  # tables not created yet
            time.sleep(0.5)
        with admin.cursor() as cur:
            cur.execute(
                "SELECT t.value, extract(epoch from r.create_timestamp) FROM runs r "
                "JOIN run_tags t ON t.run_id = r.run_id AND t.key = 'klikkflow/event_id'"
            )
            return {event_id: float(at) for event_id, at in cur.fetchall()}
    finally:
        admin.close()


def bench_env(work: Path, **extra: str) -> dict[str, str]:
    """Environment of the benchmark's processes."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        secret_env_name("bench", "intake_job"): SECRET.decode(),
        **extra,
    }


def bodies_for(count: int, offset: int = 0) -> list[bytes]:
    """``count`` distinct JSON event bodies."""
    return [json.dumps({"order_id": n, "amount": n % 97}).encode() for n in range(offset, offset + count)]


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0, help="offered events/s of the paced phase")
    parser.add_argument("--paced-events", type=int, default=2_400)
    parser.add_argument("--stock-events", type=int, default=1_000)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bench_defs.py").write_text(DEFS, encoding="utf-8")
        (work / "baseline_app.py").write_text(BASELINE_APP, encoding="utf-8")
        bodies = bodies_for(args.events)

        # Baseline: bare endpoint, same client, same number of requests.
        port = free_port()
        with process(
            [sys.executable, str(work / "baseline_app.py"), str(port)], bench_env(work), work / "b.log"
        ):
            url = f"http://127.0.0.1:{port}/bench/intake_job"
            wait_for(url)
            base_seconds, base_ok = post_all(url, bodies, args.concurrency, signed=False)
        burst = run_phase(work, bodies, args, pooled=True, rate=None)
        paced = run_phase(work, bodies_for(args.paced_events), args, pooled=True, rate=args.rate)
        stock = run_phase(work, bodies_for(args.stock_events), args, pooled=False, rate=None)

    base_rate = base_ok / base_seconds
    target_p99 = SENSOR_INTERVAL + 1
    print()
    print(
        f"{args.events} webhook events, {args.concurrency} connections, sensor interval {SENSOR_INTERVAL} s"
    )
    print(f"{'accept':<44}{'KlikkFlow':>12}{'bare 202':>12}{'ratio':>8}   target")
    print(
        f"{'accepted events/s (burst)':<44}{burst.accepted_per_second:>12.1f}{base_rate:>12.1f}"
        f"{burst.accepted_per_second / base_rate:>8.2f}   >= 200"
    )
    print(f"{'accepted (202)':<44}{burst.accepted:>12}{base_ok:>12}")
    print()
    print(f"{'accept -> queued run':<44}{'runs':>8}{'runs/s':>9}{'p50 s':>9}{'p99 s':>9}   target p99")
    rows = [
        (f"burst of {burst.events}, pooled storage", burst),
        (f"paced {args.rate:g}/s x {paced.events}, pooled storage", paced),
        (f"burst of {stock.events}, stock dagster-postgres", stock),
    ]
    for label, phase in rows:
        p50 = statistics.median(phase.latencies) if phase.latencies else float("nan")
        p99 = percentile(phase.latencies, 0.99) if phase.latencies else float("nan")
        print(
            f"{label:<44}{len(phase.latencies):>8}{phase.runs_per_second:>9.1f}{p50:>9.2f}{p99:>9.2f}"
            f"   <= {target_p99}"
        )
    print(f"run creation, pooled / stock storage: {burst.runs_per_second / stock.runs_per_second:.1f}x")


if __name__ == "__main__":
    main()
