"""Every rendered manifest and Helm values file validates against the Kubernetes schemas offline.

kubernetes-validate --strict (bundled schemas, Kubernetes 1.37) rejects unknown fields as well
as wrong types. Helm values are not Kubernetes objects themselves, so each pod the chart builds
from them (webserver, daemon, code location) is assembled as a Pod and validated; the run Job is
validated in test_k8s_run_launcher_job.py.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dagster._config import validate_config
from kubernetes.utils.quantity import parse_quantity

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_all_tenants
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.helm_values import helm_values_yaml, render_helm_values
from klikkflow_pipelines.tenancy.k8s_manifests import manifests_yaml, render_manifests
from klikkflow_pipelines.tenancy.run_coordinator import TenantRunCoordinator
from klikkflow_pipelines.tenancy.run_tags import tenant_run_tags

KUBE_VERSION = "1.37"
TENANTS, BROKEN = load_all_tenants()
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"


def test_shipped_tenants_are_valid_and_two_demo_plans_differ() -> None:
    assert not BROKEN
    assert {"default", "acme", "globex"} <= set(TENANTS)
    acme, globex = TENANTS["acme"], TENANTS["globex"]
    assert acme.plan.name != globex.plan.name
    assert acme.plan.max_concurrent_runs > globex.plan.max_concurrent_runs
    assert acme.plan.run_priority > globex.plan.run_priority
    assert acme.node_pool.node_selector and not globex.node_pool.node_selector
    for tenant in (acme, globex):
        assert set(tenant.workflows) == set(TENANTS["default"].workflows)


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_rendered_manifests_validate_strictly(tenant_id: str) -> None:
    settings = DeploySettings(kube_api_cidr="10.96.0.1/32")
    for manifest in render_manifests(TENANTS[tenant_id], settings):
        assert kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True) == KUBE_VERSION


def test_strict_validation_rejects_a_misspelt_field() -> None:
    manifest = render_manifests(TENANTS["acme"])[1]
    manifest["spec"]["hrad"] = manifest["spec"].pop("hard")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)


def test_committed_files_are_current_and_pass_the_cli() -> None:
    files = []
    for tenant_id, tenant in TENANTS.items():
        manifests, values = K8S_DIR / tenant_id / "manifests.yaml", K8S_DIR / tenant_id / "helm-values.yaml"
        assert manifests.read_text() == manifests_yaml(tenant), (
            f"re-render: klikkflow tenant create {tenant_id}"
        )
        assert values.read_text() == helm_values_yaml(tenant), (
            f"re-render: klikkflow tenant create {tenant_id}"
        )
        files.append(str(manifests))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBE_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN" not in result.stdout and "ERROR" not in result.stdout


def _pods_from_values(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pods the chart builds from the values (the fields KlikkFlow sets), as Pod manifests."""
    components = {
        "webserver": values["dagsterWebserver"],
        "daemon": values["dagsterDaemon"],
        "code-location": values["dagster-user-deployments"]["deployments"][0],
    }
    pods = {}
    for name, component in components.items():
        image = component["image"]
        pods[name] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": component["labels"]},
            "spec": {
                "securityContext": component["podSecurityContext"],
                "volumes": component["volumes"],
                "containers": [
                    {
                        "name": name,
                        "image": f"{image['repository']}:{image['tag']}",
                        "imagePullPolicy": image["pullPolicy"],
                        "env": component["env"],
                        "envFrom": [{"secretRef": secret} for secret in component["envSecrets"]],
                        "resources": component["resources"],
                        "securityContext": component["securityContext"],
                        "volumeMounts": component["volumeMounts"],
                    }
                ],
            },
        }
    return pods


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_helm_values_pods_validate_and_meet_pod_security_restricted(tenant_id: str) -> None:
    values = yaml.safe_load(helm_values_yaml(TENANTS[tenant_id]))
    for pod in _pods_from_values(values).values():
        assert kubernetes_validate.validate(pod, KUBE_VERSION, strict=True) == KUBE_VERSION
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = spec["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "KLIKKFLOW_TENANT", "value": tenant_id} in container["env"]


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_helm_values_wire_the_tenant_instance(tenant_id: str) -> None:
    tenant = TENANTS[tenant_id]
    values = render_helm_values(tenant)
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["jobNamespace"] == f"kf-{tenant_id}"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlDatabase"] == f"klikkflow_{tenant_id.replace('-', '_')}"
    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]["config"]["customRunCoordinator"]
    assert daemon["runCoordinator"]["type"] == "CustomRunCoordinator"
    assert coordinator["module"] == "klikkflow_pipelines.tenancy.run_coordinator"
    assert coordinator["class"] == "TenantRunCoordinator"
    queue = coordinator["config"]
    assert queue["tenant_tags"] == tenant_run_tags(tenant)
    assert queue["max_concurrent_runs"] == tenant.plan.max_concurrent_runs
    assert queue["tag_concurrency_limits"] == [
        {
            "key": "klikkflow/tenant",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": tenant.plan.max_concurrent_runs,
        }
    ]
    # the chart writes the config into dagster.yaml as it is: it must pass the coordinator's schema
    result = validate_config(TenantRunCoordinator.config_type(), queue)
    assert result.success, result.errors
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runRetries"] == {"enabled": True, "maxRetries": 2}
    code = values["dagster-user-deployments"]["deployments"][0]
    assert code["dagsterApiGrpcArgs"] == ["--module-name", "klikkflow_pipelines.definitions"]
    # run pods take their settings from the plan-derived run launcher config alone
    assert code["includeConfigInLaunchedRuns"] == {"enabled": False}


