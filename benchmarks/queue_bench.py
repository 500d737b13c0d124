"""Noisy neighbours in the deployed shape: one tenant floods its queue while the others submit steadily.

Each of ``--tenants`` tenants is what production runs per tenant, on this machine:
  * its own PostgreSQL database ``klikkflow_bench_<random>_<n>`` (the tenant id is
    ``bench-<random>-<n>``, so the name is the one ``tenant_database_name`` gives), cloned from a
    template on which Dagster's schema was created once (production runs no DDL);
  * its own instance config, rendered by ``render_instance_config(tenant, production=True)`` from
    ``deploy/dagster.production.yaml`` with ``KLIKKFLOW_PG_*`` pointing at the server: pooled storage,
    ``TenantRunCoordinator`` with the plan's limits and Dagster's default 5 s dequeue interval, run
    monitoring and retries. Only the run launcher is replaced (below);
  * its own ``dagster-daemon run`` process (``DAGSTER_HOME`` = the tenant's directory): Dagster's real
    daemon, running all eight daemons the production instance asks for (queued-run coordinator,
    sensor, scheduler, backfill, asset, freshness, monitoring, retries), as a tenant's daemon pod does;
    ``dagster-daemon run`` cannot be restricted to the coordinator, and idle ones cost little. Its
    workspace is empty: the K8sRunLauncher does not call the code server to launch a run and neither
    does the benchmark's launcher, so no code-server processes are started;
  * its own submitter process, standing in for its webserver and sensor daemon: it creates each run
    and submits it with ``instance.submit_run`` (the coordinator path: tags stamped, run enqueued).

Launcher: ``BenchRunLauncher`` (this module) records the launch as an engine event, as the
K8sRunLauncher does, and then reports the run started and succeeded at once, in the daemon, standing
in for the run worker: 1,000 launches must not start 1,000 Python processes on a 2-core machine. The
runs take no time, so a plan's ``max_concurrent_runs`` caps the launches of one dequeue pass.

Scenarios, one after the other on the same tenants and daemons (the second tells its runs apart by id):
  * no flood -- baseline: the quiet tenants (all but tenant 0) submit ``--rate`` runs/s each for
    ``--duration`` s, the submitters' phases spread over one period; the noisy tenant's daemon idles;
  * flood -- the same, while tenant 0 submits ``--flood`` runs at the start, as fast as 8 threads
    can (``sensors.num_submit_workers`` of the production config), on a plan with
    ``--noisy-max-concurrent-runs`` (50: its daemon launches up to 50 runs a pass, so the flood
    drains within minutes instead of the ~20 a standard plan would take).
The quiet tenants stay on the standard plan (4 concurrent runs): at 5 s a pass that is 0.8 launches/s,
so they submit 0.5 runs/s, below what their own plan allows (1 run/s would queue them behind
themselves with no flood at all).

Queue wait of a run = its RUN_STARTING event (the daemon's launch) - its RUN_ENQUEUED event, both from
the tenant's own event log. Reported: the quiet tenants' p50/p99 queue wait without and with the flood
and their ratio (target <= 1.2x), the noisy tenant's drain time, launches/s of all tenants, Postgres
connections held (``pg_stat_activity`` sampled every 0.5 s: max per database, max in total, per
process kind), and CPU seconds of the daemons, submitters and Postgres backends. The p50 of a wait
that is mostly "time until the next 5 s pass" is noisy with ~135 runs: a 95% bootstrap interval of
each ratio is printed with it.

    python benchmarks/queue_bench.py [--tenants 4] [--flood 1000] [--rate 0.5] [--duration 90]

Needs the PostgreSQL server of ``KLIKKFLOW_PG_URL`` / ``KLIKKFLOW_PG_*`` (default postgres@127.0.0.1:5432);
creates and drops ``klikkflow_bench_<random>_*`` databases.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
from dagster import DagsterEvent, DagsterEventType, DagsterInstance
from dagster._core.launcher import LaunchRunContext, RunLauncher
from dagster._serdes import ConfigurableClass, ConfigurableClassData

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queue_fleet import Fleet, Tenant, bench_tenants, instance_yaml, process_env, tenant_fleet, wait_for_drain
from queue_stats import Sampler, ScenarioResult, cpu_seconds, print_report, read_waits

from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

SUBMIT_THREADS = 8
"""Threads of the flood's submitter: ``sensors.num_submit_workers`` of the production config."""


@dg.op
def step() -> None:
    return None


@dg.job
def bench_job() -> None:
    step()


defs = dg.Definitions(jobs=[bench_job])


class BenchRunLauncher(RunLauncher, ConfigurableClass):
    """Records the launch as the K8sRunLauncher does, then finishes the run at once (no run worker)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        """The ``dagster.yaml`` block this launcher was built from."""
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        """No settings."""
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Any) -> BenchRunLauncher:
        """Build from ``run_launcher`` in ``dagster.yaml``."""
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        """Report the launch, then the run worker's start and success."""
        run = context.dagster_run
        self._instance.report_engine_event("Launched by the benchmark launcher", run, cls=type(self))
        for event_type in (DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS):
            event = DagsterEvent(event_type_value=event_type.value, job_name=run.job_name)
            self._instance.report_dagster_event(event, run_id=run.run_id)

    def terminate(self, run_id: str) -> bool:
        """Runs finish when launched: nothing to terminate."""
        return False


