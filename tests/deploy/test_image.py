"""The image builds and runs a tenant's workflows the way the pods run it.

Opt-in (``KLIKKFLOW_TEST_IMAGE=1``, and a Docker engine that answers); skipped otherwise, so
``make test`` never builds an image. ``make image-test`` runs it. The module builds
``deploy/Dockerfile`` with ``deploy/image/build_image.sh`` (on the debootstrapped base unless
``PYTHON_IMAGE`` names another; an unchanged tree rebuilds from cache in seconds, a cold build
takes minutes and needs the package index), then starts containers as the Helm values run pods:
uid 10001, read-only root filesystem, a tmpfs on /tmp, every capability dropped, no privilege
escalation.

Production runs take the production path end to end. A throwaway tenant ``img-<random>`` is
provisioned with the real CLI, ``klikkflow tenant create <id> --storage postgres`` on the admin
connection to the host's PostgreSQL (roles, database, migrations, secret env files, in a scratch
``KLIKKFLOW_HOME`` and tenants directory); the container gets the Helm values' plain tenant
environment and the generated ``kf-<id>-env.env`` with ``--env-file`` (the tenant role's login,
never the admin's), and reaches Postgres through the host network. Afterwards ``klikkflow tenant
delete <id> --drop-database`` drops the database and both roles.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.db_roles import drop_tenant_database, tenant_audit_role
from klikkflow_pipelines.tenancy.deploy_settings import RUN_USER_ID, DeploySettings
from klikkflow_pipelines.tenancy.helm_values import render_helm_values, tenant_env
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.secret_files import read_env_file

IMAGE = os.environ.get("KLIKKFLOW_TEST_IMAGE_TAG", "klikkflow:dev")
DOCKER = os.environ.get("DOCKER", "docker")
TENANTS_MOUNT = "/etc/klikkflow/tenants"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # where the chart mounts the instance ConfigMap
DEMO_RUNS = 5  # three onboarding drops, one claims business date, one operations report
ADMIN = PostgresServer()  # postgres on 127.0.0.1:5432: the provisioning commands' admin connection
POD_SETTINGS = DeploySettings(postgres_host="127.0.0.1", postgres_port=5432)  # the host network


def _skip_reason() -> str | None:
    if os.environ.get("KLIKKFLOW_TEST_IMAGE") != "1":
        return "builds and runs the image only with KLIKKFLOW_TEST_IMAGE=1 (make image-test)"
    try:
        subprocess.run([DOCKER, "version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"KLIKKFLOW_TEST_IMAGE=1 but the Docker engine does not answer `{DOCKER} version`: {exc}"
    return None


SKIP_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


@pytest.fixture(scope="module")
def image() -> str:
    """The image of this tree: built by ``build_image.sh`` (from cache when nothing changed)."""
    subprocess.run(
        [str(PROJECT_ROOT / "deploy" / "image" / "build_image.sh"), IMAGE],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    return IMAGE


def run_container(
    image: str,
    *command: str,
    env: dict[str, str] | None = None,
    env_file: Path | None = None,
    mounts: tuple[tuple[Path, str], ...] = (),
    read_only: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a new container shaped like a tenant pod; it is removed afterwards."""
    name = f"kf-image-test-{uuid.uuid4().hex[:10]}"
    args = [DOCKER, "run", "--rm", "--name", name, "--user", f"{RUN_USER_ID}:{RUN_USER_ID}"]
    args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp"]
    args += ["--network", "host", "-e", "COLUMNS=200"]  # host network: the host's PostgreSQL
    args += ["--read-only"] if read_only else []
    args += ["--env-file", str(env_file)] if env_file else []
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    for source, target in mounts:
        args += ["-v", f"{source}:{target}:ro"]
    try:
        return subprocess.run([*args, image, *command], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True, timeout=60)
        raise


def klikkflow_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``klikkflow <args>`` of this tree in a subprocess with ``env`` (no other ``KLIKKFLOW_*``)."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("KLIKKFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "klikkflow_pipelines.cli", *args],
        env=inherited | {"COLUMNS": "200"} | env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass(frozen=True)
