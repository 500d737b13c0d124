"""Per-tenant database roles on the real PostgreSQL server, attacked as the tenant's own login role.

Two tenants A and B and a platform (gateway role, platform database) of their own are provisioned
once for the module, exactly as ``klikkflow platform init`` and ``klikkflow tenant create --storage
postgres`` do, and dropped afterwards. Every attack logs in as tenant A's role with the password
from A's secret env file, over TCP on 127.0.0.1.

This server's ``pg_hba.conf`` trusts every TCP connection from 127.0.0.1, so it does not check
passwords: the tests still log in with the generated ones, and check separately that each
secret file's password is the role's (against the SCRAM verifier in ``pg_authid``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from psycopg2 import sql
from sqlalchemy import inspect, text

from compliance.audit import AuditLog, verify_log
from compliance.audit.checkpointer import checkpoint_log
from compliance.audit.compliance_bridge import chain_compliance_events
from compliance.audit.keys import load_signing_key
from compliance.audit.tables import AuditSchemaMissing
from compliance.events import ComplianceEvent, record_events
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.db_roles import Platform, RoleConflict, tenant_audit_role
from klikkflow_pipelines.tenancy.instance import render_instance_config, tenant_database_name, tenant_instance
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.run_tags import tenant_run_tags
from klikkflow_pipelines.tenancy.secret_files import (
    PodDatabase,
    read_env_file,
    tenant_env_file,
    tenant_postgresql_file,
)
from klikkflow_pipelines.tenancy.tenant_database import (
    delete_tenant_database,
    init_platform,
    provision_tenant_database,
)
from resources.sql_engine import create_storage_engine

from .isolation_defs import customers, orders

pytestmark = pytest.mark.postgres
ADMIN = PostgresServer()  # postgres on 127.0.0.1:5432
POD = PodDatabase("127.0.0.1", 5432)
INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Tenant:
    """A provisioned tenant and the values of its secret env file."""

    config: TenantConfig
    env: dict[str, str]

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def database(self) -> str:
        return tenant_database_name(self.id)

    @property
    def login(self) -> str:
        return self.env["KLIKKFLOW_PG_USER"]

    @property
    def audit(self) -> str:
        return tenant_audit_role(self.id)

    def connect(self, database: str | None = None) -> closing[psycopg2.extensions.connection]:
        """Log in as this tenant's role, with its generated password, over TCP (closed after the block)."""
        return closing(_login(self.login, self.env["KLIKKFLOW_PG_PASSWORD"], database or self.database))

    def url(self, database: str | None = None) -> str:
        password = self.env["KLIKKFLOW_PG_PASSWORD"]
        return f"postgresql+psycopg2://{self.login}:{password}@127.0.0.1:5432/{database or self.database}"


@dataclass(frozen=True)
class World:
    home: Path
    platform: Platform
    gateway_env: dict[str, str]
    a: Tenant
    b: Tenant


