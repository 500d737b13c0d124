"""Schedules fire in the tenant's time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._utils.schedules import cron_string_iterator

from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import load_tenant
from sensors.schedules import BUSINESS_DATE_TAG, build_tenant_schedule, business_date_partition

OSLO = ZoneInfo("Europe/Oslo")


def _context(
    instance: dg.DagsterInstance, tick: datetime, defs: dg.Definitions
) -> dg.ScheduleEvaluationContext:
    """A schedule context with the repository, which Dagster needs to resolve partitioned run requests."""
    return dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )


def _ticks(schedule: dg.ScheduleDefinition, start: datetime, count: int) -> list[datetime]:
    iterator = cron_string_iterator(start.timestamp(), schedule.cron_schedule, schedule.execution_timezone)
    return [next(iterator) for _ in range(count)]


def test_daily_schedule_stays_at_local_time_across_spring_forward() -> None:
    defs = build_definitions(load_tenant("default"))
    schedule = defs.resolve_schedule_def("customer_onboarding_daily")
    assert schedule.execution_timezone == "Europe/Oslo"
    ticks = _ticks(schedule, datetime(2026, 3, 27, 12, tzinfo=OSLO), 4)  # DST starts 2026-03-29
    local = [t.astimezone(OSLO) for t in ticks]
    assert [t.strftime("%Y-%m-%d %H:%M") for t in local] == [
        "2026-03-28 06:00",
        "2026-03-29 06:00",
        "2026-03-30 06:00",
        "2026-03-31 06:00",
    ]
    assert [t.utcoffset().total_seconds() / 3600 for t in local] == [1, 2, 2, 2]


def test_schedule_in_the_missing_and_repeated_hour_runs_once_per_day() -> None:
    job = dg.define_asset_job("noop_job")
    schedule = build_tenant_schedule("night", job, "30 2 * * *", "Europe/Oslo")
    spring = _ticks(schedule, datetime(2026, 3, 28, 12, tzinfo=OSLO), 3)
    autumn = _ticks(schedule, datetime(2026, 10, 24, 12, tzinfo=OSLO), 3)
    for ticks in (spring, autumn):
        days = [t.astimezone(OSLO).date() for t in ticks]
        assert len(set(days)) == 3, f"one business run per day, got {ticks}"
    # On 29 March 02:30 does not exist in Oslo: Dagster runs it once, at 03:00 local.
    assert spring[0].astimezone(OSLO).strftime("%Y-%m-%d %H:%M") == "2026-03-29 03:00"
    # On 25 October 02:30 happens twice: exactly one run.
    assert autumn[0].astimezone(OSLO).strftime("%Y-%m-%d") == "2026-10-25"


def test_run_carries_local_business_date_not_utc_date() -> None:
    defs = build_definitions(load_tenant("default"))
    schedule = defs.resolve_schedule_def("claims_processing_business_hours")
    # 07:00 in Oslo on 30 March is 05:00 UTC the same day; 00:30 Oslo would be the previous UTC day.
    tick = datetime(2026, 3, 30, 7, 0, tzinfo=OSLO)
    with dg.instance_for_test() as instance:
        request = schedule.evaluate_tick(_context(instance, tick, defs)).run_requests[0]
    assert request.tags[BUSINESS_DATE_TAG] == "2026-03-30"
    assert request.partition_key == "2026-03-30"  # the claims partition of the local business date
    assert request.run_config == {}

    late = build_tenant_schedule("late", dg.define_asset_job("j"), "30 0 * * *", "Europe/Oslo")
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 7, 1, 0, 30, tzinfo=OSLO)
        )
        request = late.evaluate_tick(context).run_requests[0]
    assert request.tags[BUSINESS_DATE_TAG] == "2026-07-01"  # UTC date would be 2026-06-30


def test_claims_schedule_requests_the_local_date_partition_not_the_utc_one() -> None:
    """00:30 in Oslo on 1 July is 22:30 UTC on 30 June: the run is for the Oslo date's partition."""
    defs = build_definitions(load_tenant("default"))
    job = defs.resolve_job_def("claims_processing_job")
    schedule = build_tenant_schedule(
        "claims_night", job, "30 0 * * *", "Europe/Oslo", partition_keys_for=business_date_partition
    )
    tick = datetime(2026, 7, 1, 0, 30, tzinfo=OSLO)
    night_defs = dg.Definitions(
        assets=defs.assets, jobs=[job], schedules=[schedule], resources=defs.resources
    )
    with dg.instance_for_test() as instance:
        (request,) = schedule.evaluate_tick(_context(instance, tick, night_defs)).run_requests
    assert request.partition_key == "2026-07-01"
    assert job.partitions_def.timezone == "Europe/Oslo"
    assert "2026-07-01" in job.partitions_def.get_partition_keys(current_time=tick)


def test_onboarding_sweep_requests_only_drops_not_yet_loaded() -> None:
    """The daily onboarding schedule re-requests drop partitions whose load never succeeded."""
    defs = build_definitions(load_tenant("default"))
    schedule = defs.resolve_schedule_def("customer_onboarding_daily")
    tick = datetime(2026, 3, 30, 6, 0, tzinfo=OSLO)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("customer_drops", ["a.csv@1", "b.csv@2", "c.csv@3"])
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="warehouse_customers", partition="b.csv@2")
        )
        requests = schedule.evaluate_tick(_context(instance, tick, defs)).run_requests
        assert [r.partition_key for r in requests] == ["a.csv@1", "c.csv@3"]
        assert len({r.run_key for r in requests}) == 2

        for key in ("a.csv@1", "c.csv@3"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="warehouse_customers", partition=key)
            )
        result = schedule.evaluate_tick(_context(instance, tick, defs))
        assert not result.run_requests and "no partitions" in result.skip_message
