"""The shared workflow code both isolation-test tenants load: two assets, a job and a schedule."""

import dagster as dg


@dg.asset
def orders() -> list[int]:
    return [1, 2, 3]


@dg.asset
def customers() -> list[str]:
    return ["ada", "grace"]


orders_job = dg.define_asset_job("orders_job", selection=[orders])

defs = dg.Definitions(
    assets=[orders, customers],
    jobs=[orders_job],
    schedules=[dg.ScheduleDefinition(name="nightly_orders", job=orders_job, cron_schedule="0 2 * * *")],
)
