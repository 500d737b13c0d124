"""Every rendered manifest and Helm values file validates against the Kubernetes schemas offline.

kubernetes-validate --strict (bundled schemas, Kubernetes 1.37) rejects unknown fields as well
as wrong types. Helm values are not Kubernetes objects themselves, so each pod the chart builds
from them (daemon, code servers) is assembled as a Pod and validated; the run Job is validated in
test_k8s_run_launcher_job.py, the values against the chart's own schema in
test_chart_values_schema.py, and the NetworkPolicies' meaning in test_network_policies.py.
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
from klikkflow_pipelines.tenancy.platform_manifests import platform_manifests_yaml, render_platform_manifests
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


FULL_SETTINGS = DeploySettings(
    kube_api_cidr="10.96.0.1/32",
    postgres_cidr="10.50.0.0/24",
    object_store_cidr="10.60.0.0/24",
    oidc_cidr="203.0.113.50/32",
    ingress_cidr="10.244.7.0/24",
)


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_rendered_manifests_validate_strictly(tenant_id: str) -> None:
    for settings in (DeploySettings(), FULL_SETTINGS):
        for manifest in render_manifests(TENANTS[tenant_id], settings):
            assert kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True) == KUBE_VERSION


def test_platform_manifests_validate_strictly() -> None:
    for settings in (DeploySettings(), FULL_SETTINGS):
        manifests = render_platform_manifests(list(TENANTS.values()), settings)
        for manifest in manifests:
            assert kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True) == KUBE_VERSION
        assert manifests[0]["kind"] == "Namespace"
        assert manifests[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


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
    platform = K8S_DIR / "platform" / "manifests.yaml"
    assert platform.read_text() == platform_manifests_yaml(list(TENANTS.values())), (
        "re-render: klikkflow platform render"
    )
    files.append(str(platform))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBE_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN" not in result.stdout and "ERROR" not in result.stdout


def _pods_from_values(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pods the chart runs from the values (the fields KlikkFlow sets), as Pod manifests: the
    daemon and every code server (the webserver has no replica)."""
    components = {"daemon": values["dagsterDaemon"]}
    for deployment in values["dagster-user-deployments"]["deployments"]:
        components[deployment["name"]] = deployment
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
    assert values["dagsterWebserver"]["replicaCount"] == 0  # the gateway is the webserver
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
        assert container["envFrom"] == [{"secretRef": {"name": f"kf-{tenant_id}-env"}}]


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [str(value)]


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_helm_values_hold_no_secret_and_no_shared_role(tenant_id: str) -> None:
    values = render_helm_values(TENANTS[tenant_id], FULL_SETTINGS)
    role = f"klikkflow_{tenant_id.replace('-', '_')}"
    assert values["postgresql"]["postgresqlUsername"] == role
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["global"]["postgresqlSecretName"] == f"kf-{tenant_id}-postgresql"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["migrate"] == {"enabled": False}  # `klikkflow tenant migrate` owns the schema
    text = " ".join(_strings(values))
    for forbidden in ("klikkflow-env", "klikkflow-postgresql", "PASSWORD", "_KEY", "_URL", "postgresql://"):
        assert forbidden not in text, forbidden
    assert "KLIKKFLOW_PG_USER" not in text  # the login is a key of the tenant's Secret


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
    # the built-in location loads like a tenant location, so its code server names it <tenant id>
    assert code["dagsterApiGrpcArgs"] == [
        "--module-name",
        "klikkflow_pipelines.tenant_code.locations",
        "--attribute",
        f"{tenant_id}__{tenant_id}",
        "--location-name",
        tenant_id,
    ]
    # run pods take their settings from the plan-derived run launcher config alone
    assert code["includeConfigInLaunchedRuns"] == {"enabled": False}
    # the daemon's workspace names each location like the gateway's workspace does
    workspace = values["dagsterWebserver"]["workspace"]
    assert workspace["enabled"] is True
    assert [s["name"] for s in workspace["servers"]] == [tenant_id, *(c.name for c in tenant.code_locations)]
    assert [s["host"] for s in workspace["servers"]] == [
        d["name"] for d in values["dagster-user-deployments"]["deployments"]
    ]


def test_namespace_enforces_restricted_pod_security() -> None:
    namespace = render_manifests(TENANTS["acme"])[0]
    labels = namespace["metadata"]["labels"]
    assert namespace["metadata"]["name"] == "kf-acme"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["klikkflow.io/region"] == "eu-west-1"


def test_quota_and_limit_range_follow_the_plan() -> None:
    manifests = {m["kind"]: m for m in render_manifests(TENANTS["acme"]) if m["kind"] != "NetworkPolicy"}
    hard = manifests["ResourceQuota"]["spec"]["hard"]
    # 8 concurrent runs + 2 service pods (daemon, one code server), 4 CPU / 8Gi limit per run
    assert hard["limits.cpu"] == "40000m"
    assert hard["limits.memory"] == f"{10 * 8 * 1024}Mi"
    assert hard["requests.cpu"] == "10000m"
    (limits,) = manifests["LimitRange"]["spec"]["limits"]
    assert limits["max"] == {"cpu": "4", "memory": "8Gi"}
    assert limits["defaultRequest"] == {"cpu": "1", "memory": "2Gi"}


def test_run_pods_have_no_api_access_and_the_gateway_may_only_terminate_runs() -> None:
    manifests = render_manifests(TENANTS["globex"])
    (account,) = [m for m in manifests if m["kind"] == "ServiceAccount"]
    assert account["metadata"] == {**account["metadata"], "name": "klikkflow-run", "namespace": "kf-globex"}
    assert account["automountServiceAccountToken"] is False
    (role,) = [m for m in manifests if m["kind"] == "Role"]
    (binding,) = [m for m in manifests if m["kind"] == "RoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == "klikkflow-gateway"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "klikkflow-gateway", "namespace": "klikkflow-system"}
    ]
    verbs = {
        (group, resource): rule["verbs"]
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert verbs == {("batch", "jobs"): ["get", "list", "delete"], ("", "pods"): ["get", "list"]}


@pytest.mark.parametrize("tenant_id", sorted(TENANTS))
def test_service_pods_and_all_runs_fit_the_limit_range_and_quota(tenant_id: str) -> None:
    """Daemon and code servers are admitted by the LimitRange, and with every run slot busy the
    namespace still stays within its ResourceQuota."""
    tenant = TENANTS[tenant_id]
    manifests = {
        m["kind"]: m for m in render_manifests(tenant) if m["kind"] in {"LimitRange", "ResourceQuota"}
    }
    (limit_range,) = manifests["LimitRange"]["spec"]["limits"]
    hard = manifests["ResourceQuota"]["spec"]["hard"]
    values = render_helm_values(tenant)
    services = [
        values["dagsterDaemon"]["resources"],
        *(d["resources"] for d in values["dagster-user-deployments"]["deployments"]),
    ]
    run = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]["resources"]
    pods = [*services, *[run] * tenant.plan.max_concurrent_runs]
    for kind in ("limits", "requests"):
        for resource in ("cpu", "memory"):
            for pod in pods:
                assert parse_quantity(pod[kind][resource]) <= parse_quantity(limit_range["max"][resource])
            total = sum(parse_quantity(pod[kind][resource]) for pod in pods)
            assert total <= parse_quantity(hard[f"{kind}.{resource}"]), (kind, resource)
