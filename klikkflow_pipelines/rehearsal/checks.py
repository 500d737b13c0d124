"""What the rehearsal checks, each as a :class:`Check` (name, passed, what was found).

- every triggered run succeeded (read from the tenant's instance with the gateway's login);
- each run's frames (the ``path`` of its materializations) are objects in the tenant's own bucket
  and prefix, and a tenant's bucket holds nothing outside its prefix and none of the other's frames;
- ``klikkflow audit verify --tenant <id>`` passes, and the log holds entries written by the
  gateway, by the daemon side (the compliance bridge sensor) and recorded by run workers;
- no process of one tenant (code servers, daemon, run and step workers) held another tenant's or
  the platform's secrets, and the gateway and checkpointer hold no tenant's
  (:mod:`~klikkflow_pipelines.rehearsal.env_scan`);
- after provisioning nothing connected as the admin and the only DDL was on the tenants' warehouse
  tables (:mod:`~klikkflow_pipelines.rehearsal.pg_log`);
- tenant A's role cannot log in to tenant B's database with A's password (and a wrong password
  is refused, so authentication is real), and A's gateway member is refused at B's GraphQL.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg2
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from klikkflow_pipelines.rehearsal.env_scan import EnvScanner
from klikkflow_pipelines.rehearsal.observe import audit_log_as
from klikkflow_pipelines.rehearsal.pg_log import DatabaseActivity
from klikkflow_pipelines.rehearsal.processes import executable
from klikkflow_pipelines.rehearsal.triggers import Trigger
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

BRIDGE_SOURCE = "compliance_events"
"""The ``source`` of audit entries the compliance bridge sensor appends."""


@dataclass(frozen=True)
class Check:
    """One check's outcome."""

    name: str
    ok: bool
    detail: str


@dataclass
class RunRow:
    """One triggered run, as the summary table shows it."""

    tenant: str
    trigger: str
    job: str
    run_id: str = ""
    status: str = "NOT STARTED"
    seconds: float | None = None
    frames: list[str] = field(default_factory=list)
    frames_found: int = 0


def run_frames(instance: DagsterInstance, run_id: str) -> list[str]:
    """The ``path`` metadata (frame URLs) of the run's materializations."""
    paths = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        value = materialization.metadata.get("path") if materialization else None
        if value is not None:
            paths.append(str(getattr(value, "value", value)))
    return paths


def find_run(instance: DagsterInstance, trigger: Trigger) -> DagsterRun | None:
    """The trigger's run in the tenant's instance (the first match), or ``None`` yet."""
    if trigger.match.run_id:
        return instance.get_run_by_id(trigger.match.run_id)
    # the first match: a schedule keeps firing every minute, its first run is the one awaited
    runs = instance.get_runs(
        RunsFilter(job_name=trigger.job, tags=trigger.match.tags), limit=1, ascending=True
    )
    return runs[0] if runs else None


def run_row(instance: DagsterInstance, trigger: Trigger) -> RunRow:
    """The summary row of the trigger's run (status, seconds, frames)."""
    row = RunRow(trigger.tenant, trigger.kind, trigger.job)
    run = find_run(instance, trigger)
    if run is None:
        return row
    row.run_id, row.status = run.run_id, run.status.value
    record = instance.get_run_record_by_id(run.run_id)
    if record and record.start_time and record.end_time:
        row.seconds = record.end_time - record.start_time
    if run.status == DagsterRunStatus.SUCCESS:
        row.frames = run_frames(instance, run.run_id)
    return row


def check_runs(rows: list[RunRow]) -> Check:
    """Every triggered run found and SUCCESS."""
    bad = [f"{r.tenant}/{r.trigger}/{r.job}: {r.status}" for r in rows if r.status != "SUCCESS"]
    return Check("runs succeed", not bad, "; ".join(bad) or f"{len(rows)} runs, all SUCCESS")