class ImageTenant:
    """A throwaway tenant provisioned by ``klikkflow tenant create --storage postgres``."""

    id: str
    tenants_dir: Path
    env_file: Path
    instance_file: Path
    admin_password: str

    @property
    def database(self) -> str:
        return tenant_database_name(self.id)

    @property
    def login(self) -> str:
        """The tenant's login role, which its pods (and so the container) connect as."""
        return tenant_database_name(self.id)

    def env(self) -> dict[str, str]:
        """The non-secret environment the Helm values give the tenant's pods, and the tenants mount."""
        tenant = load_tenant(self.id, self.tenants_dir)
        return tenant_env(tenant, POD_SETTINGS) | {"KLIKKFLOW_TENANTS_DIR": TENANTS_MOUNT}

    def query(self, statement: str, **params: object) -> list[sa.Row]:
        """Rows of ``statement`` on the tenant's database, read from the host on the admin connection."""
        engine = sa.create_engine(ADMIN.url(self.database))
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(statement), params))
        finally:
            engine.dispose()

    def tables(self, schema: str) -> dict[str, str]:
        """Each table of ``schema`` in the tenant's database, with its owner."""
        rows = self.query("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = :s", s=schema)
        return dict(rows)


def _leftovers(tenant_id: str) -> list[str]:
    """The tenant's database and roles still on the server."""
    names = [tenant_database_name(tenant_id), tenant_audit_role(tenant_id)]
    with ADMIN.cursor() as cursor:
        cursor.execute(
            "SELECT 'role ' || rolname FROM pg_roles WHERE rolname = ANY(%s) "
            "UNION ALL SELECT 'database ' || datname FROM pg_database WHERE datname = ANY(%s)",
            (names, names),
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def image_tenant(tmp_path: Path, klikkflow_home: Path) -> Iterator[ImageTenant]:
    """Tenant ``img-<random>``: the default tenant's file under a new id, provisioned by the CLI.

    ``klikkflow tenant create <id> --storage postgres --pod-pg-host 127.0.0.1`` runs against
    127.0.0.1:5432 as the admin ``postgres`` (with a random password in its URL: this server
    trusts loopback connections and ignores it, and the tests look for it where it must not be),
    in the scratch ``KLIKKFLOW_HOME``, tenants and deploy directories. It creates the tenant's
    login and audit roles, its database and every table (migrations, as the tenant role), and
    writes ``$KLIKKFLOW_HOME/platform/secrets/kf-<id>-env.env`` and the production instance
    config. ``klikkflow tenant delete <id> --drop-database`` removes them afterwards; the
    teardown fails if a role or the database survived it (after dropping them itself).
    """
    tenant_id = f"img-{uuid.uuid4().hex[:10]}"
    admin_password = secrets.token_hex(16)
    tenants_dir = tmp_path / "tenants"
    tenants_dir.mkdir(mode=0o755)
    tenant = yaml.safe_load((PROJECT_ROOT / "deploy" / "tenants" / "default.yaml").read_text())
    tenant |= {"id": tenant_id, "policy": "/opt/klikkflow/deploy/policies/default.yaml"}
    (tenants_dir / f"{tenant_id}.yaml").write_text(yaml.safe_dump(tenant, sort_keys=False))
    (tenants_dir / f"{tenant_id}.yaml").chmod(0o644)
    cli_env = {
        "KLIKKFLOW_HOME": str(klikkflow_home),
        "KLIKKFLOW_DEPLOY_DIR": str(tmp_path / "deploy"),
        "KLIKKFLOW_PG_ADMIN_URL": f"postgresql://{ADMIN.user}:{admin_password}@{ADMIN.host}:{ADMIN.port}/",
    }
    where = ("--tenants-dir", str(tenants_dir))
    try:
        created = klikkflow_cli(
            *("tenant", "create", tenant_id, "--storage", "postgres"),
            *("--pod-pg-host", POD_SETTINGS.postgres_host, "--pod-pg-port", str(POD_SETTINGS.postgres_port)),
            *where,
            env=cli_env,
        )
        assert created.returncode == 0, _output(created)
        yield ImageTenant(
            tenant_id,
            tenants_dir,
            env_file=klikkflow_home / "platform" / "secrets" / f"kf-{tenant_id}-env.env",
            instance_file=klikkflow_home / "tenants" / tenant_id / "dagster.yaml",
            admin_password=admin_password,
        )
    finally:
        deleted = klikkflow_cli(
            *("tenant", "delete", tenant_id, "--drop-database", "--confirm", tenant_id), *where, env=cli_env
        )
        left = _leftovers(tenant_id)
        if left:  # never leave them on the shared server, whatever failed
            drop_tenant_database(ADMIN, tenant_id)
        assert deleted.returncode == 0, _output(deleted)
        assert not left, f"`klikkflow tenant delete --drop-database` left {left}"


@contextmanager
def session_logins(tenant: ImageTenant) -> Iterator[set[str]]:
    """The login of every session on the tenant's database while the block runs, polled from the
    host every 0.1 s on the maintenance database (so the poll is not one of them)."""
    logins: set[str] = set()
    stop = threading.Event()

    def poll() -> None:
        with ADMIN.cursor() as cursor:  # autocommit: each poll sees the sessions of that moment
            while not stop.wait(0.1):
                cursor.execute("SELECT usename FROM pg_stat_activity WHERE datname = %s", (tenant.database,))
                logins.update(row[0] for row in cursor.fetchall())

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield logins
    finally:
        stop.set()
        poller.join(timeout=30)


def _assert_tenant_login_only(image: str, tenant: ImageTenant) -> None:
    """The container's environment logs in as the tenant role; the admin's login is nowhere in it."""
    assert stat.S_IMODE(tenant.env_file.stat().st_mode) == 0o600
    secret = read_env_file(tenant.env_file)
    assert secret["KLIKKFLOW_PG_USER"] == tenant.login
    assert secret["KLIKKFLOW_PG_PASSWORD"] not in ("", tenant.admin_password)
    result = run_container(image, "env", env=tenant.env(), env_file=tenant.env_file, timeout=120)
    assert result.returncode == 0, _output(result)
    lines = result.stdout.splitlines()
    assert f"KLIKKFLOW_PG_USER={tenant.login}" in lines
    assert f"KLIKKFLOW_PG_PASSWORD={secret['KLIKKFLOW_PG_PASSWORD']}" in lines
    assert tenant.admin_password not in result.stdout
    assert not [line for line in lines if line.startswith(("KLIKKFLOW_PG_ADMIN_URL=", "KLIKKFLOW_PG_URL="))]
    assert not re.search(r"\bpostgres(ql)?(\+psycopg2)?://postgres[:@]", result.stdout)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(
        (
            f"exit {result.returncode}",
            "--- stdout",
            result.stdout[-6000:],
            "--- stderr",
            result.stderr[-6000:],
        )
    )


def test_runs_as_the_pods_user_and_a_run_cannot_rewrite_the_image(image: str) -> None:
    """Attack: code in a run rewrites the code or tenant files the next run loads.

    With the root filesystem read-only (the pods' setting) nothing outside /tmp is writable; even
    where a cluster forgets readOnlyRootFilesystem, uid 10001 owns none of the code. The CA bundle
    handed to pip at build time is a build secret, in no layer of the image.
    """
    probe = textwrap.dedent(
        """
        import os, pathlib
        print("uid", os.getuid(), os.getgid())
        for target in (
            "/opt/klikkflow/klikkflow_pipelines/definitions.py",
            "/opt/klikkflow/deploy/tenants/x.yaml",
            "/opt/venv/lib/python3.11/site-packages/x.pth",
            "/opt/venv/bin/x",
            "/etc/x",
        ):
            try:
                pathlib.Path(target).write_text("")
                print("WROTE", target)
            except OSError as exc:
                print("refused", target, exc.strerror)
        pathlib.Path("/tmp/ok").write_text("ok")
        print("pip_ca", os.path.exists("/run/secrets/pip_ca"), "PIP_CERT" in os.environ)
        """
    )
    for read_only in (True, False):
        result = run_container(image, "python", "-c", probe, read_only=read_only, timeout=120)
        assert result.returncode == 0, _output(result)
        assert f"uid {RUN_USER_ID} {RUN_USER_ID}" in result.stdout
        assert "WROTE" not in result.stdout, _output(result)
        assert result.stdout.count("refused") == 5
        assert "pip_ca False False" in result.stdout


def test_demo_on_the_embedded_instance(image: str) -> None:
    """``klikkflow demo`` inside the container: every sample workflow on SQLite under /tmp."""
    result = run_container(image, "klikkflow", "demo", env={"KLIKKFLOW_ENV": "local"})
    assert result.returncode == 0, _output(result)
    assert result.stdout.count(" success ") == DEMO_RUNS, _output(result)


def test_demo_in_production_on_the_tenants_database(image: str, image_tenant: ImageTenant) -> None:
    """Every sample workflow with KLIKKFLOW_ENV=production: runs, events and warehouse in Postgres.

    Made by the tenant's login role (every session on its database while the demo runs is that
    role's) in the tables the migrations created: the runs create none of Dagster's or
    KlikkFlow's, only the warehouse tables, which the tenant role then owns.
    """
    _assert_tenant_login_only(image, image_tenant)
    migrated = image_tenant.tables("public")
    assert set(migrated.values()) == {image_tenant.login, tenant_audit_role(image_tenant.id)}
    assert image_tenant.tables("warehouse") == {}
    with session_logins(image_tenant) as logins:
        result = run_container(
            image,
            *("klikkflow", "demo", "--tenant", image_tenant.id),
            env=image_tenant.env(),
            env_file=image_tenant.env_file,
            mounts=((image_tenant.tenants_dir, TENANTS_MOUNT),),
        )
    assert result.returncode == 0, _output(result)
    assert logins == {image_tenant.login}
    warehouse = f"postgresql+psycopg2://{image_tenant.login}:***@127.0.0.1:5432/{image_tenant.database}"
    assert f"warehouse {warehouse}?options=" in result.stdout, _output(result)
    runs = image_tenant.query(
        "SELECT r.status, t.value FROM runs r JOIN run_tags t"
        " ON t.run_id = r.run_id AND t.key = 'klikkflow/tenant'"
    )
    assert runs == [("SUCCESS", image_tenant.id)] * DEMO_RUNS
    assert image_tenant.query("SELECT count(*) FROM warehouse.customers")[0][0] > 0
    assert image_tenant.query("SELECT count(*) FROM compliance_events")[0][0] > 0
    assert image_tenant.tables("public") == migrated
    created = image_tenant.tables("warehouse")
    assert {"customers", "claim_outcomes", "operations_report"} <= set(created)
    assert set(created.values()) == {image_tenant.login}


def test_one_run_as_a_run_worker_with_the_charts_instance(
    image: str, image_tenant: ImageTenant, tmp_path: Path
) -> None:
    """One run of the image's code location module with the instance where the chart mounts it.

    The instance is the tenant's production config as ``tenant create`` wrote it (pooled Postgres
    storage that creates no tables) with the Helm values' compute log manager (a read-only root
    filesystem has nowhere to write compute logs), mounted read-only at DAGSTER_HOME as the chart
    mounts its ConfigMap. The run finds every table the migrations made and adds none, and every
    session it opens on the tenant's database is the tenant role's.
    """
    tenant = load_tenant(image_tenant.id, image_tenant.tenants_dir)
    instance = yaml.safe_load(image_tenant.instance_file.read_text())
    storage = instance["storage"]["custom"]["config"]
    assert storage["should_autocreate_tables"] is False
    assert storage["postgres_db"]["db_name"] == image_tenant.database
    assert render_helm_values(tenant)["computeLogManager"]["type"] == "NoOpComputeLogManager"
    instance["compute_logs"] = {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
    instance_file = tmp_path / "dagster.yaml"
    instance_file.write_text(yaml.safe_dump(instance, sort_keys=False))
    instance_file.chmod(0o644)
    migrated = image_tenant.tables("public")
    with session_logins(image_tenant) as logins:
        result = run_container(
            image,
            *("dagster", "job", "execute", "-m", "klikkflow_pipelines.definitions", "-a", "defs"),
            *("-j", "operations_report_job"),
            env=image_tenant.env(),
            env_file=image_tenant.env_file,
            mounts=(
                (image_tenant.tenants_dir, TENANTS_MOUNT),
                (instance_file, f"{DAGSTER_HOME}/dagster.yaml"),
            ),
        )
    assert result.returncode == 0, _output(result)
    assert logins == {image_tenant.login}
    logs = result.stdout + result.stderr
    assert "Traceback" not in logs, _output(result)
    success = re.search(r"operations_report_job - ([0-9a-f-]{36}) - \d+ - RUN_SUCCESS", logs)
    assert success, _output(result)
    rows = image_tenant.query(
        "SELECT r.status, t.value FROM runs r JOIN run_tags t"
        " ON t.run_id = r.run_id AND t.key = 'klikkflow/tenant' WHERE r.run_id = :run_id",
        run_id=success.group(1),
    )
    assert rows == [("SUCCESS", image_tenant.id)]
    assert image_tenant.query("SELECT count(*) FROM warehouse.operations_report")[0][0] == 1
    assert image_tenant.tables("public") == migrated
    assert image_tenant.tables("warehouse") == {"operations_report": image_tenant.login}
