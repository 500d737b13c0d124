"""The daily operations report: what every workflow did, from the Dagster instance itself.

No ``from __future__ import annotations`` here: Dagster resolves config annotations at definition time.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from klikkflow_pipelines.workflows.operations.stats import workflow_run_stats
from resources.warehouse import WarehouseResource

GROUP = "operations"


class ReportWindowConfig(dg.Config):
    """The report covers ``lookback_hours`` up to ``until`` (ISO time, default now; a time without
    an offset is in the tenant's time zone)."""

    until: str | None = None


def build_operations_assets(lookback_hours: int, timezone: str) -> list[dg.AssetsDefinition]:
    """The operations report assets covering the last ``lookback_hours``; naive times are in ``timezone``."""

    @dg.asset(group_name=GROUP, kinds={"dagster", "polars"})
    def workflow_run_report(context: dg.AssetExecutionContext, config: ReportWindowConfig) -> pl.DataFrame:
        """Runs, succeeded, failed, in progress and rows materialized per workflow in the window."""
        try:
            until = datetime.fromisoformat(config.until) if config.until else datetime.now(UTC)
        except ValueError:
            raise dg.Failure(
                f"until {config.until!r} is not an ISO date-time (e.g. 2026-11-26T07:30:00+01:00)"
            ) from None
        if until.tzinfo is None:
            until = until.replace(tzinfo=ZoneInfo(timezone))
        since = until - timedelta(hours=lookback_hours)
        report = workflow_run_stats(context.instance, since, until)
        context.add_output_metadata(
            {
                "window": f"{since.isoformat()} → {until.isoformat()}",
                "dagster/row_count": report.height,
                "report": dg.MetadataValue.md(_markdown(report)),
            }
        )
        return report

    @dg.asset(group_name=GROUP, kinds={"sqlalchemy"})
    def operations_report_table(
        warehouse: WarehouseResource, workflow_run_report: pl.DataFrame
    ) -> dg.MaterializeResult:
        """Append the report to the warehouse table ``operations_report`` with its generation time."""
        stamped = workflow_run_report.with_columns(
            pl.lit(datetime.now(UTC).isoformat()).alias("generated_at")
        )
        warehouse.write_frame("operations_report", stamped, if_exists="append")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": stamped.height, "table": "operations_report"}
        )

    return [workflow_run_report, operations_report_table]


def _markdown(report: pl.DataFrame) -> str:
    header = "| " + " | ".join(report.columns) + " |\n|" + "---|" * len(report.columns) + "\n"
    lines = [
        "| " + " | ".join(f"{v:.1%}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in report.iter_rows()
    ]
    return header + "\n".join(lines) if lines else header + "| (no runs in window) |"