@dataclass(frozen=True)
class TenantStore:
    """A tenant's object store as its Secret names it."""

    tenant: str
    url: str
    key: str
    secret: str
    endpoint: str
    region: str

    def filesystem(self) -> Any:
        """An s3fs filesystem with the tenant's own credentials."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.key,
            secret=self.secret,
            endpoint_url=self.endpoint or None,
            client_kwargs={"region_name": self.region},
            use_listings_cache=False,
        )

    @property
    def bucket(self) -> str:
        """The bucket of the storage URL."""
        return self.url.removeprefix("s3://").split("/", 1)[0]

    @property
    def prefix(self) -> str:
        """``<bucket>/<prefix>``: where every object of the tenant must be."""
        return self.url.removeprefix("s3://").rstrip("/")


def check_frames(rows: list[RunRow], stores: Mapping[str, TenantStore]) -> Check:
    """Each successful run's frames are objects under its tenant's prefix; buckets hold nothing else
    and nothing of another tenant."""
    problems, found = [], 0
    listings: dict[str, list[str]] = {}
    for tenant, store in stores.items():
        listings[tenant] = [f"s3://{key}" for key in store.filesystem().find(store.bucket)]
        outside = [key for key in listings[tenant] if not key.startswith(f"s3://{store.prefix}/")]
        problems += [f"{tenant}'s bucket holds {key}, outside {store.url}" for key in outside[:3]]
    for row in rows:
        if row.status != "SUCCESS":
            continue
        store = stores[row.tenant]
        row.frames_found = sum(1 for url in row.frames if url in listings[row.tenant])
        found += row.frames_found
        for url in row.frames:
            if not url.startswith(f"s3://{store.prefix}/"):
                problems.append(f"{row.tenant} run {row.run_id[:8]} wrote {url}, outside {store.url}")
            elif url not in listings[row.tenant]:
                problems.append(f"{row.tenant} run {row.run_id[:8]}: {url} is not in the bucket")
            for other, listing in listings.items():
                if other != row.tenant and url in listing:
                    problems.append(f"{row.tenant}'s frame {url} is in {other}'s bucket")
    if not found:
        problems.append("no run recorded a frame in the object store")
    totals = ", ".join(f"{t}: {len(keys)} objects" for t, keys in listings.items())
    return Check(
        "frames in the object store", not problems, "; ".join(problems) or f"{found} frames ({totals})"
    )


def verify_audit(tenant_id: str, env: Mapping[str, str], cwd: Path) -> tuple[bool, str]:
    """``klikkflow audit verify --tenant <id>`` as a verifier runs it; (passed, its last line)."""
    result = subprocess.run(
        [executable("klikkflow"), "audit", "verify", "--tenant", tenant_id],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    return result.returncode == 0, " ".join(lines[-3:]) if lines else f"exit {result.returncode}"


@dataclass
class AuditWriters:
    """Who wrote a tenant's audit entries: the gateway's actions, the bridge's, and the runs behind them."""

    gateway: Counter = field(default_factory=Counter)
    bridge: Counter = field(default_factory=Counter)
    from_runs: Counter = field(default_factory=Counter)
    run_ids: set[str] = field(default_factory=set)


def audit_writers(tenant_id: str, login: PostgresServer) -> AuditWriters:
    """Classify the tenant's audit entries: written by the bridge sensor (daemon side; those naming a
    run recorded by that run's worker), else by the gateway (the only other writer)."""
    writers = AuditWriters()
    with audit_log_as(tenant_id, login) as log:
        for entry in log.entries():
            if entry.source != BRIDGE_SOURCE:
                writers.gateway[entry.action] += 1
                continue
            writers.bridge[entry.action] += 1
            event = json.loads(entry.details or "{}").get("compliance_event", {})
            if event.get("run_id"):
                writers.from_runs[entry.action] += 1
                writers.run_ids.add(event["run_id"])
    return writers


def check_audit(
    tenant_id: str, verified: tuple[bool, str], writers: AuditWriters, run_ids: set[str]
) -> Check:
    """``audit verify`` passed and the log has entries from the gateway, the bridge and this run's workers."""
    problems = [] if verified[0] else [f"audit verify failed: {verified[1]}"]
    if not writers.gateway:
        problems.append("no entry written by the gateway")
    if not writers.bridge:
        problems.append("no entry written by the compliance bridge sensor")
    if not writers.run_ids & run_ids:
        problems.append("no compliance event recorded by one of the rehearsal's run workers")

    def actions(counter: Counter) -> str:
        return ", ".join(f"{action} x{n}" for action, n in sorted(counter.items())) or "none"

    bridged = sum(writers.bridge.values())
    detail = (
        f"{verified[1]} | gateway: {actions(writers.gateway)} | bridge sensor: {bridged} entries, "
        f"from {len(writers.run_ids & run_ids)} run workers: {actions(writers.from_runs)}"
    )
    return Check(f"audit log of {tenant_id}", not problems, "; ".join([*problems, detail]))


