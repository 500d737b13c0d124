"""Runs, rows and failures per workflow, read from the Dagster instance itself."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import polars as pl
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from klikkflow_pipelines.workflows.template import run_workflow

REPORT_SCHEMA = {
    "workflow": pl.String,
    "runs": pl.Int64,
    "succeeded": pl.Int64,
    "failed": pl.Int64,
    "in_progress": pl.Int64,
    "rows": pl.Int64,
    "failure_rate": pl.Float64,
}
_IN_PROGRESS = {DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}


def _rows_materialized(instance: DagsterInstance, run_id: str) -> int:
    total = 0
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        value = materialization.metadata.get("dagster/row_count") if materialization else None
        if isinstance(value, dg.IntMetadataValue) and value.value is not None:
            total += value.value
    return total


def workflow_run_stats(instance: DagsterInstance, since: datetime, until: datetime) -> pl.DataFrame:
    """One row per workflow with runs, outcomes and rows materialized between ``since`` and ``until``."""
    records = instance.get_run_records(RunsFilter(created_after=since, created_before=until))
    rows = []
    for record in records:
        run = record.dagster_run
        rows.append(
            {
                "workflow": run_workflow(run),
                "succeeded": int(run.status == DagsterRunStatus.SUCCESS),
                "failed": int(run.status == DagsterRunStatus.FAILURE),
                "in_progress": int(run.status in _IN_PROGRESS),
                "rows": _rows_materialized(instance, run.run_id),
            }
        )
    if not rows:
        return pl.DataFrame(schema=REPORT_SCHEMA)
    return (
        pl.DataFrame(rows)
        .group_by("workflow")
        .agg(
            pl.len().cast(pl.Int64).alias("runs"),
            pl.col("succeeded").sum().cast(pl.Int64),
            pl.col("failed").sum().cast(pl.Int64),
            pl.col("in_progress").sum().cast(pl.Int64),
            pl.col("rows").sum().cast(pl.Int64),
        )
        .with_columns((pl.col("failed") / pl.col("runs")).alias("failure_rate"))
        .select(list(REPORT_SCHEMA))
        .sort("workflow")
    )
