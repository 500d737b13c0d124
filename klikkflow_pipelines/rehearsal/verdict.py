"""All of the rehearsal's checks, run once the runs have finished (:mod:`.checks` holds each one)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from klikkflow_pipelines.rehearsal import checks, triggers
from klikkflow_pipelines.rehearsal.env_scan import EnvScanner
from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.observe import audit_log_as, warehouse_tables
from klikkflow_pipelines.rehearsal.pg_log import read_activity
from klikkflow_pipelines.rehearsal.pod_env import image_env, secret_env_file
from klikkflow_pipelines.rehearsal.processes import CHECKPOINT_SECONDS
from klikkflow_pipelines.rehearsal.stage import Stage
from klikkflow_pipelines.rehearsal.tenants import TENANTS, member_name
from klikkflow_pipelines.tenancy.db_roles import Platform
from klikkflow_pipelines.tenancy.deploy_settings import GATEWAY_ENV_SECRET, tenant_env_secret
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.secret_files import read_env_file


def verifier_env(layout: Layout, login: PostgresServer) -> dict[str, str]:
    """Who runs ``klikkflow audit verify``: a platform operator with the gateway's login and keys (the
    writers' key checks the chain, the public key the checkpoints) and the witness volume."""
    gateway = read_env_file(secret_env_file(layout, GATEWAY_ENV_SECRET))
    keys = ("KLIKKFLOW_AUDIT_KEY", "KLIKKFLOW_AUDIT_PUBLIC_KEY", "KLIKKFLOW_GATEWAY_DB_URL")
    return {
        **image_env(layout, "verifier"),
        **{key: gateway[key] for key in keys},
        **login.env(),
        "KLIKKFLOW_AUDIT_WITNESS_DIR": str(layout.witness_dir),
        "KLIKKFLOW_AUDIT_CHECKPOINT_SECONDS": CHECKPOINT_SECONDS,
    }


def _stores(layout: Layout) -> dict[str, checks.TenantStore]:
    stores = {}
    for tenant in TENANTS:
        secret = read_env_file(secret_env_file(layout, tenant_env_secret(tenant)))
        stores[tenant] = checks.TenantStore(
            tenant,
            secret["KLIKKFLOW_STORAGE_URL"],
            secret["AWS_ACCESS_KEY_ID"],
            secret["AWS_SECRET_ACCESS_KEY"],
            secret["AWS_ENDPOINT_URL"],
            secret["AWS_DEFAULT_REGION"],
        )
    return stores


def _audit_checks(layout: Layout, login: PostgresServer, rows: list[checks.RunRow]) -> list[checks.Check]:
    """``klikkflow audit verify`` of each log (side by side: each is a process of its own)."""
    env = verifier_env(layout, login)
    logs = [*TENANTS, "platform"]
    with ThreadPoolExecutor(len(logs)) as pool:
        verified = dict(
            zip(logs, pool.map(lambda log: checks.verify_audit(log, env, layout.root), logs), strict=True)
        )
    found = []
    for tenant in TENANTS:
        run_ids = {row.run_id for row in rows if row.tenant == tenant and row.run_id}
        found.append(
            checks.check_audit(tenant, verified[tenant], checks.audit_writers(tenant, login), run_ids)
        )
    return [*found, checks.check_platform_audit(verified["platform"], login, Platform().database)]


def _crossing_checks(stage: Stage, login: PostgresServer, clients: dict) -> list[checks.Check]:
    """Each tenant's role against the other's database, each member against the other's GraphQL."""
    found = []
    for tenant, other in zip(TENANTS, reversed(TENANTS), strict=True):
        secret = read_env_file(secret_env_file(stage.layout, tenant_env_secret(tenant)))
        own = replace(login, user=secret["KLIKKFLOW_PG_USER"], password=secret["KLIKKFLOW_PG_PASSWORD"])
        found.append(
            checks.check_cross_database_login(
                own,
                tenant_database_name(tenant),
                tenant_database_name(other),
                password_checked=stage.database.password_checked,
            )
        )
        answer = triggers.graphql(clients[tenant], other, triggers.RUNS_QUERY)
        with audit_log_as(other, login) as log:
            refusals = [
                e for e in log.entries() if e.action == "tenant.access" and e.actor == member_name(tenant)
            ]
        logged = ", ".join(f"{e.action} {e.outcome} by {e.actor}" for e in refusals) or "nothing"
        found.append(
            checks.Check(
                f"{member_name(tenant)} is refused at /t/{other}",
                answer.status_code == 403 and [e.outcome for e in refusals] == ["denied"],
                f"POST /t/{other}/graphql as a member of {tenant} only: {answer.status_code}; "
                f"in {other}'s audit log: {logged}",
            )
        )
    return found


def run_checks(
    stage: Stage, rows: list[checks.RunRow], scanner: EnvScanner, clients: dict
) -> list[checks.Check]:
    """Every check, in the order the summary prints them (the scan is stopped here)."""
    login, supervisor = stage.gateway_login, stage.supervisor
    assert login is not None and supervisor is not None
    found = [checks.check_runs(rows), checks.check_frames(rows, _stores(stage.layout))]
    found += _audit_checks(stage.layout, login, rows)
    scanner.stop()
    runs = {t: sum(1 for row in rows if row.tenant == t and row.run_id) for t in TENANTS}
    found.append(checks.check_isolation(scanner, list(TENANTS), runs))
    cluster = stage.database.cluster
    if cluster is not None:  # read before the cross-database attempts below, which it would list
        activity = read_activity(cluster.log_file, stage.log_offset)
        warehouse = {t: warehouse_tables(t, login) for t in TENANTS}
        found.append(checks.check_database_activity(activity, cluster.admin.user, list(TENANTS), warehouse))
    found += _crossing_checks(stage, login, clients)
    restarts = {name: p.restarts for name, p in supervisor.processes.items() if p.restarts}
    found.append(
        checks.Check(
            "no process died",
            not restarts,
            ", ".join(f"{n} restarted {r}x" for n, r in restarts.items())
            or f"{len(supervisor.processes)} processes ran throughout",
        )
    )
    return found