def check_platform_audit(verified: tuple[bool, str], login: PostgresServer, database: str) -> Check:
    """``audit verify --tenant platform`` passed and the platform log holds the gateway's sign-ins."""
    with audit_log_as("platform", login, database) as log:
        actions = Counter(entry.action for entry in log.entries())
    problems = [] if verified[0] else [f"audit verify failed: {verified[1]}"]
    if not actions["signin"]:
        problems.append("no sign-in entry")
    summary = ", ".join(f"{action} x{n}" for action, n in sorted(actions.items()))
    return Check(
        "audit log of the platform", not problems, "; ".join([*problems, f"{verified[1]} | {summary}"])
    )


def check_isolation(scanner: EnvScanner, tenants: list[str], runs_per_tenant: Mapping[str, int]) -> Check:
    """No leak was found, and each tenant's code server, daemon, run and step workers were scanned."""
    problems = [
        f"{leak.owner} {leak.role} (pid {leak.pid}) holds {leak.secret} in its {leak.where}"
        for leak in scanner.leaks
    ]
    problems += [f"scanner error: {error}" for error in scanner.errors[:3]]
    seen = []
    for tenant in tenants:
        counts = {role: scanner.seen(tenant, role) for role in ("daemon", "run worker", "step worker")}
        counts["code server"] = sum(
            1 for p in scanner.processes.values() if p.owner == tenant and p.role.startswith("code-server")
        )
        if not counts["code server"] or not counts["daemon"]:
            problems.append(f"{tenant}: its code server or daemon was never scanned")
        wanted = runs_per_tenant.get(tenant, 1)
        if counts["run worker"] < wanted:
            problems.append(
                f"{tenant}: {counts['run worker']} run workers scanned, fewer than its {wanted} runs"
            )
        seen.append(f"{tenant}: " + ", ".join(f"{n} {role}" for role, n in counts.items()))
    total = len(scanner.processes)
    return Check(
        "secrets stay in their pods",
        not problems,
        "; ".join(problems) or f"{total} processes scanned, no foreign secret ({'; '.join(seen)})",
    )


def check_cross_database_login(
    tenant: PostgresServer, own_database: str, other_database: str, *, password_checked: bool
) -> Check:
    """The tenant's role logs in to its own database, not to the other's; a wrong password is refused."""
    problems = []

    def connect(database: str, password: str) -> str | None:
        try:
            replace(tenant, password=password).connect(database).close()
        except psycopg2.OperationalError as error:
            return str(error).strip().splitlines()[-1]
        return None

    if (error := connect(own_database, tenant.password)) is not None:
        problems.append(f"{tenant.user} cannot log in to its own {own_database}: {error}")
    refused = connect(other_database, tenant.password)
    if refused is None:
        problems.append(f"{tenant.user} logged in to {other_database}")
    wrong = connect(own_database, tenant.password + "x") if password_checked else "(server trusts TCP)"
    if wrong is None:
        problems.append(f"{tenant.user} logged in with a wrong password")
    detail = f"{tenant.user} -> {other_database}: {refused}; wrong password: {wrong}"
    return Check(f"{tenant.user} stays out of {other_database}", not problems, "; ".join([*problems, detail]))


def check_database_activity(
    activity: DatabaseActivity, admin: str, tenant_ids: list[str], warehouse: Mapping[str, set[str]]
) -> Check:
    """After provisioning nothing connected as the admin, no tenant role reached another database, and
    the only DDL was on the tenants' own warehouse tables (``warehouse``: tenant id -> table names):
    no running process created or changed a Dagster, KlikkFlow or audit table."""
    problems = [
        f"{n} connections as the admin {admin} to {db}"
        for (user, db), n in activity.connections.items()
        if user == admin
    ]
    data_ddl: Counter = Counter()
    for tenant in tenant_ids:
        role = tenant_database_name(tenant)
        problems += [
            f"{role} connected to {db}" for (user, db) in activity.connections if user == role and db != role
        ]
    allowed = {tenant_database_name(t): tables for t, tables in warehouse.items()}
    for ddl in activity.ddl:
        if ddl.table and ddl.table in allowed.get(ddl.database, set()):
            data_ddl[f"{ddl.database}.warehouse.{ddl.table}"] += 1
        else:
            problems.append(f"{ddl.user} ran DDL in {ddl.database}: {ddl.sql}")
    connections = ", ".join(f"{user}->{db} x{n}" for (user, db), n in sorted(activity.connections.items()))
    tables = ", ".join(sorted(data_ddl)) or "none"
    return Check(
        "running processes: own roles, no platform DDL",
        not problems,
        "; ".join(problems[:8])
        or f"DDL only on warehouse data tables ({tables}); connections: {connections}",
    )
