"""Helm values: one dagster-user-deployment per tenant code location, in the location's own image."""

from __future__ import annotations

from klikkflow_pipelines.config_errors import validate_mapping
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.helm_values import render_helm_values


def _tenant(tenant_id: str, *locations: dict[str, str]) -> TenantConfig:
    data = {"id": tenant_id, "name": tenant_id, "code_locations": list(locations)}
    return validate_mapping("t.yaml", data, TenantConfig)


def test_each_location_is_its_own_deployment_in_its_image() -> None:
    tenant = _tenant(
        "acme",
        {"name": "shop", "module": "acme_shop.definitions", "image": "registry.example.com/acme/shop:1.4.2"},
        {"name": "ledger_v2", "project": "../ledger"},
    )
    settings = DeploySettings()
    deployments = render_helm_values(tenant, settings)["dagster-user-deployments"]["deployments"]
    built_in, shop, ledger = deployments
    assert built_in["name"] == "klikkflow-acme"
    assert (shop["name"], ledger["name"]) == ("kf-acme-shop", "kf-acme-ledger-v2")
    assert shop["image"] == {
        "repository": "registry.example.com/acme/shop",
        "tag": "1.4.2",
        "pullPolicy": "IfNotPresent",
    }
    assert ledger["image"] == built_in["image"]  # no image given: the KlikkFlow image
    assert shop["dagsterApiGrpcArgs"] == [
        "--module-name",
        "klikkflow_pipelines.tenant_code.locations",
        "--attribute",
        "acme__shop",
        "--location-name",
        "shop",
    ]
    for deployment in (shop, ledger):  # the tenant's env, security and resources, like the built-in one
        assert {"name": "KLIKKFLOW_TENANT", "value": "acme"} in deployment["env"]
        assert deployment["securityContext"] == built_in["securityContext"]
        assert deployment["includeConfigInLaunchedRuns"] == {"enabled": False}
        assert deployment["labels"]["klikkflow.io/tenant"] == "acme"


def test_the_longest_names_stay_kubernetes_names() -> None:
    tenant = _tenant("a" * 32, {"name": "l" * 24, "module": "x"})
    name = render_helm_values(tenant)["dagster-user-deployments"]["deployments"][1]["name"]
    assert len(name) <= 63
