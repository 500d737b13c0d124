"""A one-op job whose runs the queue tests submit (the code location they are submitted from)."""

import dagster as dg


@dg.op
def step() -> None:
    return None


@dg.job
def tenant_job() -> None:
    step()


defs = dg.Definitions(jobs=[tenant_job])
