"""A tiny code location for the K8sRunLauncher test: one job per demo tenant, tagged like its jobs."""

import dagster as dg

from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.run_tags import tenant_run_tags

DEMO_TENANTS = ("acme", "globex")


@dg.op
def extract() -> int:
    return 1


def tenant_job(tenant_id: str) -> dg.JobDefinition:
    @dg.job(name=f"{tenant_id.replace('-', '_')}_job", tags=tenant_run_tags(load_tenant(tenant_id)))
    def _job() -> None:
        extract()

    return _job


defs = dg.Definitions(jobs=[tenant_job(t) for t in DEMO_TENANTS])
