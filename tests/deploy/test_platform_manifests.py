"""The platform manifests deploy what the code runs: the gateway and the audit checkpointer.

Their commands parse with the real ``klikkflow`` CLI, their environment names the paths their
volumes are mounted at, the signing key reaches the checkpointer and no other pod, and the
gateway's instance of each tenant terminates runs through dagster-k8s's K8sRunLauncher.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from dagster._config import validate_config
from dagster_k8s import K8sRunLauncher
from typer.testing import CliRunner

from klikkflow_pipelines.cli.main import app
from klikkflow_pipelines.gateway.forwarded import parse_trusted_proxies
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_all_tenants
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.helm_values import helm_values_yaml
from klikkflow_pipelines.tenancy.instance import RUN_LAUNCHER_ENV, render_instance_config
from klikkflow_pipelines.tenancy.k8s_manifests import render_manifests
from klikkflow_pipelines.tenancy.platform_manifests import render_platform_manifests

TENANTS, _ = load_all_tenants()
SETTINGS = DeploySettings(
    gateway_host="flows.example.org",
    gateway_tls_secret="flows-tls",
    ingress_class="traefik",
    ingress_cidr="10.244.7.0/24",
)
MANIFESTS = render_platform_manifests(list(TENANTS.values()), SETTINGS)
runner = CliRunner()


def _deployment(name: str) -> dict[str, Any]:
    (deployment,) = [m for m in MANIFESTS if m["kind"] == "Deployment" and m["metadata"]["name"] == name]
    return deployment


def _container(name: str) -> dict[str, Any]:
    (container,) = _deployment(name)["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _mount_of(deployment: dict[str, Any], volume: str) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume]
    return mount


def _parses_with_the_cli(args: list[str]) -> None:
    """Parse ``args`` with the real ``klikkflow`` command tree (raises on an unknown command/option)."""
    assert args[0] == "klikkflow"
    command, rest = typer.main.get_command(app), args[1:]
    while hasattr(command, "commands"):  # a command group (typer bundles its own click)
        command, rest = command.commands[rest[0]], rest[1:]
    command.make_context(command.name, list(rest))


def test_gateway_and_checkpointer_commands_parse_with_the_real_cli() -> None:
    _parses_with_the_cli(_container("klikkflow-gateway")["args"])
    _parses_with_the_cli(_container("klikkflow-audit-checkpointer")["args"])
    with pytest.raises(Exception, match="No such option: --listen"):
        _parses_with_the_cli(["klikkflow", "serve", "--listen", "0.0.0.0"])  # the check bites


def test_gateway_reads_workspaces_and_detokenize_keys_where_they_are_mounted() -> None:
    gateway = _deployment("klikkflow-gateway")
    env = _env(_container("klikkflow-gateway"))
    assert _mount_of(gateway, "workspaces")["mountPath"] == env["KLIKKFLOW_GATEWAY_WORKSPACES_DIR"]
    keys = _mount_of(gateway, "detokenize-keys")
    assert keys["mountPath"] == env["KLIKKFLOW_DETOKENIZE_KEY_DIR"] and keys["readOnly"] is True
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    assert volumes["workspaces"]["configMap"]["name"] == "klikkflow-gateway-workspaces"
    assert volumes["detokenize-keys"]["secret"]["secretName"] == "klikkflow-detokenize-keys"
    assert _container("klikkflow-gateway")["envFrom"] == [{"secretRef": {"name": "klikkflow-gateway-env"}}]
    assert env["KLIKKFLOW_ENV"] == "production" and env[RUN_LAUNCHER_ENV] == "k8s"
    assert env["KLIKKFLOW_PUBLIC_URL"] == "https://flows.example.org"
    assert parse_trusted_proxies([env["KLIKKFLOW_GATEWAY_TRUSTED_PROXIES"]], "x") == ("10.244.7.0/24",)
    workspaces = next(m for m in MANIFESTS if m["kind"] == "ConfigMap")
    assert sorted(workspaces["data"]) == [f"{t}.yaml" for t in sorted(TENANTS)]


def test_gateway_restarts_when_the_workspaces_change() -> None:
    def digest(tenants: list) -> str:
        (gateway,) = [
            m
            for m in render_platform_manifests(tenants, SETTINGS)
            if m["kind"] == "Deployment" and "gateway" in m["metadata"]["name"]
        ]
        return gateway["spec"]["template"]["metadata"]["annotations"]["klikkflow.io/workspaces-sha256"]

    assert digest([TENANTS["acme"]]) != digest([TENANTS["acme"], TENANTS["globex"]])


def test_ingress_terminates_tls_for_the_gateway_service() -> None:
    ingress = next(m for m in MANIFESTS if m["kind"] == "Ingress")
    service = next(m for m in MANIFESTS if m["kind"] == "Service")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "traefik"
    assert spec["tls"] == [{"hosts": ["flows.example.org"], "secretName": "flows-tls"}]
    (rule,) = spec["rules"]
    (path,) = rule["http"]["paths"]
    assert rule["host"] == "flows.example.org"
    assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    pod_labels = _deployment("klikkflow-gateway")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["type"] == "ClusterIP"


def test_the_signing_key_is_mounted_into_the_checkpointer_and_nowhere_else() -> None:
    checkpointer = _deployment("klikkflow-audit-checkpointer")
    env = _env(_container("klikkflow-audit-checkpointer"))
    mount = _mount_of(checkpointer, "signing-key")
    assert env["KLIKKFLOW_AUDIT_SIGNING_KEY_FILE"].startswith(mount["mountPath"] + "/") and mount["readOnly"]
    assert env["KLIKKFLOW_AUDIT_WITNESS_DIR"] == _mount_of(checkpointer, "witness")["mountPath"]
    volumes = {v["name"]: v for v in checkpointer["spec"]["template"]["spec"]["volumes"]}
    assert volumes["witness"]["persistentVolumeClaim"]["claimName"] == "klikkflow-audit-witness"
    assert "envFrom" not in _container(
        "klikkflow-audit-checkpointer"
    )  # only named keys of the gateway Secret
    assert {k for k, v in env.items() if isinstance(v, dict)} == {
        "KLIKKFLOW_PG_USER",
        "KLIKKFLOW_PG_PASSWORD",
        "KLIKKFLOW_GATEWAY_DB_URL",
        "KLIKKFLOW_AUDIT_PUBLIC_KEY",
    }
    others = [m for m in MANIFESTS if m is not checkpointer]
    for tenant in TENANTS.values():
        others += render_manifests(tenant, SETTINGS)
        others.append(yaml.safe_load(helm_values_yaml(tenant, SETTINGS)))
    assert all("klikkflow-audit-signing" not in yaml.safe_dump(m) for m in others)
    assert "KLIKKFLOW_AUDIT_SIGNING_KEY_FILE" not in yaml.safe_dump(others)


def test_platform_pods_are_hardened() -> None:
    for name in ("klikkflow-gateway", "klikkflow-audit-checkpointer"):
        spec = _deployment(name)["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        (container,) = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert container["resources"]["limits"]
    assert (
        _deployment("klikkflow-audit-checkpointer")["spec"]["template"]["spec"]["serviceAccountName"]
        != (_deployment("klikkflow-gateway")["spec"]["template"]["spec"]["serviceAccountName"])
    )


def test_the_gateways_instance_terminates_runs_through_the_k8s_run_launcher(monkeypatch) -> None:
    tenant = TENANTS["acme"]
    monkeypatch.delenv(RUN_LAUNCHER_ENV, raising=False)
    assert "run_launcher" not in render_instance_config(tenant, production=True)
    monkeypatch.setenv(RUN_LAUNCHER_ENV, "k8s")
    launcher = render_instance_config(tenant, production=True)["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = validate_config(K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    assert launcher["config"]["job_namespace"] == "kf-acme"
    assert "run_launcher" not in render_instance_config(tenant, production=False)  # local: never
    monkeypatch.setenv(RUN_LAUNCHER_ENV, "kubernetes")
    with pytest.raises(ValueError, match="KLIKKFLOW_RUN_LAUNCHER='kubernetes'"):
        render_instance_config(tenant, production=True)


def test_malformed_network_settings_name_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("KLIKKFLOW_OBJECT_STORE_CIDR", "10.60.0.5/24")
    with pytest.raises(ValueError, match=r"KLIKKFLOW_OBJECT_STORE_CIDR='10\.60\.0\.5/24'.*host bits"):
        DeploySettings.from_env()
    monkeypatch.setenv("KLIKKFLOW_OBJECT_STORE_CIDR", "10.60.0.0/24")
    monkeypatch.setenv("KLIKKFLOW_OBJECT_STORE_PORT", "https")
    with pytest.raises(ValueError, match="KLIKKFLOW_OBJECT_STORE_PORT must be a TCP port"):
        DeploySettings.from_env()


def _config_map_tenants(path: Path) -> set[str]:
    documents = list(yaml.safe_load_all(path.read_text()))
    (workspaces,) = [d for d in documents if d["kind"] == "ConfigMap"]
    return {key.removesuffix(".yaml") for key in workspaces["data"]}


def test_platform_render_and_tenant_create_delete_keep_the_platform_file_current(
    tmp_path: Path, klikkflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants_dir, deploy = tmp_path / "tenants", tmp_path / "deploy"
    tenants_dir.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "tenants" / "globex.yaml", tenants_dir)
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tenants_dir))
    monkeypatch.setenv("KLIKKFLOW_DEPLOY_DIR", str(deploy))
    platform = deploy / "k8s" / "platform" / "manifests.yaml"
    result = runner.invoke(app, ["platform", "render"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _config_map_tenants(platform) == {"globex"}
    assert runner.invoke(app, ["tenant", "create", "initech"], catch_exceptions=False).exit_code == 0
    assert _config_map_tenants(platform) == {"globex", "initech"}
    (tenants_dir / "broken.yaml").write_text("id: broken\nname: [\n")
    result = runner.invoke(app, ["platform", "render"], catch_exceptions=False)
    assert result.exit_code == 1 and "left out broken tenant files: broken" in result.output
    assert _config_map_tenants(platform) == {"globex", "initech"}
    (tenants_dir / "broken.yaml").unlink()
    result = runner.invoke(
        app, ["tenant", "delete", "initech", "--confirm", "initech"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert _config_map_tenants(platform) == {"globex"}
    monkeypatch.setenv("KLIKKFLOW_KUBE_API_CIDR", "10.96.0.1")  # a host, not a network: accepted as /32
    monkeypatch.setenv("KLIKKFLOW_OIDC_CIDR", "not-a-network")
    result = runner.invoke(app, ["platform", "render"], catch_exceptions=False)
    assert result.exit_code == 2 and "KLIKKFLOW_OIDC_CIDR='not-a-network'" in result.output
