"""Two tenants provisioned on the real PostgreSQL server never see each other's data.

Each tenant gets its own database ``klikkflow_<id>`` (through ``provision_tenant``) and its own
Dagster instance (``tenant_instance``). Runs, event logs, asset materializations and schedule
state written through one instance are checked to be invisible through the other instance and
through the other tenant's GraphQL API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster_graphql.cli import execute_query

from klikkflow_pipelines.tenancy.config import Plan, TenantConfig
from klikkflow_pipelines.tenancy.db_roles import Platform
from klikkflow_pipelines.tenancy.instance import tenant_database_name, tenant_instance
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.provisioning import delete_tenant, provision_tenant
from klikkflow_pipelines.tenancy.run_tags import TENANT_TAG, tenant_run_tags

from .isolation_defs import customers, orders

pytestmark = pytest.mark.postgres

RUNS = "{ runsOrError { ... on Runs { results { runId tags { key value } } } } }"
RUN = "query($runId: ID!) { runOrError(runId: $runId) { __typename } }"
LOGS = """query($runId: ID!) { logsForRun(runId: $runId) {
  __typename ... on EventConnection { events { __typename } } } }"""
ASSETS = """{ assetsOrError { ... on AssetConnection { nodes {
  key { path } assetMaterializations(limit: 50) { runId } } } } }"""
SCHEDULES = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  schedules { name scheduleState { status } } } } } }"""


@pytest.fixture
def tenants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_platform: Platform
) -> Iterator[list[TenantConfig]]:
    """Two freshly provisioned Postgres tenants; both deleted (databases dropped) afterwards."""
    server = PostgresServer.from_env()
    for key, value in {**server.env(), "KLIKKFLOW_PG_PASSWORD": server.password or "trust-auth"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KLIKKFLOW_ENV", "production")
    tenants_dir, deploy_root = tmp_path / "tenants", tmp_path / "deploy"
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tenants_dir))
    suffix = uuid.uuid4().hex[:6]
    configs = [
        TenantConfig(id=f"iso-{name}-{suffix}", name=name, plan=Plan(max_concurrent_runs=2))
        for name in ("alpha", "beta")
    ]
    try:
        for config in configs:
            result = provision_tenant(
                config,
                storage="postgres",
                server=server,
                tenants_dir=tenants_dir,
                deploy_root=deploy_root,
                platform=pg_platform,
            )
            assert any("created Postgres database" in action for action in result.actions)
            assert server.database_exists(tenant_database_name(config.id))
        yield configs
    finally:
        for config in configs:
            delete_tenant(
                config.id,
                confirm=config.id,
                drop_database=True,
                server=server,
                tenants_dir=tenants_dir,
                deploy_root=deploy_root,
                platform=pg_platform,
            )
            assert not server.database_exists(tenant_database_name(config.id))


@contextmanager
def _workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    origin = LoadableTargetOrigin(
        python_file=str(Path(__file__).with_name("isolation_defs.py")), attribute="defs"
    )
    with WorkspaceProcessContext(
        instance, InProcessTestWorkspaceLoadTarget(InProcessCodeLocationOrigin(origin))
    ) as ctx:
        yield ctx


def _gql(context: WorkspaceProcessContext, query: str, **variables: Any) -> dict[str, Any]:
    result = execute_query(context, query, variables or None)
    assert "errors" not in result, result
    return result["data"]


def test_runs_logs_assets_and_schedules_stay_inside_their_tenant(tenants: list[TenantConfig]) -> None:
    alpha, beta = tenants
    with tenant_instance(alpha) as alpha_instance, tenant_instance(beta) as beta_instance:
        assert alpha_instance.get_ref().storage_data.config_dict["postgres_db"]["db_name"] == (
            tenant_database_name(alpha.id)
        )
        alpha_run = dg.materialize([orders, customers], instance=alpha_instance, tags=tenant_run_tags(alpha))
        beta_run = dg.materialize([orders], instance=beta_instance, tags=tenant_run_tags(beta))
        assert alpha_run.success and beta_run.success
        a_id, b_id = alpha_run.run_id, beta_run.run_id

        # Through the instances
        assert [r.run_id for r in alpha_instance.get_runs()] == [a_id]
        assert [r.run_id for r in beta_instance.get_runs()] == [b_id]
        assert beta_instance.get_run_by_id(a_id) is None
        assert beta_instance.all_logs(a_id) == []
        assert alpha_instance.all_logs(a_id)
        assert beta_instance.get_run_by_id(b_id).tags[TENANT_TAG] == beta.id
        assert set(alpha_instance.get_asset_keys()) == {dg.AssetKey("orders"), dg.AssetKey("customers")}
        assert set(beta_instance.get_asset_keys()) == {dg.AssetKey("orders")}
        beta_orders = beta_instance.fetch_materializations(dg.AssetKey("orders"), limit=10).records
        assert {record.run_id for record in beta_orders} == {b_id}

        with _workspace(alpha_instance) as alpha_ctx, _workspace(beta_instance) as beta_ctx:
            location = alpha_ctx.create_request_context().get_code_location(alpha_ctx.code_location_names[0])
            repo = next(iter(location.get_repositories().values()))
            alpha_instance.start_schedule(repo.get_schedule("nightly_orders"))

            running = [s for s in alpha_instance.all_instigator_state() if s.status.value == "RUNNING"]
            assert [s.instigator_name for s in running] == ["nightly_orders"]
            assert not [s for s in beta_instance.all_instigator_state() if s.status.value == "RUNNING"]

            # Through GraphQL
            def run_ids(ctx: WorkspaceProcessContext) -> set[str]:
                return {r["runId"] for r in _gql(ctx, RUNS)["runsOrError"]["results"]}

            assert run_ids(alpha_ctx) == {a_id}
            assert run_ids(beta_ctx) == {b_id}
            assert _gql(beta_ctx, RUN, runId=a_id)["runOrError"]["__typename"] == "RunNotFoundError"
            assert _gql(alpha_ctx, RUN, runId=a_id)["runOrError"]["__typename"] == "Run"
            beta_logs = _gql(beta_ctx, LOGS, runId=a_id)["logsForRun"]
            assert beta_logs["__typename"] != "EventConnection" or beta_logs["events"] == []
            assert _gql(alpha_ctx, LOGS, runId=a_id)["logsForRun"]["events"]

            beta_assets = {
                tuple(n["key"]["path"]): {m["runId"] for m in n["assetMaterializations"]}
                for n in _gql(beta_ctx, ASSETS)["assetsOrError"]["nodes"]
            }
            assert beta_assets.get(("orders",)) == {b_id}
            assert not beta_assets.get(("customers",))

            def schedule_status(ctx: WorkspaceProcessContext) -> str:
                (repo_node,) = _gql(ctx, SCHEDULES)["repositoriesOrError"]["nodes"]
                (schedule,) = repo_node["schedules"]
                return schedule["scheduleState"]["status"]

            assert schedule_status(alpha_ctx) == "RUNNING"
            assert schedule_status(beta_ctx) == "STOPPED"
