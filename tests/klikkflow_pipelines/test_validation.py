"""`klikkflow validate` checks that each tenant's rendered instance builds the tenant run coordinator."""

from __future__ import annotations

import pytest

from klikkflow_pipelines.tenancy.config import load_all_tenants, load_tenant
from klikkflow_pipelines.tenancy.instance import render_instance_config
from klikkflow_pipelines.validation import check_run_coordinator

TENANTS, _ = load_all_tenants()


@pytest.mark.parametrize("production", [False, True])
@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_shipped_tenants_render_their_own_run_coordinator(tenant_id: str, production: bool) -> None:
    tenant = TENANTS[tenant_id]
    assert check_run_coordinator("f", tenant, render_instance_config(tenant, production=production)) == []


def test_a_base_file_back_on_the_plain_queued_coordinator_is_flagged() -> None:
    """Careless edit: the base dagster.yaml set back to Dagster's coordinator would tag nothing."""
    acme = load_tenant("acme")
    config = render_instance_config(acme, production=False)
    config["run_coordinator"] = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}
    (problem,) = check_run_coordinator("acme.yaml (rendered dagster.yaml)", acme, config)
    assert problem.field == "run_coordinator.class"
    assert "does not stamp the tenant's run tags" in problem.message
    assert "TenantRunCoordinator" in problem.fix


def test_a_misspelt_coordinator_setting_and_another_tenants_tags_are_flagged() -> None:
    acme = load_tenant("acme")
    config = render_instance_config(acme, production=False)
    config["run_coordinator"]["config"]["tenant_tag"] = config["run_coordinator"]["config"].pop("tenant_tags")
    (problem,) = check_run_coordinator("f", acme, config)
    assert problem.field == "run_coordinator.config" and "tenant_tag" in problem.message
    globex = render_instance_config(load_tenant("globex"), production=False)
    (problem,) = check_run_coordinator("f", acme, globex)
    assert problem.field == "run_coordinator.config.tenant_tags" and "'globex', not 'acme'" in problem.message


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_each_shipped_tenant_may_store_pii_in_its_own_region(tenant_id: str) -> None:
    """Frames and warehouse tables are stored in the tenant's region (KLIKKFLOW_STORAGE_REGION and
    KLIKKFLOW_WAREHOUSE_REGION default to it): its policy's residency rules must allow that region,
    or every governed write of PII fails (the production rehearsal found globex, in us-east-1, under
    the EU-only default policy)."""
    from compliance.policy import load_policy
    from klikkflow_pipelines.tenant_resources import DEFAULT_POLICY

    tenant = TENANTS[tenant_id]
    policy = load_policy(tenant.policy_path() or DEFAULT_POLICY)
    for destination in ("storage", "warehouse.customers"):
        allowed = policy.allowed_regions(destination, has_pii=True)
        assert allowed is None or tenant.region in allowed, (tenant_id, destination, allowed)
