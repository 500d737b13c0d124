"""Per-tenant credentials on a server that checks passwords: whose login works where.

The machine's server trusts every TCP login, so a stolen or wrong password is never refused there
(``test_database_isolation.py`` attacks privileges on it). Here a private cluster with
``scram-sha-256`` for TCP (:mod:`klikkflow_pipelines.devtools.postgres_cluster`) is provisioned
exactly as ``klikkflow platform init`` and ``klikkflow tenant create --storage postgres`` do, and
each attack logs in with the passwords from the secret env files a pod would get.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from klikkflow_pipelines.devtools.postgres_cluster import PostgresCluster, running_postgres_cluster
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.db_roles import tenant_audit_role
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.secret_files import PodDatabase, read_env_file
from klikkflow_pipelines.tenancy.tenant_database import init_platform, provision_tenant_database

INVALID_PASSWORD = "28P01"
CANNOT_CONNECT = "42501"  # no CONNECT privilege on the database


@dataclass(frozen=True)
class Cluster:
    """The private cluster with a platform and tenants A and B, and the secrets their pods get."""

    server: PostgresCluster
    gateway: dict[str, str]
    a: dict[str, str]
    b: dict[str, str]
    a_id: str
    b_id: str

    def login(self, user: str, password: str, database: str) -> closing[psycopg2.extensions.connection]:
        """Log in over TCP with a password (closed after the block)."""
        connection = psycopg2.connect(
            host=self.server.host,
            port=self.server.port,
            user=user,
            password=password,
            dbname=database,
            connect_timeout=10,
        )
        return closing(connection)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home: Path = tmp_path_factory.mktemp("klikkflow_home")
    suffix = uuid.uuid4().hex[:6]
    ids = (f"cred-a-{suffix}", f"cred-b-{suffix}")
    with pytest.MonkeyPatch.context() as patch, running_postgres_cluster() as server:
        patch.setenv("KLIKKFLOW_HOME", str(home))
        patch.delenv("KLIKKFLOW_AUDIT_KEY", raising=False)
        pod = PodDatabase(server.host, server.port)
        gateway = init_platform(server=server.admin, pod_database=pod)
        tenants = [
            provision_tenant_database(TenantConfig(id=tid, name=tid), server=server.admin, pod_database=pod)
            for tid in ids
        ]
        a, b = (read_env_file(t.secrets[0].path) for t in tenants)
        yield Cluster(server, read_env_file(gateway.secrets[0].path), a, b, *ids)


def _refused(cluster: Cluster, user: str, password: str, database: str) -> str:
    """Log in must fail; return the SQLSTATE (psycopg2 puts it in the message for auth errors)."""
    with pytest.raises(psycopg2.OperationalError) as caught, cluster.login(user, password, database):
        pass
    return str(caught.value)


def test_each_pod_logs_in_with_its_own_secret(cluster: Cluster) -> None:
    for env, database in ((cluster.a, cluster.a_id), (cluster.b, cluster.b_id)):
        login = cluster.login(
            env["KLIKKFLOW_PG_USER"], env["KLIKKFLOW_PG_PASSWORD"], tenant_database_name(database)
        )
        with login as connection, connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == env["KLIKKFLOW_PG_USER"]
    with cluster.login(
        cluster.gateway["KLIKKFLOW_PG_USER"], cluster.gateway["KLIKKFLOW_PG_PASSWORD"], "kf_platform"
    ):
        pass


def test_attack_tenant_password_as_the_gateway_role(cluster: Cluster) -> None:
    """A tenant pod's credentials cannot be used as the gateway role, on any database."""
    for database in ("kf_platform", tenant_database_name(cluster.a_id), tenant_database_name(cluster.b_id)):
        message = _refused(cluster, "kf_gateway", cluster.a["KLIKKFLOW_PG_PASSWORD"], database)
        assert "password authentication failed" in message


def test_attack_tenant_password_as_the_other_tenant_or_an_audit_role(cluster: Cluster) -> None:
    b_database = tenant_database_name(cluster.b_id)
    message = _refused(
        cluster, cluster.b["KLIKKFLOW_PG_USER"], cluster.a["KLIKKFLOW_PG_PASSWORD"], b_database
    )
    assert "password authentication failed" in message
    for audit in (tenant_audit_role(cluster.a_id), tenant_audit_role(cluster.b_id), "kf_audit_platform"):
        # NOLOGIN roles have no password: no secret of any pod opens them
        for password in (cluster.a["KLIKKFLOW_PG_PASSWORD"], cluster.gateway["KLIKKFLOW_PG_PASSWORD"]):
            assert "password authentication failed" in _refused(cluster, audit, password, b_database)


def test_attack_tenant_login_on_the_other_tenants_database(cluster: Cluster) -> None:
    """With its own correct password, tenant A's role still cannot connect to B's database."""
    with (
        pytest.raises(psycopg2.OperationalError) as caught,
        cluster.login(
            cluster.a["KLIKKFLOW_PG_USER"],
            cluster.a["KLIKKFLOW_PG_PASSWORD"],
            tenant_database_name(cluster.b_id),
        ),
    ):
        pass
    assert "permission denied for database" in str(caught.value)


def test_the_gateway_login_reaches_every_tenant_database(cluster: Cluster) -> None:
    """One gateway login opens every tenant database, and may append to its audit log, never rewrite it."""
    user, password = cluster.gateway["KLIKKFLOW_PG_USER"], cluster.gateway["KLIKKFLOW_PG_PASSWORD"]
    for tenant_id in (cluster.a_id, cluster.b_id):
        login = cluster.login(user, password, tenant_database_name(tenant_id))
        with login as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, has_table_privilege('audit_log', 'INSERT'), "
                "has_table_privilege('audit_log', 'UPDATE'), has_table_privilege('audit_log', 'DELETE')"
            )
            assert cursor.fetchone() == ("kf_gateway", True, False, False)


def test_a_rotated_password_locks_out_the_old_secret(cluster: Cluster) -> None:
    """After ``--rotate-password`` the Secret's old value no longer logs in; the new file's does."""
    old = cluster.a["KLIKKFLOW_PG_PASSWORD"]
    pod = PodDatabase(cluster.server.host, cluster.server.port)
    config = TenantConfig(id=cluster.a_id, name=cluster.a_id)
    result = provision_tenant_database(
        config, server=cluster.server.admin, pod_database=pod, rotate_password=True
    )
    new = read_env_file(result.secrets[0].path)
    database = tenant_database_name(cluster.a_id)
    assert new["KLIKKFLOW_PG_PASSWORD"] != old
    assert "password authentication failed" in _refused(cluster, new["KLIKKFLOW_PG_USER"], old, database)
    with cluster.login(new["KLIKKFLOW_PG_USER"], new["KLIKKFLOW_PG_PASSWORD"], database):
        pass