def _login(user: str, password: str, database: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(host="127.0.0.1", port=5432, user=user, password=password, dbname=database)


def _password_is(role: str, password: str) -> bool:
    """Whether ``password`` is ``role``'s, checked against the stored SCRAM-SHA-256 verifier."""
    with ADMIN.cursor() as cursor:
        cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        stored = cursor.fetchone()[0]
    method, iterations_salt, keys = stored.split("$")
    assert method == "SCRAM-SHA-256"
    iterations, salt = iterations_salt.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(keys.split(":")[0])


def _drop_platform(platform: Platform) -> None:
    ADMIN.drop_database(platform.database)
    with ADMIN.cursor() as cursor:
        for role in (platform.gateway_role, platform.audit_role):
            cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A platform and tenants A and B, provisioned as the CLI does; everything dropped afterwards."""
    home = tmp_path_factory.mktemp("klikkflow_home")
    suffix = uuid.uuid4().hex[:6]
    platform = Platform(f"kf_gateway_d{suffix}", f"kf_platform_d{suffix}", f"kf_audit_platform_d{suffix}")
    configs = [TenantConfig(id=f"dbi-{name}-{suffix}", name=name) for name in ("a", "b")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KLIKKFLOW_HOME", str(home))
        patch.delenv("KLIKKFLOW_AUDIT_KEY", raising=False)
        try:
            gateway = init_platform(server=ADMIN, platform=platform, pod_database=POD)
            tenants = [
                provision_tenant_database(config, server=ADMIN, platform=platform, pod_database=POD)
                for config in configs
            ]
            a, b = (
                Tenant(c, read_env_file(t.secrets[0].path)) for c, t in zip(configs, tenants, strict=True)
            )
            yield World(home, platform, read_env_file(gateway.secrets[0].path), a, b)
        finally:
            for config in configs:
                delete_tenant_database(config.id, server=ADMIN, platform=platform)
            _drop_platform(platform)


@pytest.fixture(autouse=True)
def shared_home(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's KLIKKFLOW_HOME (audit keys, signing key, witness files) in every test."""
    monkeypatch.setenv("KLIKKFLOW_HOME", str(world.home))


def _refused(connection: psycopg2.extensions.connection, statement: str) -> psycopg2.Error:
    """Run ``statement`` in its own transaction; it must fail. Returns the error."""
    with pytest.raises(psycopg2.Error) as caught, connection.cursor() as cursor:
        cursor.execute(statement)
    connection.rollback()
    return caught.value


def test_secret_files_hold_the_roles_passwords_and_are_private(world: World) -> None:
    for tenant in (world.a, world.b):
        assert _password_is(tenant.login, tenant.env["KLIKKFLOW_PG_PASSWORD"])
        assert read_env_file(tenant_postgresql_file(tenant.id)) == {
            "postgresql-password": tenant.env["KLIKKFLOW_PG_PASSWORD"]
        }
        assert tenant.env["KLIKKFLOW_AUDIT_TENANT_WRITER_KEY"].startswith(f"{tenant.id}:")
        for path in (tenant_env_file(tenant.id), tenant_postgresql_file(tenant.id)):
            assert path.stat().st_mode & 0o777 == 0o600
    assert world.a.env["KLIKKFLOW_TENANT_KEY"] != world.b.env["KLIKKFLOW_TENANT_KEY"]
    assert _password_is(world.platform.gateway_role, world.gateway_env["KLIKKFLOW_PG_PASSWORD"])
    assert tenant_env_file(world.a.id).parent.stat().st_mode & 0o777 == 0o700


def test_attack_tenant_role_connects_to_another_tenants_or_the_platform_database(world: World) -> None:
    with world.a.connect():  # its own: yes
        pass
    for database in (world.b.database, world.platform.database):
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            _login(world.a.login, world.a.env["KLIKKFLOW_PG_PASSWORD"], database)


def test_attack_tenant_role_reads_another_tenants_tables_through_any_schema(world: World) -> None:
    with world.a.connect() as connection:
        error = _refused(connection, f"SELECT * FROM {world.b.database}.public.runs")
        assert "cross-database references are not implemented" in str(error)
        for extension in ("dblink", "postgres_fdw"):  # both are installed on this server
            error = _refused(connection, f"CREATE EXTENSION {extension}")
            assert error.pgcode == INSUFFICIENT_PRIVILEGE, error
        assert _refused(connection, "CREATE SCHEMA elsewhere").pgcode == INSUFFICIENT_PRIVILEGE
        with connection.cursor() as cursor:  # what A sees in its database is A's own
            cursor.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
            assert {row[0] for row in cursor.fetchall()} == {world.a.login, world.a.audit}


def test_attack_tenant_role_drops_databases_from_the_maintenance_database(world: World) -> None:
    with world.a.connect("postgres") as connection:
        connection.autocommit = True
        for database in (world.a.database, world.b.database, world.platform.database):
            with pytest.raises(psycopg2.Error, match="must be owner of database"), connection.cursor() as c:
                c.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(database)))
        with pytest.raises(psycopg2.Error, match="must be owner of database"), connection.cursor() as c:
            c.execute(sql.SQL("ALTER DATABASE {} RENAME TO gone").format(sql.Identifier(world.a.database)))
    assert ADMIN.database_exists(world.a.database) and ADMIN.database_exists(world.b.database)