def submit_main(argv: list[str]) -> None:
    """Submitter process: ``--count`` runs at ``--rate``/s (0 = at once on 8 threads) from the start time."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import (
        InProcessTestWorkspaceLoadTarget,
        create_test_daemon_workspace_context,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--phase", type=float, default=0.0, help="seconds after the start of the first run")
    args = parser.parse_args(argv)
    target = InProcessTestWorkspaceLoadTarget(
        InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__, attribute="defs"))
    )
    with DagsterInstance.get() as instance, create_test_daemon_workspace_context(target, instance) as context:
        workspace = context.create_request_context()
        location = workspace.get_code_location(workspace.code_location_names[0])
        remote = next(iter(location.get_repositories().values())).get_full_job(bench_job.name)
        origins = {
            "remote_job_origin": remote.get_remote_origin(),
            "job_code_origin": remote.get_python_origin(),
        }

        def submit(_: int) -> None:
            run = instance.create_run_for_job(bench_job, **origins)
            instance.submit_run(run.run_id, workspace)

        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        time.sleep(max(0.0, start_at - time.time()))
        cpu, started = time.process_time(), time.time()
        if args.rate > 0:
            for index in range(args.count):
                time.sleep(max(0.0, started + args.phase + index / args.rate - time.time()))
                submit(index)
        else:
            with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
                list(pool.map(submit, range(args.count)))
        seconds = time.time() - started
    print(json.dumps({"submitted": args.count, "seconds": seconds, "cpu": time.process_time() - cpu}))


def submitter(fleet: Fleet, tenant: Tenant, args: list[str]) -> subprocess.Popen:
    """Start a tenant's submitter; it prints ``ready``, then waits for a start time on stdin."""
    return subprocess.Popen(
        [sys.executable, __file__, "submit", *args],
        env=process_env(fleet.server, tenant.home, "submitter"),
        cwd=tenant.home,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def start_submitters(fleet: Fleet, args: argparse.Namespace, flood: bool) -> dict[str, subprocess.Popen]:
    """The quiet tenants' steady submitters (phases spread over one period) and, with ``flood``, the flood."""
    count, period = round(args.rate * args.duration), 1 / args.rate
    steady = ["--count", str(count), "--rate", str(args.rate)]
    jobs = {
        t.id: submitter(fleet, t, [*steady, "--phase", f"{i * period / len(fleet.quiet):.3f}"])
        for i, t in enumerate(fleet.quiet)
    }
    if flood:
        jobs[fleet.noisy.id] = submitter(fleet, fleet.noisy, ["--count", str(args.flood), "--rate", "0"])
    for tenant_id, job in jobs.items():
        if job.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the submitter of {tenant_id} failed to start")
    return jobs


def _busy_fraction(before: Any, after: Any) -> float:
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return 1 - idle / total if total else 0.0


def measure(name: str, fleet: Fleet, args: argparse.Namespace, flood: bool, seen: set[str]) -> ScenarioResult:
    """The quiet tenants submit steadily (and, with ``flood``, tenant 0 floods) until every run launched."""
    jobs = start_submitters(fleet, args, flood)
    sampler, stop = Sampler(fleet.server, fleet.prefix), threading.Event()
    sampling = threading.Thread(target=sampler.run, args=(stop,), daemon=True)
    load = os.getloadavg()[0]
    sampling.start()
    machine_before = psutil.cpu_times()
    daemons_before = {tid: cpu_seconds(pid) or 0.0 for tid, pid in fleet.daemon_pids.items()}
    start_at = time.time() + 0.5
    for job in jobs.values():
        job.stdin.write(f"{start_at}\n")
        job.stdin.flush()
    submitted = {tid: json.loads(job.communicate()[0].splitlines()[-1]) for tid, job in jobs.items()}
    drained = wait_for_drain(fleet, args.drain_timeout)
    window = time.time() - start_at
    daemon_cpu = {
        tid: (cpu_seconds(pid) or 0.0) - daemons_before[tid] for tid, pid in fleet.daemon_pids.items()
    }
    machine_busy = _busy_fraction(machine_before, psutil.cpu_times())
    stop.set()
    sampling.join()
    return ScenarioResult(
        name=name,
        noisy=fleet.noisy.id,
        waits={t.id: read_waits(fleet.server, t.database, seen) for t in fleet.tenants},
        submitted=submitted,
        drained=drained,
        window_seconds=window,
        load_average=load,
        machine_busy=machine_busy,
        daemon_cpu=daemon_cpu,
        backend_cpu=sampler.backend_cpu_seconds(),
        connections_per_database={d.rsplit("_", 1)[-1]: n for d, n in sampler.per_database.items()},
        connections_per_role=dict(sampler.per_role),
        connections_total=sampler.total,
    )


def main() -> None:
    """Start the tenants, run the no-flood baseline and then the flood on them; print the tables."""
    if sys.argv[1:2] == ["submit"]:
        submit_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=4, help="tenant 0 floods, the others are quiet")
    parser.add_argument("--flood", type=int, default=1000, help="runs the noisy tenant submits at once")
    parser.add_argument("--rate", type=float, default=0.5, help="runs/s each quiet tenant submits")
    parser.add_argument("--duration", type=float, default=90.0, help="seconds the quiet tenants submit")
    parser.add_argument("--noisy-max-concurrent-runs", type=int, default=50, help="the noisy tenant's plan")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    args = parser.parse_args()

    server = PostgresServer.from_env()
    with (
        tempfile.TemporaryDirectory() as tmp,
        tenant_fleet(server, args.tenants, args.noisy_max_concurrent_runs, Path(tmp)) as fleet,
    ):
        baseline = measure("no flood", fleet, args, flood=False, seen=set())
        flooded = measure("flood", fleet, args, flood=True, seen=baseline.run_ids())
    with server.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = cursor.fetchone()[0]
    standard = bench_tenants("bench-config", 2, args.noisy_max_concurrent_runs, Path())[1]
    print_report(args, [baseline, flooded], instance_yaml(standard.config), max_connections)


if __name__ == "__main__":
    main()
