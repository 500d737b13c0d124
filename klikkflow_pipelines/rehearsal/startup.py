"""Starting the rehearsal: the servers, the operator's provisioning, then the processes.

The private PostgreSQL cluster and moto's S3 server start side by side; the operator's commands
provision (:mod:`.provision`) and the object-store keys are filled into the tenants' Secrets. The
code servers start first; once they answer, the daemons (whose schedulers then see the schedules
on their first iteration), the gateway and the checkpointer, under one supervisor, while the
environment scan watches every process.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace

from klikkflow_pipelines.devtools.s3_server import S3Server, start_s3_server
from klikkflow_pipelines.events.signing import secret_env_name
from klikkflow_pipelines.rehearsal.database import RehearsalDatabase, drop_platform, open_database
from klikkflow_pipelines.rehearsal.env_scan import EnvScanner
from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.pod_env import secret_env_file
from klikkflow_pipelines.rehearsal.processes import (
    checkpointer_spec,
    code_server_answers,
    free_port,
    gateway_answers,
    gateway_spec,
    tenant_pods,
    wait_until,
)
from klikkflow_pipelines.rehearsal.provision import (
    add_local_account,
    fill_env_file,
    fill_object_store,
    mount_file_secrets,
    operator_env,
    provision,
    run_cli,
)
from klikkflow_pipelines.rehearsal.secrets_map import forbidden_secrets
from klikkflow_pipelines.rehearsal.stage import Stage
from klikkflow_pipelines.rehearsal.tenants import TENANTS, WEBHOOK_WORKFLOW, member_name
from klikkflow_pipelines.tenancy.config import load_tenant_file
from klikkflow_pipelines.tenancy.deploy_settings import GATEWAY_ENV_SECRET
from klikkflow_pipelines.tenancy.secret_files import read_env_file
from klikkflow_pipelines.tenancy.supervisor import Supervisor

Say = Callable[[str], None]


def _owner_and_role(name: str) -> tuple[str, str]:
    owner, _, role = name.partition("/")
    return (role, role) if owner == "platform" else (owner, role)


def _supervise(supervisor: Supervisor, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        supervisor.check()


def start_servers(pg_admin_url: str | None, layout: Layout) -> tuple[RehearsalDatabase, S3Server]:
    """Start moto's S3 server and the private cluster (or check the given server) side by side."""
    with ThreadPoolExecutor(2) as pool:
        s3 = pool.submit(start_s3_server)
        database = pool.submit(open_database, pg_admin_url, list(TENANTS), layout.postgres_dir)
        try:
            return database.result(), s3.result()
        except BaseException:
            for future in (s3, database):
                if future.done() and future.exception() is None:
                    resource = future.result()
                    if isinstance(resource, S3Server):
                        resource.stop()
                    else:
                        close_database(resource, layout, keep=False)
            raise


def close_database(database: RehearsalDatabase, layout: Layout, keep: bool) -> None:
    """Stop (and unless ``keep`` remove) the private cluster; on a given server drop what was made."""
    if database.cluster is not None:
        database.cluster.stop(remove=not keep)
        return
    if keep:
        return
    env = operator_env(layout, database.admin_url)
    for tenant_id in TENANTS:
        args = ["tenant", "delete", tenant_id, "--drop-database", "--confirm", tenant_id]
        run_cli(args, env, layout.log_file, layout.root)
    drop_platform(database.server)


def _fill_object_stores(stage: Stage) -> None:
    """One bucket and one pair of credentials per tenant, written into its Secret's env file."""
    for tenant in stage.tenants:
        bucket = stage.s3.create_bucket(f"kf-{tenant.id}")
        fill_object_store(
            stage.layout,
            tenant.id,
            {
                "KLIKKFLOW_STORAGE_URL": f"s3://{bucket}/{tenant.id}",
                "AWS_ACCESS_KEY_ID": f"kf-{tenant.id}-{secrets.token_hex(6)}",
                "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
                "AWS_ENDPOINT_URL": stage.s3.endpoint_url,
            },
        )