AUDIT_ATTACKS = [
    "ALTER TABLE audit_log ADD COLUMN forged text",
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
    "ALTER TABLE audit_log OWNER TO CURRENT_USER",
    "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    "DROP TRIGGER audit_log_no_truncate ON audit_log",
    "DROP TABLE audit_log",
    "DROP TABLE audit_signed_checkpoints",
    "ALTER TABLE audit_log RENAME TO audit_log_old",
    "CREATE OR REPLACE FUNCTION klikkflow_audit_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END; "
    "$$ LANGUAGE plpgsql",
    "DROP FUNCTION klikkflow_audit_append_only() CASCADE",
    "CREATE TRIGGER forged BEFORE INSERT ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION klikkflow_audit_append_only()",
    "CREATE RULE forged AS ON INSERT TO audit_log DO INSTEAD NOTHING",
    "UPDATE audit_log SET actor = 'mallory'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "UPDATE audit_signed_checkpoints SET seq = 0",
    "DELETE FROM audit_signed_checkpoints",
    "TRUNCATE audit_signed_checkpoints",
    "DELETE FROM audit_bridge_progress",
    "SET session_replication_role = replica",  # would silence every trigger
]


def _audit_rows(tenant: Tenant) -> list[tuple]:
    with ADMIN.cursor(tenant.database) as cursor:
        cursor.execute("SELECT seq, hash FROM audit_log ORDER BY seq")
        rows = cursor.fetchall()
        cursor.execute("SELECT number, signature FROM audit_signed_checkpoints ORDER BY number")
        return rows + cursor.fetchall()


def test_attack_tenant_role_changes_the_audit_tables_or_their_trigger(world: World) -> None:
    log = AuditLog(create_storage_engine(world.a.url()), world.a.id)
    log.append(actor="tester", action="before.attack", outcome="success")
    log.engine.dispose()
    before = _audit_rows(world.a)
    with world.a.connect() as connection:
        for statement in AUDIT_ATTACKS:
            error = _refused(connection, statement)
            assert error.pgcode == INSUFFICIENT_PRIVILEGE, (statement, error)
    assert _audit_rows(world.a) == before
    with ADMIN.cursor(world.a.database) as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname IN ('audit_log', 'audit_signed_checkpoints') AND NOT t.tgisinternal "
            "AND t.tgenabled = 'O'"
        )
        assert cursor.fetchone()[0] == 4


def test_attack_tenant_role_becomes_the_gateway_or_an_audit_role(world: World) -> None:
    with world.a.connect() as connection:
        for role in (world.platform.gateway_role, world.a.audit, world.b.audit, world.b.login, "postgres"):
            for statement in ("SET ROLE {}", "SET SESSION AUTHORIZATION {}"):
                with pytest.raises(psycopg2.Error) as caught, connection.cursor() as cursor:
                    cursor.execute(sql.SQL(statement).format(sql.Identifier(role)))
                connection.rollback()
                assert caught.value.pgcode == INSUFFICIENT_PRIVILEGE, (statement, role, caught.value)
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolname FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')")
            assert [row[0] for row in cursor.fetchall()] == [world.a.login]


