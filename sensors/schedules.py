"""Schedules in the tenant's time zone, requesting the partitions a tick is for.

Dagster evaluates the cron string in ``execution_timezone``, so a 06:00
schedule fires at 06:00 local time on both sides of a daylight-saving
change. Each run is tagged with its local business date. A schedule of a
partitioned job requests partitions: the local business date for daily
partitions (``business_date_partition``), or the dynamic partitions not yet
processed (``unfinished_dynamic_partitions``) for a catch-up sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from dagster._core.storage.tags import PARTITION_NAME_TAG

BUSINESS_DATE_TAG = "klikkflow/business_date"

PartitionKeysFor = Callable[[dg.ScheduleEvaluationContext, str], Sequence[str]]
"""Given the tick's context and local business date (``YYYY-MM-DD``), the partitions to run."""


def business_date_partition(_context: dg.ScheduleEvaluationContext, business_date: str) -> Sequence[str]:
    """The daily partition of the tick's local business date."""
    return [business_date]


def unfinished_dynamic_partitions(
    partitions_def: dg.DynamicPartitionsDefinition, final_asset: str, limit: int = 100
) -> PartitionKeysFor:
    """Partitions of ``partitions_def`` whose ``final_asset`` never materialized and that no run is
    processing now (e.g. a run that failed, or a request lost before it ran), oldest first."""

    def _keys(context: dg.ScheduleEvaluationContext, _business_date: str) -> Sequence[str]:
        instance = context.instance
        added = instance.get_dynamic_partitions(partitions_def.name)
        done = instance.get_materialized_partitions(dg.AssetKey(final_asset))
        running = {
            run.tags.get(PARTITION_NAME_TAG)
            for run in instance.get_runs(dg.RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))
        }
        return [key for key in added if key not in done and key not in running][:limit]

    return _keys


def build_tenant_schedule(
    name: str,
    job: Any,
    cron: str,
    timezone: str,
    partition_keys_for: PartitionKeysFor | None = None,
    enabled: bool = True,
) -> dg.ScheduleDefinition:
    """A schedule for ``job`` firing on ``cron`` in ``timezone``, tagged with the local business date.

    Without ``partition_keys_for`` each tick requests one unpartitioned run; with it, one run per
    partition key it returns for the tick's local business date (none: the tick is skipped).
    """

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED,
        description=f"{cron} ({timezone})",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        local_time = context.scheduled_execution_time.astimezone(ZoneInfo(timezone))
        business_date = local_time.date().isoformat()
        tags = {BUSINESS_DATE_TAG: business_date}
        run_key = f"{name}:{local_time.isoformat()}"
        if partition_keys_for is None:
            return [dg.RunRequest(run_key=run_key, tags=tags)]
        keys = partition_keys_for(context, business_date)
        if not keys:
            return dg.SkipReason(f"no partitions to run for {business_date}")
        return [dg.RunRequest(run_key=f"{run_key}:{key}", partition_key=key, tags=tags) for key in keys]

    return _schedule
