"""The Job that dagster-k8s's real K8sRunLauncher builds for a tenant's run.

The launcher is configured from the tenant's rendered Helm values exactly as the chart
renders them into the instance config; its batch API is a recorder (as dagster-k8s's own
unit tests record ``create_namespaced_job``), so the full V1Job body can be inspected and
validated against the Kubernetes schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from dagster import instance_for_test
from dagster._core.launcher import LaunchRunContext
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_k8s import K8sRunLauncher
from kubernetes.client import ApiClient

from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.deploy_settings import (
    RUN_SERVICE_ACCOUNT,
    DeploySettings,
    tenant_env_secret,
    tenant_postgres_secret,
)
from klikkflow_pipelines.tenancy.helm_values import render_helm_values

from .k8s_job_defs import defs

KUBE_VERSION = "1.37"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://kubernetes.invalid"}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
users: [{name: test, user: {}}]
"""


class RecordingBatchApi:
    """Stands in for ``kubernetes.client.BatchV1Api``: records each job creation."""

    def __init__(self) -> None:
        self.created: list[tuple[str, Any]] = []

    def create_namespaced_job(self, namespace: str, body: Any, **_kwargs: Any) -> Any:
        self.created.append((namespace, body))
        return body


def _launcher_from_values(
    values: dict[str, Any], batch_api: RecordingBatchApi, kubeconfig: Path
) -> K8sRunLauncher:
    """Build the launcher with the settings the chart renders from ``runLauncher.config.k8sRunLauncher``."""
    chart = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s = chart["runK8sConfig"]
    image = values["dagster-user-deployments"]["deployments"][0]["image"]
    return K8sRunLauncher(
        service_account_name=values["global"]["serviceAccountName"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
        dagster_home="/opt/dagster/dagster_home",
        job_image=f"{image['repository']}:{image['tag']}",
        image_pull_policy=chart["imagePullPolicy"],
        load_incluster_config=False,
        kubeconfig_file=str(kubeconfig),
        job_namespace=chart["jobNamespace"],
        env_vars=chart["envVars"],
        env_secrets=[secret["name"] for secret in chart["envSecrets"]],
        labels=chart["labels"],
        fail_pod_on_run_failure=chart["failPodOnRunFailure"],
        run_k8s_config={
            "container_config": run_k8s["containerConfig"],
            "pod_spec_config": run_k8s["podSpecConfig"],
            "pod_template_spec_metadata": run_k8s["podTemplateSpecMetadata"],
            "job_metadata": run_k8s["jobMetadata"],
            "job_spec_config": run_k8s["jobSpecConfig"],
        },
        k8s_client_batch_api=batch_api,
    )


@pytest.fixture(params=["acme", "globex"])
def launched_job(request, tmp_path) -> tuple[Any, dict[str, Any], str]:
    """Launch one run of the tenant's job through the real K8sRunLauncher; return (tenant, job dict, ns)."""
    tenant = load_tenant(request.param)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    values = render_helm_values(
        tenant, DeploySettings(image_repository="registry.example/klikkflow", image_tag="t1")
    )
    batch_api = RecordingBatchApi()
    launcher = _launcher_from_values(values, batch_api, kubeconfig)
    origin = LoadableTargetOrigin(
        python_file=str(Path(__file__).with_name("k8s_job_defs.py")), attribute="defs"
    )
    with instance_for_test() as instance:
        launcher.register_instance(instance)
        with in_process_test_workspace(
            instance, origin, container_image="registry.example/klikkflow:t1"
        ) as ws:
            location = ws.get_code_location(ws.code_location_names[0])
            repo = next(iter(location.get_repositories().values()))
            remote_job = repo.get_full_job(f"{tenant.id}_job")
            run = instance.create_run_for_job(
                defs.get_job_def(remote_job.name),
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
                tags=remote_job.tags,
            )
            launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=ws))
            assert instance.get_run_by_id(run.run_id).tags["klikkflow/tenant"] == tenant.id
    assert len(batch_api.created) == 1
    namespace, body = batch_api.created[0]
    return tenant, ApiClient().sanitize_for_serialization(body), namespace


def test_job_runs_in_the_tenant_namespace(launched_job) -> None:
    tenant, _job, namespace = launched_job
    assert namespace == f"kf-{tenant.id}"


def test_job_validates_against_the_kubernetes_schema(launched_job) -> None:
    _tenant, job, _namespace = launched_job
    assert kubernetes_validate.validate(job, KUBE_VERSION, strict=True) == KUBE_VERSION


def test_job_carries_plan_resources_and_node_pool(launched_job) -> None:
    tenant, job, _namespace = launched_job
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    plan = tenant.plan
    assert container["resources"] == {
        "requests": {"cpu": plan.cpu_request, "memory": plan.memory_request},
        "limits": {"cpu": plan.cpu_limit, "memory": plan.memory_limit},
    }
    assert pod.get("nodeSelector", {}) == tenant.node_pool.node_selector
    expected_tolerations = [t.model_dump(exclude_none=True) for t in tenant.node_pool.tolerations]
    assert pod.get("tolerations", []) == expected_tolerations
    assert pod["serviceAccountName"] == RUN_SERVICE_ACCOUNT
    assert pod["automountServiceAccountToken"] is False  # run pods never call the Kubernetes API
    assert job["spec"]["activeDeadlineSeconds"] == plan.max_runtime_seconds + 600


def test_job_is_hardened(launched_job) -> None:
    _tenant, job, _namespace = launched_job
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = pod["containers"][0]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert "/tmp" in mounts


def test_job_is_labelled_with_tenant_and_run(launched_job) -> None:
    tenant, job, _namespace = launched_job
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels["klikkflow.io/tenant"] == tenant.id
        assert labels["dagster/job"] == f"{tenant.id}_job"
        assert "dagster/run-id" in labels
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KLIKKFLOW_TENANT"] == tenant.id
    assert "KLIKKFLOW_PG_PASSWORD" not in env and "KLIKKFLOW_PG_USER" not in env  # from the Secret only
    env_from = job["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert env_from == [{"secretRef": {"name": tenant_env_secret(tenant.id)}}]
    (password,) = [
        e
        for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"] == "DAGSTER_PG_PASSWORD"
    ]
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": tenant_postgres_secret(tenant.id),
        "key": "postgresql-password",
    }


def test_run_pod_labels_are_the_ones_network_policies_assume(launched_job) -> None:
    """tests/deploy/test_network_policies.py models run pods with these labels: a run pod is none of
    the pods a policy selects by ``component`` (daemon, code server, webserver)."""
    _tenant, job, _namespace = launched_job
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "run_worker"
    assert "component" not in labels
