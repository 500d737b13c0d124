"""The operations report reads runs, rows and failures from the Dagster instance itself."""

from __future__ import annotations

import dagster as dg
import polars as pl


@dg.asset
def always_fails() -> None:
    raise RuntimeError("boom")


def test_report_counts_runs_rows_and_failures(defs, group_assets, resources, instance) -> None:
    for _ in range(2):
        assert (
            defs.resolve_job_def("claims_processing_job")
            .execute_in_process(instance=instance, partition_key="2026-11-25")
            .success
        )
    failing = dg.define_asset_job(
        "broken_job", selection=[always_fails], tags={"klikkflow/workflow": "broken"}
    )
    broken = dg.Definitions(assets=[always_fails], jobs=[failing]).resolve_job_def("broken_job")
    assert not broken.execute_in_process(instance=instance, raise_on_error=False).success

    result = dg.materialize(group_assets("operations"), resources=resources, instance=instance)
    assert result.success
    report = result.output_for_node("workflow_run_report")
    rows = {r["workflow"]: r for r in report.iter_rows(named=True)}
    assert rows["claims_processing"]["runs"] == 2
    assert rows["claims_processing"]["succeeded"] == 2
    assert rows["claims_processing"]["rows"] == 2 * 5 * 500  # five assets of 500 rows per run
    assert rows["broken"]["failed"] == 1 and rows["broken"]["failure_rate"] == 1.0
    stored = resources["warehouse"].read_frame("SELECT workflow, runs, failed FROM operations_report")
    assert stored.filter(pl.col("workflow") == "broken").rows() == [("broken", 1, 1)]
