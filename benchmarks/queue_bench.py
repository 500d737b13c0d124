"""Fair dequeuing across tenants: per-tenant run limits versus a plain global limit.

100 tenants each submit a backlog of 100 runs (tenant after tenant, as a burst of
backfills arrives), 10,000 queued runs in one shared queue. Dagster's real
``QueuedRunCoordinatorDaemon.run_iteration`` dequeues them on a real instance
(PostgreSQL, dagster-postgres) whose run launcher only records launches
(Dagster's ``MockedRunLauncher``); after each iteration every launched run is
marked finished, so each iteration refills the free slots.

Scenarios (same 10,000 runs, cloned from one template database):
  * plain     -- baseline: ``max_concurrent_runs`` only (FIFO by priority);
  * per-tenant -- the same global limit plus ``tag_concurrency_limits`` on
    ``klikkflow/tenant`` with ``applyLimitPerUniqueValue`` (KlikkFlow's config).

Reported: launches per second of daemon time, and fairness = max/min share of
launches among the tenants over the first 1,000 launches (1.0 is perfectly fair;
``inf`` means some tenants got nothing). Target: fairness <= 1.5 with throughput
>= 0.8x plain.

    python benchmarks/queue_bench.py [--tenants 100] [--runs-per-tenant 100] [--first 1000]

Needs the PostgreSQL server of ``KLIKKFLOW_PG_URL`` / ``KLIKKFLOW_PG_*`` (default
postgres@127.0.0.1:5432); creates and drops ``klikkflow_bench_*`` databases.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster import DagsterEvent, DagsterEventType, DagsterInstance
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, RunsFilter
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster_shared.record import copy
from psycopg2 import sql

from klikkflow_pipelines.tenancy.config import Plan, TenantConfig
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.run_tags import TENANT_TAG, tenant_run_tags

WORKERS = 4


@dg.op
def step() -> None:
    return None


@dg.job
def backfill_job() -> None:
    step()


defs = dg.Definitions(jobs=[backfill_job])


@dataclass
class Outcome:
    """Result of one dequeue scenario."""

    name: str
    launched: int
    iterations: int
    daemon_seconds: float
    fairness: float
    starved: int

    @property
    def launches_per_second(self) -> float:
        return self.launched / self.daemon_seconds


def _instance_yaml(server: PostgresServer, database: str, runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": server.host,
                    "port": server.port,
                    "username": server.user,
                    "password": server.password or "",
                    "db_name": database,
                }
            }
        },
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            # Dagster's threaded dequeue: launches overlap their storage round trips (both scenarios)
            "config": {"dequeue_use_threads": True, "dequeue_num_workers": WORKERS},
        },
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},
        "concurrency": {"runs": runs},
        "telemetry": {"enabled": False},
    }


def _open_instance(
    home: Path, server: PostgresServer, database: str, runs: dict[str, Any]
) -> DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(_instance_yaml(server, database, runs)))
    return DagsterInstance.from_config(str(home))


def _workspace_target() -> InProcessTestWorkspaceLoadTarget:
    origin = LoadableTargetOrigin(python_file=__file__, attribute="defs")
    return InProcessTestWorkspaceLoadTarget(InProcessCodeLocationOrigin(origin))


def _execute(server: PostgresServer, statement: sql.Composable) -> None:
    with server.maintenance_cursor() as cursor:
        cursor.execute(statement)


def _clone(server: PostgresServer, template: str, database: str) -> None:
    """``CREATE DATABASE ... TEMPLATE``: every scenario starts from the identical queue."""
    with server.maintenance_cursor() as cursor:
        # pooled connections of the closed template instance may linger; a template must be idle
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (template,),
        )
        cursor.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(database), sql.Identifier(template)
            )
        )


def submit_backlog(instance: DagsterInstance, tenants: int, runs_per_tenant: int) -> None:
    """Queue ``runs_per_tenant`` runs per tenant, tenant after tenant (queue order = submission order).

    The first run goes the webserver's way (create with code origins and snapshots, submit to the
    QueuedRunCoordinator); the backlog is that run re-stored with new ids and each tenant's tags, in
    submission order, which is all the dequeue loop reads (status QUEUED, tags, origins).
    """
    with create_test_daemon_workspace_context(_workspace_target(), instance) as context:
        workspace = context.create_request_context()
        location = workspace.get_code_location(workspace.code_location_names[0])
        remote_job = next(iter(location.get_repositories().values())).get_full_job("backfill_job")
        first = instance.create_run_for_job(
            backfill_job,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        queued = instance.submit_run(first.run_id, workspace)
        instance.delete_run(first.run_id)
    for index in range(tenants):
        tags = tenant_run_tags(TenantConfig(id=f"tenant-{index:03d}", name=f"T{index}", plan=Plan()))
        runs = [copy(queued, run_id=str(uuid.uuid4()), tags=tags) for _ in range(runs_per_tenant)]
        with ThreadPoolExecutor(WORKERS) as pool:  # one tenant at a time keeps the submission order
            list(pool.map(instance.add_run, runs))


def _finish(instance: DagsterInstance, run: dg.DagsterRun) -> None:
    event = DagsterEvent(event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)
    instance.report_dagster_event(event, run_id=run.run_id)


def _finish_in_progress(instance: DagsterInstance) -> None:
    """Every launched run completes before the next dequeue pass."""
    runs = instance.get_runs(RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda run: _finish(instance, run), runs))


def fairness(tenants_of_launches: list[str], tenants: int) -> tuple[float, int]:
    """max/min launches per tenant (``inf`` when a tenant got none) and how many tenants got none."""
    counts = Counter(tenants_of_launches)
    starved = tenants - len(counts)
    return (math.inf if starved else max(counts.values()) / min(counts.values())), starved


def run_scenario(name: str, instance: DagsterInstance, tenants: int, first: int) -> Outcome:
    """Dequeue with the real daemon until ``first`` runs launched; launched runs finish between passes."""
    daemon_seconds, iterations = 0.0, 0
    with (
        create_test_daemon_workspace_context(_workspace_target(), instance) as context,
        QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon,
    ):
        while len(instance.run_launcher.queue()) < first:
            start = time.perf_counter()
            list(daemon.run_iteration(context))
            daemon_seconds += time.perf_counter() - start
            iterations += 1
            _finish_in_progress(instance)
    launched = instance.run_launcher.queue()
    ratio, starved = fairness([run.tags[TENANT_TAG] for run in launched[:first]], tenants)
    return Outcome(name, len(launched), iterations, daemon_seconds, ratio, starved)


def main() -> None:
    """Build the backlog once, clone it per scenario, run both scenarios and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--runs-per-tenant", type=int, default=100)
    parser.add_argument("--first", type=int, default=1000, help="launches the fairness is measured over")
    parser.add_argument("--max-concurrent-runs", type=int, default=100, help="global limit in both scenarios")
    parser.add_argument("--per-tenant-limit", type=int, default=1)
    args = parser.parse_args()

    server = PostgresServer.from_env()
    prefix = f"klikkflow_bench_{uuid.uuid4().hex[:8]}"
    template, databases = f"{prefix}_template", [f"{prefix}_plain", f"{prefix}_per_tenant"]
    global_only = {"max_concurrent_runs": args.max_concurrent_runs}
    per_tenant = {
        **global_only,
        "tag_concurrency_limits": [
            {"key": TENANT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": args.per_tenant_limit}
        ],
    }
    scenarios = [
        ("plain global limit (baseline)", databases[0], global_only),
        ("per-tenant limits", databases[1], per_tenant),
    ]
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _execute(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
            start = time.perf_counter()
            with _open_instance(Path(tmp) / "template", server, template, global_only) as instance:
                # pooled connections (Dagster's webserver setting) only while filling the template
                instance.optimize_for_webserver(60_000, pool_recycle=3600, max_overflow=WORKERS)
                submit_backlog(instance, args.tenants, args.runs_per_tenant)
            total = args.tenants * args.runs_per_tenant
            print(f"queued {total} runs for {args.tenants} tenants in {time.perf_counter() - start:.1f}s")
            for name, database, runs in scenarios:
                _clone(server, template, database)
                with _open_instance(Path(tmp) / database, server, database, runs) as instance:
                    outcomes.append(run_scenario(name, instance, args.tenants, args.first))
        finally:
            for database in [template, *databases]:
                _execute(
                    server,
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)),
                )

    baseline = outcomes[0]
    print(
        f"\nglobal limit {args.max_concurrent_runs}, per-tenant limit {args.per_tenant_limit}, "
        f"fairness over the first {args.first} launches\n"
    )
    columns = [
        "scenario",
        "launched",
        "iterations",
        "daemon s",
        "launches/s",
        "x plain",
        "fairness",
        "starved",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for o in outcomes:
        cells = [
            o.name,
            str(o.launched),
            str(o.iterations),
            f"{o.daemon_seconds:.2f}",
            f"{o.launches_per_second:.0f}",
            f"{o.launches_per_second / baseline.launches_per_second:.2f}",
            f"{o.fairness:.2f}",
            str(o.starved),
        ]
        print("| " + " | ".join(cells) + " |")
    result = outcomes[1]
    ok = result.fairness <= 1.5 and result.launches_per_second >= 0.8 * baseline.launches_per_second
    print(f"\ntarget (fairness <= 1.5, throughput >= 0.8x plain): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