def provision_stage(stage: Stage, say: Say) -> None:
    """The operator's provisioning, the object-store keys and the webhook secrets filled into the
    Secrets' env files, the mounted key files, the local accounts' passwords."""
    layout = stage.layout
    provision(layout, stage.database.admin_url, list(TENANTS), stage.database.server.port)
    say(f"provisioned with the CLI: platform init, tenant create {' '.join(TENANTS)} (see {layout.log_file})")
    stage.tenants = [load_tenant_file(layout.tenants_dir / f"{tenant_id}.yaml") for tenant_id in TENANTS]
    _fill_object_stores(stage)
    cluster = stage.database.cluster
    stage.log_offset = cluster.log_file.stat().st_size if cluster and cluster.log_file.exists() else 0
    stage.webhook_secrets = {secret_env_name(t, WEBHOOK_WORKFLOW): secrets.token_urlsafe(24) for t in TENANTS}
    fill_env_file(
        secret_env_file(layout, GATEWAY_ENV_SECRET), stage.webhook_secrets
    )  # envFrom loads every key
    mount_file_secrets(layout, list(TENANTS))
    gateway = read_env_file(secret_env_file(layout, GATEWAY_ENV_SECRET))
    stage.gateway_login = replace(
        stage.database.server, user=gateway["KLIKKFLOW_PG_USER"], password=gateway["KLIKKFLOW_PG_PASSWORD"]
    )
    stage.passwords = {t: secrets.token_urlsafe(18) for t in TENANTS}


def start_processes(stage: Stage, stack: ExitStack, say: Say) -> EnvScanner:
    """Start every process (code servers first) under one supervisor, stopped by ``stack``; the local
    accounts are made while the code loads. Returns the running environment scan."""
    layout, settings = stage.layout, stage.settings
    pods = [tenant_pods(layout, tenant, settings) for tenant in stage.tenants]
    port = free_port()
    stage.gateway_url = f"http://127.0.0.1:{port}"
    platform_specs = [
        gateway_spec(layout, stage.tenants, settings, port),
        checkpointer_spec(layout, stage.tenants, settings),
    ]
    code_servers = [spec for p in pods for spec in p.specs if "/code-server-" in spec.name]
    later = [spec for p in pods for spec in p.specs if spec not in code_servers] + platform_specs
    log = stack.enter_context(layout.log_file.open("a", encoding="utf-8", buffering=1))
    supervisor = stage.supervisor = Supervisor([*code_servers, *later], output=log)
    stack.callback(supervisor.stop)
    scanner = EnvScanner(
        roots=lambda: {
            p.popen.pid: _owner_and_role(name)
            for name, p in list(supervisor.processes.items())
            if p.popen is not None and p.popen.poll() is None
        },
        forbidden=forbidden_secrets(layout, list(TENANTS)),
        tenants=frozenset(TENANTS),
    ).start()
    stack.callback(scanner.stop)
    supervisor.start([spec.name for spec in code_servers])
    stop = threading.Event()
    threading.Thread(target=_supervise, args=(supervisor, stop), daemon=True).start()
    stack.callback(stop.set)
    with ThreadPoolExecutor(len(TENANTS)) as pool:  # the accounts are made while the code loads
        accounts = [
            pool.submit(
                add_local_account, layout, stage.database.admin_url, member_name(t), stage.passwords[t]
            )
            for t in TENANTS
        ]
        for p in pods:
            for location, port_ in p.ports.items():
                wait_until(
                    lambda port_=port_: code_server_answers(port_),
                    180,
                    f"code server {p.tenant.id}/{location}",
                )
        for account in accounts:
            account.result()
    say(f"code servers answer: {', '.join(f'{p.tenant.id}:{list(p.ports.values())}' for p in pods)}")
    supervisor.start([spec.name for spec in later])
    wait_until(lambda: gateway_answers(stage.gateway_url), 180, "the gateway's /healthz")
    say(f"daemons, checkpointer and gateway started (gateway on {stage.gateway_url})")
    return scanner