def _as_process(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], user: str, password: str) -> None:
    """The environment of a production process holding the given secret file's values."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key, value in {
        "KLIKKFLOW_ENV": "production",
        "KLIKKFLOW_PG_HOST": "127.0.0.1",
        "KLIKKFLOW_PG_PORT": "5432",
        "KLIKKFLOW_PG_USER": user,
        "KLIKKFLOW_PG_PASSWORD": password,
    }.items():
        monkeypatch.setenv(key, value)


def test_tenant_role_does_its_normal_work(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dagster run in its production instance, compliance events chained into its audit log, an
    append, a checkpoint and a verify, a warehouse table: all as the tenant's login role."""
    a = world.a
    _as_process(monkeypatch, a.env, a.login, a.env["KLIKKFLOW_PG_PASSWORD"])
    with tenant_instance(a.config) as instance:
        result = dg.materialize([orders], instance=instance, tags=tenant_run_tags(a.config))
        assert result.success
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
    engine = create_storage_engine(a.url())
    record_events(engine, [ComplianceEvent(actor="run:1", tenant=a.id, action="mask", asset="orders")])
    log = AuditLog(engine, a.id)
    assert chain_compliance_events(log) == 1
    log.append(actor="tester", action="normal.work", outcome="success")
    checkpoint_log(log, load_signing_key())
    report = verify_log(log)
    assert report.ok, report.problems
    engine.dispose()
    warehouse = create_storage_engine(a.env["KLIKKFLOW_WAREHOUSE_URL"])
    with warehouse.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS customers (id int)"))
        assert conn.execute(text("SELECT current_schema()")).scalar() == "warehouse"
    warehouse.dispose()