def test_namespace_enforces_restricted_pod_security() -> None:
    namespace = render_manifests(TENANTS["acme"])[0]
    labels = namespace["metadata"]["labels"]
    assert namespace["metadata"]["name"] == "kf-acme"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["klikkflow.io/region"] == "eu-west-1"


def test_quota_and_limit_range_follow_the_plan() -> None:
    manifests = {m["kind"]: m for m in render_manifests(TENANTS["acme"]) if m["kind"] != "NetworkPolicy"}
    hard = manifests["ResourceQuota"]["spec"]["hard"]
    # 8 concurrent runs + 3 service pods, 4 CPU / 8Gi limit per run
    assert hard["limits.cpu"] == "44000m"
    assert hard["limits.memory"] == f"{11 * 8 * 1024}Mi"
    assert hard["requests.cpu"] == "11000m"
    (limits,) = manifests["LimitRange"]["spec"]["limits"]
    assert limits["max"] == {"cpu": "4", "memory": "8Gi"}
    assert limits["defaultRequest"] == {"cpu": "1", "memory": "2Gi"}


def test_network_policies_deny_by_default_and_allow_only_what_is_declared() -> None:
    policies = {
        m["metadata"]["name"]: m["spec"]
        for m in render_manifests(TENANTS["acme"])
        if m["kind"] == "NetworkPolicy"
    }
    assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns_ports = policies["allow-dns"]["egress"][0]["ports"]
    assert {"protocol": "UDP", "port": 53} in dns_ports
    db = policies["allow-tenant-database"]["egress"][0]
    assert db["to"] == [{"ipBlock": {"cidr": "10.40.0.10/32"}}]
    declared = policies["allow-declared-egress"]["egress"]
    assert [rule["to"][0]["ipBlock"]["cidr"] for rule in declared] == ["203.0.113.20/32", "198.51.100.0/28"]
    assert "allow-kube-api" not in policies  # only rendered when the platform names the API server CIDR
    globex = {
        m["metadata"]["name"] for m in render_manifests(TENANTS["globex"]) if m["kind"] == "NetworkPolicy"
    }
    assert "allow-declared-egress" not in globex


def test_run_pods_get_a_service_account_bound_to_a_namespaced_role() -> None:
    rbac = {
        m["kind"]: m
        for m in render_manifests(TENANTS["globex"])
        if m["kind"] in {"ServiceAccount", "Role", "RoleBinding"}
    }
    assert rbac["ServiceAccount"]["metadata"]["namespace"] == "kf-globex"
    assert rbac["RoleBinding"]["roleRef"]["name"] == rbac["Role"]["metadata"]["name"]
    assert rbac["RoleBinding"]["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": rbac["ServiceAccount"]["metadata"]["name"],
            "namespace": "kf-globex",
        }
    ]
    job_rule = next(r for r in rbac["Role"]["rules"] if r["apiGroups"] == ["batch"])
    assert "create" in job_rule["verbs"]


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_service_pods_and_all_runs_fit_the_limit_range_and_quota(tenant_id: str) -> None:
    """Webserver, daemon and code server are admitted by the LimitRange, and with every run slot
    busy the namespace still stays within its ResourceQuota."""
    tenant = TENANTS[tenant_id]
    manifests = {
        m["kind"]: m for m in render_manifests(tenant) if m["kind"] in {"LimitRange", "ResourceQuota"}
    }
    (limit_range,) = manifests["LimitRange"]["spec"]["limits"]
    hard = manifests["ResourceQuota"]["spec"]["hard"]
    values = render_helm_values(tenant)
    services = [
        values["dagsterWebserver"]["resources"],
        values["dagsterDaemon"]["resources"],
        values["dagster-user-deployments"]["deployments"][0]["resources"],
    ]
    run = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]["resources"]
    pods = [*services, *[run] * tenant.plan.max_concurrent_runs]
    for kind in ("limits", "requests"):
        for resource in ("cpu", "memory"):
            for pod in pods:
                assert parse_quantity(pod[kind][resource]) <= parse_quantity(limit_range["max"][resource])
            total = sum(parse_quantity(pod[kind][resource]) for pod in pods)
            assert total <= parse_quantity(hard[f"{kind}.{resource}"]), (kind, resource)
