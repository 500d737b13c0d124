"""A tenant's production instance on the real PostgreSQL server: run a job, read it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg2
import pytest

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant
from klikkflow_pipelines.tenancy.db_roles import Platform
from klikkflow_pipelines.tenancy.instance import tenant_database_name, tenant_instance
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.tenant_database import delete_tenant_database, provision_tenant_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_tenant(monkeypatch: pytest.MonkeyPatch, pg_platform: Platform) -> Iterator[TenantConfig]:
    """A tenant in production mode whose storage database is fresh on the local server (provisioned and
    migrated as `klikkflow tenant create --storage postgres` does; production processes create no tables)."""
    tenant = load_tenant("default").model_copy(update={"id": f"t{uuid.uuid4().hex[:10]}"})
    for key, value in {
        "KLIKKFLOW_ENV": "production",
        "KLIKKFLOW_PG_HOST": "127.0.0.1",
        "KLIKKFLOW_PG_PORT": "5432",
        "KLIKKFLOW_PG_USER": "postgres",
        "KLIKKFLOW_PG_PASSWORD": "unused-with-trust-auth",
    }.items():
        monkeypatch.setenv(key, value)
    server = PostgresServer.from_env()
    try:
        provision_tenant_database(tenant, server=server, platform=pg_platform)
        yield tenant
    finally:
        delete_tenant_database(tenant.id, server=server, platform=pg_platform)


def test_job_runs_on_postgres_backed_tenant_instance(pg_tenant: TenantConfig) -> None:
    defs = build_definitions(pg_tenant)
    with tenant_instance(pg_tenant) as instance:
        assert type(instance.run_storage).__name__ == "PooledPostgresRunStorage"
        result = defs.resolve_job_def("claims_processing_job").execute_in_process(
            instance=instance, partition_key="2026-11-25"
        )
        assert result.success
        run_id = result.run_id

    # A new instance object reads the run and its events back from the database.
    with tenant_instance(pg_tenant) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["klikkflow/tenant"] == pg_tenant.id
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        keys = {e.dagster_event.asset_key.to_user_string() for e in events}
        assert keys == {"raw_claims", "validated_claims", "scored_claims", "routed_claims", "claim_outcomes"}
        latest = instance.get_latest_materialization_event(dg.AssetKey("claim_outcomes"))
        assert latest.asset_materialization.metadata["dagster/row_count"].value == 500

    with psycopg2.connect(
        host="127.0.0.1", user="postgres", dbname=tenant_database_name(pg_tenant.id)
    ) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone()[0] == 1
