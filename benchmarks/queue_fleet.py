"""The tenants of ``queue_bench.py``: own database, rendered production instance, own daemon process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance
from psycopg2 import sql

from klikkflow_pipelines.tenancy.config import Plan, TenantConfig
from klikkflow_pipelines.tenancy.instance import render_instance_config, tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LAUNCHER = {"module": "queue_bench", "class": "BenchRunLauncher"}
OBSERVER = "kf-bench-observer"
"""``application_name`` of the benchmark's own connections (never counted as held by a tenant)."""
POLL_SECONDS = 0.5


@dataclass
class Tenant:
    """One benchmark tenant: its config and Dagster home; tenant 0 is the noisy one."""

    config: TenantConfig
    home: Path

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def database(self) -> str:
        """``klikkflow_bench_<random>_<n>``, the name production gives tenant ``bench-<random>-<n>``."""
        return tenant_database_name(self.config.id)


@dataclass
class Fleet:
    """The running tenants: their daemons' process ids and the database prefix they share."""

    server: PostgresServer
    tenants: list[Tenant]
    daemon_pids: dict[str, int]
    prefix: str

    @property
    def noisy(self) -> Tenant:
        return self.tenants[0]

    @property
    def quiet(self) -> list[Tenant]:
        return self.tenants[1:]


def bench_tenants(prefix: str, count: int, noisy_limit: int, work: Path) -> list[Tenant]:
    """Tenant 0 on a plan of ``noisy_limit`` concurrent runs, the others on the standard plan."""
    tenants = []
    for index in range(count):
        plan = Plan(name="flood", max_concurrent_runs=noisy_limit) if index == 0 else Plan()
        config = TenantConfig(id=f"{prefix}-{index}", name=f"Bench {index}", plan=plan)
        tenants.append(Tenant(config, work / config.id))
    return tenants


def instance_yaml(tenant: TenantConfig) -> dict[str, Any]:
    """The tenant's production ``dagster.yaml`` (``render_instance_config``), with the benchmark launcher."""
    config = render_instance_config(tenant, production=True)
    config["run_launcher"] = dict(LAUNCHER)
    return config


def write_home(home: Path, config: dict[str, Any]) -> Path:
    """Write ``dagster.yaml`` into ``home``; return ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return home


def process_env(server: PostgresServer, home: Path, role: str) -> dict[str, str]:
    """Environment of a tenant process; ``PGAPPNAME`` tells its connections apart in pg_stat_activity."""
    return {
        **os.environ,
        **server.env(),
        "KLIKKFLOW_ENV": "production",
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH_DIR)]),
        "PGAPPNAME": f"kf-bench-{role}",
    }


def observer_connection(server: PostgresServer, database: str) -> Any:
    """The benchmark's own autocommit connection to a tenant database (the caller closes it)."""
    connection = server.connect(database, application_name=OBSERVER)
    connection.autocommit = True
    return connection


def create_schema(server: PostgresServer, name: str, tenant: TenantConfig, home: Path) -> None:
    """Dagster's schema in database ``name``, created once (as a migration would) to clone tenants from."""
    config = instance_yaml(tenant)
    storage = config["storage"]["custom"]["config"]
    storage["postgres_db"]["db_name"] = name
    storage["should_autocreate_tables"] = True
    os.environ.update(server.env())  # the config reads KLIKKFLOW_PG_* in this process too
    with DagsterInstance.from_config(str(write_home(home, config))):
        pass


@contextmanager
def daemon(server: PostgresServer, tenant: Tenant) -> Iterator[subprocess.Popen]:
    """The tenant's ``dagster-daemon run``; its process group is stopped at the end of the block."""
    argv = [str(Path(sys.executable).with_name("dagster-daemon")), "run", "--empty-workspace"]
    with (tenant.home / "daemon.log").open("w") as log:
        proc = subprocess.Popen(
            argv,
            env=process_env(server, tenant.home, "daemon"),
            cwd=tenant.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for_coordinators(server: PostgresServer, tenants: list[Tenant], timeout: float = 120) -> None:
    """Wait until every tenant's queued-run coordinator has written a heartbeat."""
    deadline = time.time() + timeout
    for tenant in tenants:
        connection = observer_connection(server, tenant.database)
        try:
            while True:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT 1 FROM daemon_heartbeats WHERE daemon_type = 'QUEUED_RUN_COORDINATOR'"
                    )
                    if cursor.fetchone():
                        break
                if time.time() > deadline:
                    log = (tenant.home / "daemon.log").read_text(encoding="utf-8")[-3000:]
                    raise RuntimeError(f"the daemon of {tenant.id} did not start:\n{log}")
                time.sleep(POLL_SECONDS)
        finally:
            connection.close()


def wait_for_drain(fleet: Fleet, timeout: float) -> bool:
    """Wait until no tenant has a run waiting or starting; False on timeout."""
    deadline = time.time() + timeout
    connections = [observer_connection(fleet.server, t.database) for t in fleet.tenants]
    try:
        while time.time() < deadline:
            pending = 0
            for connection in connections:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM runs WHERE status IN ('NOT_STARTED', 'QUEUED', 'STARTING')"
                    )
                    pending += cursor.fetchone()[0]
            if not pending:
                return True
            time.sleep(POLL_SECONDS)
        return False
    finally:
        for connection in connections:
            connection.close()


@contextmanager
def tenant_fleet(server: PostgresServer, count: int, noisy_limit: int, work: Path) -> Iterator[Fleet]:
    """``count`` tenants with their databases and running daemons; everything is dropped afterwards."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    tenants = bench_tenants(prefix, count, noisy_limit, work)
    template = tenant_database_name(prefix) + "_template"
    created: list[str] = []
    try:
        server.create_database(template)
        created.append(template)
        create_schema(server, template, tenants[0].config, work / "template")
        for tenant in tenants:
            with server.cursor() as cursor:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(tenant.database), sql.Identifier(template)
                    )
                )
            created.append(tenant.database)
            write_home(tenant.home, instance_yaml(tenant.config))
        server.drop_database(created.pop(0))  # the template
        with ExitStack() as stack:
            pids = {t.id: stack.enter_context(daemon(server, t)).pid for t in tenants}
            wait_for_coordinators(server, tenants)
            yield Fleet(server, tenants, pids, tenant_database_name(prefix) + "_")
    finally:
        for database in created:
            server.drop_database(database)
