"""Schedules in the tenant's time zone.

Dagster evaluates the cron string in ``execution_timezone``, so a 06:00
schedule fires at 06:00 local time on both sides of a daylight-saving
change. Each run is tagged with its local business date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

BUSINESS_DATE_TAG = "klikkflow/business_date"


def build_tenant_schedule(
    name: str,
    job: Any,
    cron: str,
    timezone: str,
    run_config_for: Callable[[str], dict[str, Any]] | None = None,
    enabled: bool = True,
) -> dg.ScheduleDefinition:
    """A schedule for ``job`` firing on ``cron`` in ``timezone``, tagged with the local business date.

    ``run_config_for`` receives that business date (``YYYY-MM-DD``) and returns the run config.
    """

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED,
        description=f"{cron} ({timezone})",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        local_time = context.scheduled_execution_time.astimezone(ZoneInfo(timezone))
        business_date = local_time.date().isoformat()
        return dg.RunRequest(
            run_key=f"{name}:{local_time.isoformat()}",
            run_config=run_config_for(business_date) if run_config_for else {},
            tags={BUSINESS_DATE_TAG: business_date},
        )

    return _schedule
