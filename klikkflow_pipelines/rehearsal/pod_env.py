"""Each rehearsal process's environment: exactly what its pod would have, read from what is rendered.

A pod's environment is the image's ``ENV`` (``deploy/Dockerfile``), the plain ``env`` entries of
its rendered Helm values or manifest, and the Secrets it loads (``envFrom``/``envSecrets``, or one
key with ``secretKeyRef``). Here the values and manifests are rendered by the same functions
``klikkflow tenant create`` and ``platform render`` use, and each Secret is read from the env file
the operator's commands wrote (``secret_files.read_env_file``). Nothing comes from the rehearsal's
own environment except the non-secret :data:`FROM_HOST` (so a source checkout on ``PYTHONPATH``
runs, as the image's installed package would). Paths the pods mount are mapped to the rehearsal's
folders (:class:`~klikkflow_pipelines.rehearsal.layout.Layout`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.grpc_workspace import GATEWAY_WORKSPACES_DIR_ENV, location_deployment_name
from klikkflow_pipelines.tenancy.helm_values import render_helm_values
from klikkflow_pipelines.tenancy.platform_manifests import (
    CHECKPOINTER,
    DETOKENIZE_MOUNT,
    GATEWAY,
    SIGNING_MOUNT,
    WITNESS_MOUNT,
    WORKSPACES_MOUNT,
    render_platform_manifests,
)
from klikkflow_pipelines.tenancy.secret_files import POSTGRESQL_PASSWORD_KEY, read_env_file

FROM_HOST = ("PYTHONPATH", "LANG", "LC_ALL", "TZ", "KLIKKFLOW_SPACY_MODEL")
"""Non-secret variables taken from the rehearsal's environment when set (the image sets or bakes them)."""
CHART_PG_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"
"""What Dagster's chart sets in its pods from ``global.postgresqlSecretName``."""

Env = dict[str, str]


def secret_env_file(layout: Layout, secret: str) -> Path:
    """The env file of Secret ``secret``, as ``platform init`` / ``tenant create`` wrote it."""
    return layout.operator_home / "platform" / "secrets" / f"{secret}.env"


def _secret(layout: Layout, secret: str) -> Env:
    path = secret_env_file(layout, secret)
    if not path.exists():
        raise FileNotFoundError(f"Secret {secret}: no env file {path} (did `klikkflow platform init` run?)")
    return read_env_file(path)


def image_env(layout: Layout, pod: str, dagster_home: Path | None = None) -> Env:
    """The image's ``ENV`` with the pod's folder as its ``/tmp`` (HOME, KLIKKFLOW_HOME)."""
    home = layout.pod_home(pod)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "KLIKKFLOW_ENV": "production",
        "KLIKKFLOW_HOME": str(home / "klikkflow"),
        "KLIKKFLOW_TENANTS_DIR": str(layout.tenants_dir),
        "DAGSTER_HOME": str(dagster_home or layout.pod(pod) / "dagster_home"),
    }
    env.update({name: os.environ[name] for name in FROM_HOST if os.environ.get(name)})
    return env


def _mapped(value: str, mounts: Mapping[str, Path]) -> str:
    for mount, local in mounts.items():
        if value == mount or value.startswith(mount + "/"):
            return str(local) + value[len(mount) :]
    return value


def container_env(
    container: Mapping[str, Any], layout: Layout, mounts: Mapping[str, Path] | None = None
) -> Env:
    """A manifest container's ``envFrom`` Secrets and ``env`` entries (values or ``secretKeyRef``),
    with mounted paths mapped to local folders."""
    env: Env = {}
    for source in container.get("envFrom", []):
        env.update(_secret(layout, source["secretRef"]["name"]))
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = _mapped(entry["value"], mounts or {})
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = _secret(layout, ref["name"])[ref["key"]]
    return env


def _helm_env(component: Mapping[str, Any], values: Mapping[str, Any], layout: Layout) -> Env:
    """A chart component's ``envSecrets`` and ``env``, plus the chart's database password variable."""
    env: Env = {}
    for secret in component.get("envSecrets", []):
        env.update(_secret(layout, secret["name"]))
    env.update({entry["name"]: entry["value"] for entry in component.get("env", [])})
    password_secret = values["global"]["postgresqlSecretName"]
    env[CHART_PG_PASSWORD_ENV] = _secret(layout, password_secret)[POSTGRESQL_PASSWORD_KEY]
    return env


def tenant_pod_env(
    layout: Layout, tenant: TenantConfig, settings: DeploySettings, location: str | None
) -> Env:
    """The environment of the tenant's daemon (``location`` ``None``) or of one location's code server
    (its run workers inherit it: the run pods' ``envSecrets``/``envVars`` are the same)."""
    values = render_helm_values(tenant, settings)
    if location is None:
        component = values["dagsterDaemon"]
    else:
        name = location_deployment_name(tenant.id, location)
        deployments = values["dagster-user-deployments"]["deployments"]
        component = next(d for d in deployments if d["name"] == name)
    pod = tenant.id
    return {**image_env(layout, pod, layout.dagster_home(tenant.id)), **_helm_env(component, values, layout)}


def _platform_container(tenants: list[TenantConfig], settings: DeploySettings, deployment: str) -> dict:
    for manifest in render_platform_manifests(tenants, settings):
        if manifest["kind"] == "Deployment" and manifest["metadata"]["name"] == deployment:
            return manifest["spec"]["template"]["spec"]["containers"][0]
    raise LookupError(f"the platform manifests render no Deployment {deployment}")


def gateway_pod_env(
    layout: Layout, tenants: list[TenantConfig], settings: DeploySettings, public_url: str
) -> tuple[Env, list[str]]:
    """The gateway's environment and arguments (``klikkflow serve ...``) from its Deployment.

    Two differences from Kubernetes, each on purpose: ``KLIKKFLOW_PUBLIC_URL`` is the loopback
    address (no TLS ingress here), and ``KLIKKFLOW_RUN_LAUNCHER=k8s`` is dropped (no cluster: its
    tenant instances use the default launcher, like the daemons). Webhook secrets are keys of the
    gateway's Secret (``KLIKKFLOW_WEBHOOK_SECRET__<TENANT>__<JOB>``), loaded with the rest.
    """
    container = _platform_container(tenants, settings, GATEWAY)
    mounts = {DETOKENIZE_MOUNT: layout.pod("gateway") / "detokenize", WORKSPACES_MOUNT: layout.workspaces_dir}
    env = {**image_env(layout, "gateway"), **container_env(container, layout, mounts)}
    env.pop("KLIKKFLOW_RUN_LAUNCHER", None)
    env["KLIKKFLOW_PUBLIC_URL"] = public_url
    assert env[GATEWAY_WORKSPACES_DIR_ENV] == str(layout.workspaces_dir)
    return env, list(container["args"])


def checkpointer_pod_env(
    layout: Layout, tenants: list[TenantConfig], settings: DeploySettings
) -> tuple[Env, list[str]]:
    """The audit checkpointer's environment and arguments from its Deployment (the signing key and the
    witness volume mapped to the rehearsal's folders)."""
    container = _platform_container(tenants, settings, CHECKPOINTER)
    mounts = {SIGNING_MOUNT: layout.pod("checkpointer") / "signing", WITNESS_MOUNT: layout.witness_dir}
    return {**image_env(layout, "checkpointer"), **container_env(container, layout, mounts)}, list(
        container["args"]
    )
