"""The private PostgreSQL cluster: real password authentication on loopback, nothing left behind."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import psycopg2
import pytest

from klikkflow_pipelines.devtools import postgres_cluster
from klikkflow_pipelines.devtools.postgres_cluster import PostgresClusterError, running_postgres_cluster


def _connect(cluster: postgres_cluster.PostgresCluster, password: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host="127.0.0.1", port=cluster.port, user="postgres", password=password, dbname="postgres"
    )


def test_passwords_are_checked_over_tcp_and_the_cluster_is_removed_after() -> None:
    """Unlike the machine's server (trust), a wrong password is refused; settings reach the server."""
    with running_postgres_cluster(settings={"log_statement": "ddl"}) as cluster:
        directory = cluster.directory
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            _connect(cluster, cluster.password + "x")
        connection = _connect(cluster, cluster.password)
        with connection.cursor() as cursor:
            cursor.execute("SHOW log_statement")
            assert cursor.fetchone() == ("ddl",)
        connection.close()
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the cluster is the postgres user's
            assert pwd.getpwuid(cluster.data_dir.stat().st_uid).pw_name == "postgres"
        assert cluster.admin_url == f"postgresql://postgres:{cluster.password}@127.0.0.1:{cluster.port}/"
    assert not directory.exists()


def test_keep_stops_the_server_but_keeps_its_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_postgres_cluster(keep=True) as cluster:
        port = cluster.port
    try:
        assert (cluster.data_dir / "PG_VERSION").exists() and not (
            cluster.data_dir / "postmaster.pid"
        ).exists()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(
                host="127.0.0.1", port=port, user="postgres", password=cluster.password, connect_timeout=3
            )
    finally:
        cluster.stop(remove=True)


def test_missing_server_binaries_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_cluster.shutil, "which", lambda _name: None)
    monkeypatch.setattr(postgres_cluster.glob, "glob", lambda _pattern: [])
    with pytest.raises(
        PostgresClusterError, match=r"Fix: apt-get install postgresql \(or pass --pg-admin-url"
    ):
        postgres_cluster.find_bindir()


def test_a_base_directory_the_server_user_cannot_reach_names_the_fix(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("as a non-root user the cluster runs as that user and reaches its own directories")
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)  # pytest's own temporary root is 0700 too
    with pytest.raises(PostgresClusterError, match=r"initdb failed .* Fix: check that the OS user"):
        postgres_cluster.start_postgres_cluster(hidden / "cluster")
