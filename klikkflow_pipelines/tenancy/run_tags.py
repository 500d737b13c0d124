"""Tags every run of a tenant carries: tenant, queue priority, max runtime and k8s resources."""

from __future__ import annotations

import json

from klikkflow_pipelines.tenancy.config import TenantConfig

TENANT_TAG = "klikkflow/tenant"
WORKFLOW_TAG = "klikkflow/workflow"
"""The workflow a run belongs to: the job's own tag, else the job name (asset jobs: the location)."""
LOCATION_TAG = "klikkflow/location"
"""The code location a run was launched from (stamped by the tenant run coordinator)."""


def k8s_run_config(tenant: TenantConfig) -> dict:
    """The ``dagster-k8s/config`` value: plan resources, node pool and a hardened security context."""
    plan = tenant.plan
    pod_spec: dict = {
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": 10001,
            "fs_group": 10001,
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
    }
    if tenant.node_pool.node_selector:
        pod_spec["node_selector"] = dict(tenant.node_pool.node_selector)
    if tenant.node_pool.tolerations:
        pod_spec["tolerations"] = [t.model_dump(exclude_none=True) for t in tenant.node_pool.tolerations]
    return {
        "container_config": {
            "resources": {
                "requests": {"cpu": plan.cpu_request, "memory": plan.memory_request},
                "limits": {"cpu": plan.cpu_limit, "memory": plan.memory_limit},
            },
            "security_context": {
                "allow_privilege_escalation": False,
                "read_only_root_filesystem": True,
                "run_as_non_root": True,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "pod_spec_config": pod_spec,
        "job_metadata": {"labels": {"klikkflow.io/tenant": tenant.id}},
        "pod_template_spec_metadata": {"labels": {"klikkflow.io/tenant": tenant.id}},
    }


def tenant_run_tags(tenant: TenantConfig) -> dict[str, str]:
    """The tags every run of the tenant carries (stamped on each run by its instance's run coordinator)."""
    return {
        TENANT_TAG: tenant.id,
        "dagster/priority": str(tenant.plan.run_priority),
        "dagster/max_runtime": str(tenant.plan.max_runtime_seconds),
        "dagster-k8s/config": json.dumps(k8s_run_config(tenant), sort_keys=True),
    }
