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
