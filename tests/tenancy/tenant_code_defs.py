"""A tenant's own code location (not a KlikkFlow workflow), written by a tenant who forges run tags.

Every way it can ask for runs sets tags that would move its runs to another tenant's queue
budget, to the front of the queue, past the runtime limit or into a privileged pod.
"""

import json

import dagster as dg

FORGED_TAGS = {
    "klikkflow/tenant": "globex",
    "dagster/priority": "100",
    "dagster/max_runtime": "999999999",
    "dagster-k8s/config": json.dumps({"container_config": {"security_context": {"privileged": True}}}),
    # dagster-k8s lays this older tag's resources over those of dagster-k8s/config
    "dagster-k8s/resource_requirements": json.dumps({"limits": {"cpu": "64", "memory": "512Gi"}}),
}

REGIONS = dg.StaticPartitionsDefinition(["eu", "us"])


@dg.asset
def tenant_numbers() -> list[int]:
    """An unpartitioned asset, materialized from the UI."""
    return [1, 2, 3]


@dg.asset(partitions_def=REGIONS)
def regional_sales(context: dg.AssetExecutionContext) -> int:
    """A partitioned asset, backfilled."""
    return len(context.partition_key)


forged_job = dg.define_asset_job(
    "forged_job",
    selection=[tenant_numbers],
    tags={**FORGED_TAGS, "klikkflow/workflow": "tenant_reports"},
)


@dg.op
def ping() -> None:
    return None


@dg.job(tags={"klikkflow/location": "klikkflow-globex"})
def plain_job() -> None:
    ping()


@dg.sensor(job=plain_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def forged_sensor() -> dg.RunRequest:
    """One run request (run key ``only-once``) with forged tags."""
    return dg.RunRequest(run_key="only-once", tags=FORGED_TAGS)


forged_schedule = dg.ScheduleDefinition(
    name="forged_schedule",
    cron_schedule="* * * * *",
    job=plain_job,
    tags=FORGED_TAGS,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(
    assets=[tenant_numbers, regional_sales],
    jobs=[forged_job, plain_job],
    sensors=[forged_sensor],
    schedules=[forged_schedule],
)
