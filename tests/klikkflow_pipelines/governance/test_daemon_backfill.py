"""The governed sample tenant location run the way production runs it: the tenant's own persistent
instance (its rendered ``dagster.yaml``: queued run coordinator, default run launcher), a workspace
file whose code location is served by a real gRPC code server, Dagster's backfill daemon and queued
run coordinator daemon iterations, and run workers in their own processes.

One asset backfill covers the unpartitioned assets and two daily partitions. Afterwards the
frames on disk are protected per the tenant's policy, the event log's materializations carry the
``dagster/column_schema`` PII tags, the compliance events are in the tenant's storage and the remote
asset nodes (what the UI shows) carry each asset's governance status.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.daemon import get_default_daemon_logger
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from compliance.crypto import hash_value
from compliance.events import read_events
from klikkflow_pipelines.governance.findings import GOVERNANCE_KEY
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.instance import tenant_instance
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine
from klikkflow_pipelines.tenant_resources import build_resources

from .conftest import PROJECTS

SELECTED = [
    "customers",
    "partners",
    "warehouse_contacts",
    "gold_customers",
    "other_customers",
    "customer_profiles",
    "web_events",
    "daily_signups",
]
DAYS = ["2026-11-01", "2026-11-02"]


def _workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace.yaml"
    entry = {
        "relative_path": str(Path(__file__).with_name("acme_location.py")),
        "working_directory": str(PROJECTS),
        "attribute": "defs",
        "location_name": "acme_pipelines",
    }
    path.write_text(yaml.safe_dump({"load_from": [{"python_file": entry}]}), encoding="utf-8")
    return path


def _run_backfill(
    instance: dg.DagsterInstance, context, backfill_id: str, timeout: float = 840
) -> PartitionBackfill:  # type: ignore[no-untyped-def]
    logger = get_default_daemon_logger("BackfillDaemon")
    deadline = time.monotonic() + timeout
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as coordinator:
        while time.monotonic() < deadline:
            list(execute_backfill_iteration(context, logger))
            list(coordinator.run_iteration(context))
            backfill = instance.get_backfill(backfill_id)
            assert backfill is not None
            failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            if failed:
                errors = [
                    e.dagster_event.event_specific_data.error.to_string()
                    for e in instance.all_logs(failed[0].run_id)
                    if e.dagster_event and e.dagster_event.is_failure and e.dagster_event.event_specific_data
                ]
                pytest.fail(f"run {failed[0].run_id} failed: {errors or failed[0].status}")
            if backfill.status != BulkActionStatus.REQUESTED:
                return backfill
            time.sleep(1)
    pytest.fail(f"backfill {backfill_id} did not finish in {timeout}s")


@pytest.mark.timeout(1200)
def test_governed_location_backfill_through_the_daemons(
    tenant_project: Path,
    acme: TenantConfig,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KLIKKFLOW_TENANT", "acme")
    monkeypatch.setenv("KLIKKFLOW_SPACY_MODEL", "")  # pattern-only classification: run workers start faster
    with (
        tenant_instance(acme) as instance,
        create_test_daemon_workspace_context(
            WorkspaceFileTarget([str(_workspace(tmp_path))]), instance
        ) as context,
    ):
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)  # the tenant coordinator is one
        location = context.create_request_context().get_code_location("acme_pipelines")
        repository = next(iter(location.get_repositories().values()))
        nodes = {n.asset_key.to_user_string(): n for n in repository.get_asset_node_snaps()}
        assert nodes["run_summary"].metadata[GOVERNANCE_KEY].value == "ungoverned"
        assert nodes["customers"].metadata[GOVERNANCE_KEY].value == "governed"

        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id="acmebackfill",
            asset_graph=context.create_request_context().asset_graph,
            partition_names=DAYS,
            asset_selection=[dg.AssetKey(a) for a in SELECTED],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        finished = _run_backfill(instance, context, "acmebackfill")
        runs = instance.get_runs()
        assert finished.status == BulkActionStatus.COMPLETED_SUCCESS, [r.status for r in runs]
        assert len(runs) == 3  # the unpartitioned assets in one run, one run per day
        for run in runs:  # stamped by the tenant run coordinator, whatever the location set
            assert run.tags["klikkflow/tenant"] == "acme", run.tags
            assert run.tags["klikkflow/location"] == "acme_pipelines", run.tags
            assert run.tags["dagster/max_runtime"] == str(acme.plan.max_runtime_seconds), run.tags

        materializations = {
            (r.asset_key.to_user_string(), r.partition_key): r.asset_materialization.metadata
            for r in instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_signups")), limit=10
            ).records
        }
        assert {day for _, day in materializations} == set(DAYS)
        customers = instance.get_latest_materialization_event(dg.AssetKey("customers")).asset_materialization
        tags = {c.name: c.tags for c in customers.metadata["dagster/column_schema"].value.columns}
        assert tags["email"] == {**tags["email"], "pii/entity": "EMAIL_ADDRESS", "pii/action": "hash"}

    key = build_resources(acme)["secrets"].compliance_keys().hash_key
    frames = tenant_home("acme") / "frames"
    assert pl.read_parquet(frames / "customers.parquet")["email"][0] == hash_value(key, "ada@example.com")
    assert pl.read_parquet(frames / "daily_signups" / "2026-11-02.parquet")["email"].to_list() == [
        hash_value(key, "a.2026-11-02@example.com"),
        hash_value(key, "b.2026-11-02@example.com"),
    ]
    events = read_events(tenant_storage_engine("acme"), tenant="acme")
    assert {(e["asset"], e["action"]) for e in events} >= {("customers", "hash"), ("partners", "hash")}
    assert {e["details"].get("partition") for e in events if e["asset"] == "daily_signups"} == set(DAYS)
    warehouse = build_resources(acme)["warehouse"]
    stored = warehouse.read_frame("select email from acme_contacts order by email")["email"].to_list()
    assert len(stored) == 3 and hash_value(key, "ada@example.com") in stored  # no clear e-mail in the table