def test_gateway_login_opens_every_tenants_instance_and_appends_to_its_audit_log(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = world.gateway_env
    _as_process(monkeypatch, gateway, gateway["KLIKKFLOW_PG_USER"], gateway["KLIKKFLOW_PG_PASSWORD"])
    for tenant in (world.a, world.b):
        with tenant_instance(tenant.config) as instance:
            assert dg.materialize([customers], instance=instance).success
            assert instance.get_runs()
        url = f"postgresql+psycopg2://{gateway['KLIKKFLOW_PG_USER']}:{gateway['KLIKKFLOW_PG_PASSWORD']}"
        engine = create_storage_engine(f"{url}@127.0.0.1:5432/{tenant.database}")
        log = AuditLog(engine, tenant.id)
        log.append(actor="gateway", action="graphql.query", outcome="allowed")
        checkpoint_log(log, load_signing_key())
        report = verify_log(log)  # the tenant's own entries and the gateway's form one chain
        assert report.ok, report.problems
        engine.dispose()
    platform = create_storage_engine(gateway["KLIKKFLOW_GATEWAY_DB_URL"])
    AuditLog(platform, "platform").append(actor="gateway", action="signin", outcome="success")
    platform.dispose()


def test_production_process_without_audit_tables_fails_with_the_migrate_message(
    fresh_database: Callable[[str], AbstractContextManager[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KLIKKFLOW_ENV", "production")
    with fresh_database("kf_dbi_empty") as url:
        engine = create_storage_engine(url)
        database = engine.url.database
        with pytest.raises(AuditSchemaMissing, match=re.escape(f"audit tables missing in {database}: run ")):
            AuditLog(engine, "acme")
        with pytest.raises(AuditSchemaMissing, match=re.escape("run `klikkflow tenant migrate acme`")):
            AuditLog(engine, "acme")
        with pytest.raises(AuditSchemaMissing, match=re.escape("run `klikkflow platform init`")):
            AuditLog(engine, "platform")
        # nor does the production Dagster instance create its tables
        for key, value in ADMIN.env().items():
            monkeypatch.setenv(key, value)
        config = render_instance_config(TenantConfig(id="acme", name="Acme"), production=True)
        config["storage"]["custom"]["config"]["postgres_db"]["db_name"] = database
        (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        with (
            dg.DagsterInstance.from_config(str(tmp_path)) as instance,
            pytest.raises(Exception, match="runs"),
        ):
            instance.get_runs()
        assert inspect(engine).get_table_names() == []
        engine.dispose()


PROVISION = """
import sys
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.db_roles import Platform
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.secret_files import PodDatabase
from klikkflow_pipelines.tenancy.tenant_database import provision_tenant_database
print("ready", flush=True)
sys.stdin.readline()  # the parent releases both processes at once
result = provision_tenant_database(
    TenantConfig(id={tenant_id!r}, name="C"), server=PostgresServer(), platform=Platform(*{platform!r}),
    pod_database=PodDatabase("127.0.0.1", 5432),
)
print(result.actions[0])
"""


def _provision_at_once(tenant_id: str, platform: Platform, processes: int) -> list[tuple[int, str, str]]:
    code = PROVISION.format(
        tenant_id=tenant_id, platform=(platform.gateway_role, platform.database, platform.audit_role)
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    return [(child.wait(timeout=240), child.stdout.read(), child.stderr.read()) for child in children]


def _without_password(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("KLIKKFLOW_PG_PASSWORD", "KLIKKFLOW_WAREHOUSE_URL")}


def test_two_creates_of_one_tenant_at_once_leave_one_consistent_tenant(world: World) -> None:
    """Attack: two processes at once. Then: re-running keeps every secret; rotating changes only the
    password (in the database and both files)."""
    tenant = TenantConfig(id=f"dbi-c-{uuid.uuid4().hex[:6]}", name="C")
    login = tenant_database_name(tenant.id)
    try:
        results = _provision_at_once(tenant.id, world.platform, 2)
        assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
        first_actions = sorted(out.strip() for _, out, _ in results)
        assert first_actions == [f"created login role {login}", f"kept login role {login}"]
        first = read_env_file(tenant_env_file(tenant.id))
        assert _password_is(login, first["KLIKKFLOW_PG_PASSWORD"])
        with ADMIN.cursor(login) as cursor:
            cursor.execute(
                "SELECT tablename, tableowner FROM pg_tables WHERE tablename IN ('runs', 'audit_log')"
            )
            assert sorted(cursor.fetchall()) == [("audit_log", tenant_audit_role(tenant.id)), ("runs", login)]

        provision_tenant_database(tenant, server=ADMIN, platform=world.platform, pod_database=POD)
        assert read_env_file(tenant_env_file(tenant.id)) == first

        provision_tenant_database(
            tenant, server=ADMIN, platform=world.platform, pod_database=POD, rotate_password=True
        )
        rotated = read_env_file(tenant_env_file(tenant.id))
        assert rotated["KLIKKFLOW_PG_PASSWORD"] != first["KLIKKFLOW_PG_PASSWORD"]
        assert _password_is(login, rotated["KLIKKFLOW_PG_PASSWORD"])
        assert not _password_is(login, first["KLIKKFLOW_PG_PASSWORD"])
        postgresql = read_env_file(tenant_postgresql_file(tenant.id))
        assert postgresql == {"postgresql-password": rotated["KLIKKFLOW_PG_PASSWORD"]}
        assert _without_password(rotated) == _without_password(first)  # the tenant key above all
    finally:
        delete_tenant_database(tenant.id, server=ADMIN, platform=world.platform)


def _state_of(tenant: Tenant, gateway: str) -> dict[str, object]:
    """Everything of ``tenant`` on the server that deleting another tenant must leave as it is."""
    with ADMIN.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolcanlogin, pg_has_role(%s, oid, 'MEMBER') FROM pg_roles "
            "WHERE rolname IN (%s, %s) ORDER BY 1",
            (gateway, tenant.login, tenant.audit),
        )
        roles = cursor.fetchall()
        cursor.execute(
            "SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database WHERE datname = %s",
            (tenant.database,),
        )
        database = cursor.fetchall()
    with ADMIN.cursor(tenant.database) as cursor:
        cursor.execute(
            "SELECT schemaname, tablename, tableowner FROM pg_tables "
            "WHERE schemaname IN ('public', 'warehouse') ORDER BY 1, 2"
        )
        tables = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM runs")
        runs = cursor.fetchone()[0]
    return {
        "roles": roles,
        "database": database,
        "tables": tables,
        "runs": runs,
        "audit": _audit_rows(tenant),
        "secrets": read_env_file(tenant_env_file(tenant.id)),
    }


def test_deleting_a_tenant_leaves_its_neighbour_untouched(world: World) -> None:
    doomed = TenantConfig(id=f"dbi-d-{uuid.uuid4().hex[:6]}", name="D")
    log = AuditLog(create_storage_engine(world.b.url()), world.b.id)
    log.append(actor="tester", action="before.delete", outcome="success")
    log.engine.dispose()
    before = _state_of(world.b, world.platform.gateway_role)
    assert len(before["roles"]) == 2 and before["audit"] and before["tables"]
    try:
        provision_tenant_database(doomed, server=ADMIN, platform=world.platform, pod_database=POD)
    finally:
        actions = delete_tenant_database(doomed.id, server=ADMIN, platform=world.platform)
    login = tenant_database_name(doomed.id)
    assert actions[:3] == [
        f"dropped Postgres database {login}",
        f"dropped role {login}",
        f"dropped role {tenant_audit_role(doomed.id)}",
    ]
    assert not ADMIN.database_exists(login)
    with ADMIN.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", (login, tenant_audit_role(doomed.id))
        )
        assert cursor.fetchone()[0] == 0
    assert not tenant_env_file(doomed.id).exists() and not tenant_postgresql_file(doomed.id).exists()
    assert _state_of(world.b, world.platform.gateway_role) == before


def test_an_admin_without_superuser_provisions_and_deletes_a_tenant(world: World) -> None:
    """Managed Postgres gives no superuser: a CREATEROLE CREATEDB admin must do the same."""
    suffix = uuid.uuid4().hex[:6]
    admin = PostgresServer(user=f"kf_admin_t{suffix}", password=uuid.uuid4().hex)
    tenant = TenantConfig(id=f"dbi-e-{suffix}", name="E")
    login, audit = tenant_database_name(tenant.id), tenant_audit_role(tenant.id)
    with ADMIN.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
                sql.Identifier(admin.user), sql.Literal(admin.password)
            )
        )
    try:
        provision_tenant_database(tenant, server=admin, platform=world.platform, pod_database=POD)
        with ADMIN.cursor(login) as cursor:
            cursor.execute(
                "SELECT tablename, tableowner FROM pg_tables "
                "WHERE tablename IN ('runs', 'kf_event_outbox', 'audit_log') ORDER BY 1"
            )
            assert cursor.fetchall() == [("audit_log", audit), ("kf_event_outbox", login), ("runs", login)]
            cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (login,))
            assert cursor.fetchone()[0] == audit
    finally:
        delete_tenant_database(tenant.id, server=admin, platform=world.platform)
        with ADMIN.cursor() as cursor:
            cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(admin.user)))
    assert not ADMIN.database_exists(login)


def test_attack_a_pre_made_owner_role_that_can_log_in_is_refused(world: World) -> None:
    """Someone creates ``kf_audit_<id>`` with LOGIN before the tenant exists, to own its database and
    audit tables: provisioning refuses and creates no database."""
    tenant = TenantConfig(id=f"dbi-f-{uuid.uuid4().hex[:6]}", name="F")
    audit = tenant_audit_role(tenant.id)
    with ADMIN.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(audit)))
    try:
        with pytest.raises(RoleConflict, match=re.escape(f"role {audit} exists with LOGIN")):
            provision_tenant_database(tenant, server=ADMIN, platform=world.platform, pod_database=POD)
        assert not ADMIN.database_exists(tenant_database_name(tenant.id))
    finally:
        delete_tenant_database(tenant.id, server=ADMIN, platform=world.platform)
