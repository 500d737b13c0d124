"""Each rehearsal process gets exactly its pod's environment: the image's, the rendered values' or
manifest's plain entries and its own Secrets, never the rehearsal's own environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.rehearsal.layout import Layout
from klikkflow_pipelines.rehearsal.pod_env import (
    checkpointer_pod_env,
    gateway_pod_env,
    image_env,
    secret_env_file,
    tenant_pod_env,
)
from klikkflow_pipelines.tenancy.config import load_tenant_file
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.helm_values import render_helm_values

SETTINGS = DeploySettings(postgres_host="127.0.0.1", postgres_port=54321)
TENANT_SECRET = {
    "KLIKKFLOW_PG_USER": "klikkflow_acme",
    "KLIKKFLOW_PG_PASSWORD": "acme-password",
    "KLIKKFLOW_TENANT_KEY": "acme-tenant-key",
    "KLIKKFLOW_AUDIT_TENANT_WRITER_KEY": "acme:abcdef",
    "AWS_SECRET_ACCESS_KEY": "acme-aws-secret",
}
GATEWAY_SECRET = {
    "KLIKKFLOW_GATEWAY_SECRET": "cookie-secret",
    "KLIKKFLOW_GATEWAY_DB_URL": "postgresql+psycopg2://kf_gateway:gw-password@127.0.0.1:54321/kf_platform",
    "KLIKKFLOW_PG_USER": "kf_gateway",
    "KLIKKFLOW_PG_PASSWORD": "gw-password",
    "KLIKKFLOW_AUDIT_KEY": "base-writer-key",
    "KLIKKFLOW_AUDIT_PUBLIC_KEY": "public-key",
    "KLIKKFLOW_WEBHOOK_SECRET__ACME__CLAIMS_PROCESSING_JOB": "hook",
}


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    """Secrets' env files as the operator's commands write them; the rehearsal's own environment full
    of things no pod may inherit."""
    layout = Layout(tmp_path).create()
    files = {
        "kf-acme-env": TENANT_SECRET,
        "kf-acme-postgresql": {"postgresql-password": "acme-password"},
        "klikkflow-gateway-env": GATEWAY_SECRET,
    }
    for secret, values in files.items():
        path = secret_env_file(layout, secret)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# comment\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    for name, value in {"KLIKKFLOW_AUDIT_KEY": "rehearsal-own", "AWS_SECRET_ACCESS_KEY": "host-aws"}.items():
        monkeypatch.setenv(name, value)
    return layout


def test_a_tenant_daemon_and_code_server_get_their_values_and_their_secret_only(layout: Layout) -> None:
    acme = load_tenant_file(PROJECT_ROOT / "deploy" / "tenants" / "acme.yaml")
    values = render_helm_values(acme, SETTINGS)
    for location in (None, "acme"):
        env = tenant_pod_env(layout, acme, SETTINGS, location)
        plain = {e["name"]: e["value"] for e in values["dagsterDaemon"]["env"]}
        expected = {**image_env(layout, "acme", layout.dagster_home("acme")), **TENANT_SECRET, **plain}
        assert env == {**expected, "DAGSTER_PG_PASSWORD": "acme-password"}
        assert env["KLIKKFLOW_TENANT"] == "acme" and env["KLIKKFLOW_ENV"] == "production"
        assert env["KLIKKFLOW_PG_HOST"] == "127.0.0.1" and env["KLIKKFLOW_PG_PORT"] == "54321"
        assert "KLIKKFLOW_AUDIT_KEY" not in env and env["AWS_SECRET_ACCESS_KEY"] == "acme-aws-secret"


def test_the_gateway_gets_its_secret_its_mounts_and_no_cluster_launcher(layout: Layout) -> None:
    tenants = [
        load_tenant_file(PROJECT_ROOT / "deploy" / "tenants" / f"{t}.yaml") for t in ("acme", "globex")
    ]
    env, args = gateway_pod_env(layout, tenants, SETTINGS, "http://127.0.0.1:8123")
    assert args[:2] == ["klikkflow", "serve"]
    assert {k: env[k] for k in GATEWAY_SECRET} == GATEWAY_SECRET  # the base writer key is the gateway's
    assert env["KLIKKFLOW_GATEWAY_WORKSPACES_DIR"] == str(layout.workspaces_dir)
    assert env["KLIKKFLOW_DETOKENIZE_KEY_DIR"] == str(layout.pod("gateway") / "detokenize")
    assert env["KLIKKFLOW_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert "KLIKKFLOW_RUN_LAUNCHER" not in env and "KLIKKFLOW_TENANT" not in env
    assert env["KLIKKFLOW_WEBHOOK_SECRET__ACME__CLAIMS_PROCESSING_JOB"] == "hook"  # a key of its Secret
    assert not {"KLIKKFLOW_TENANT_KEY", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_the_checkpointer_gets_the_signing_key_and_only_four_keys_of_the_gateways_secret(
    layout: Layout,
) -> None:
    tenants = [load_tenant_file(PROJECT_ROOT / "deploy" / "tenants" / "acme.yaml")]
    env, args = checkpointer_pod_env(layout, tenants, SETTINGS)
    assert args[:4] == ["klikkflow", "audit", "checkpoint", "--loop"]
    assert env["KLIKKFLOW_AUDIT_SIGNING_KEY_FILE"] == str(
        layout.pod("checkpointer") / "signing" / "audit-signing.key"
    )
    assert env["KLIKKFLOW_AUDIT_WITNESS_DIR"] == str(layout.witness_dir)
    taken = {k for k, v in GATEWAY_SECRET.items() if env.get(k) == v}
    assert taken == {
        "KLIKKFLOW_PG_USER",
        "KLIKKFLOW_PG_PASSWORD",
        "KLIKKFLOW_GATEWAY_DB_URL",
        "KLIKKFLOW_AUDIT_PUBLIC_KEY",
    }
    assert not {"KLIKKFLOW_AUDIT_KEY", "KLIKKFLOW_GATEWAY_SECRET"} & set(env)
    assert not [k for k in env if k.startswith("KLIKKFLOW_WEBHOOK_SECRET__")]


def test_a_missing_secret_file_says_which_command_writes_it(layout: Layout) -> None:
    secret_env_file(layout, "kf-acme-env").unlink()
    acme = load_tenant_file(PROJECT_ROOT / "deploy" / "tenants" / "acme.yaml")
    with pytest.raises(FileNotFoundError, match="Secret kf-acme-env: no env file"):
        tenant_pod_env(layout, acme, SETTINGS, None)
