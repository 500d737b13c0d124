"""Attack: a hostile tenant's code location reads ``os.environ`` of its code server and run worker.

The real gateway opens the tenants' workspaces with platform secrets in its environment (cookie
secret, OIDC client secret, audit base and signing keys, detokenize key directory, the platform's
Postgres password, an unsuffixed tenant key, globex's key). acme's location ``spy`` records
``dict(os.environ)`` when its code server imports it and again in its run worker when its asset
materializes through the workspace (a run launched by GraphQL, then by the instance's run
launcher as the queued-run daemon does). Neither sees any platform secret or globex's values;
both see acme's own (``<NAME>__ACME``) values under their plain names.
"""

from __future__ import annotations

import json
import os
import secrets
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from dagster import DagsterRunStatus
from dagster_graphql.test.utils import execute_dagster_graphql

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.dagster_mount import ROLE_STATE_KEY, location_load_errors
from klikkflow_pipelines.gateway.server import open_gateway
from klikkflow_pipelines.gateway.settings import GatewaySettings
from klikkflow_pipelines.tenancy.config import load_all_tenants

SPY = '''
"""Tenant code that records the environment it is given (at import and when its asset runs)."""
import json
import os
from pathlib import Path

import dagster as dg

OUT = Path({out!r})
(OUT / f"import-{{os.getpid()}}.json").write_text(json.dumps(dict(os.environ)))


@dg.asset
def spy_asset() -> None:
    (OUT / f"run-{{os.getpid()}}.json").write_text(json.dumps(dict(os.environ)))


defs = dg.Definitions(assets=[spy_asset], jobs=[dg.define_asset_job("spy_job", selection=[spy_asset])])
'''

LAUNCH = """mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  }
}"""

ACME_KEY, GLOBEX_KEY, PLATFORM_TENANT_KEY = (secrets.token_hex(32) for _ in range(3))
PLATFORM_SECRETS = {
    "KLIKKFLOW_GATEWAY_SECRET": "gateway-cookie-secret-" + "g" * 32,
    "KLIKKFLOW_OIDC_CLIENT_SECRET": "oidc-client-secret-of-the-platform",
    "KLIKKFLOW_AUDIT_KEY": "audit-base-writer-key-" + "a" * 32,
    "KLIKKFLOW_AUDIT_SIGNING_KEY_FILE": "/platform/secrets/audit-signing.key",
    "KLIKKFLOW_PG_PASSWORD": "platform-postgres-password",
    "KLIKKFLOW_TENANT_KEY": PLATFORM_TENANT_KEY,
    "KLIKKFLOW_TENANT_KEY__GLOBEX": GLOBEX_KEY,
    "KLIKKFLOW_WAREHOUSE_URL__GLOBEX": "postgresql://globex:globex-pw@db/globex",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codeenv")


@pytest.fixture(scope="module")
def gateway(root: Path) -> Iterator[Gateway]:
    (root / "tenants").mkdir()
    (root / "spy").mkdir()
    (root / "acme-code").mkdir()
    (root / "acme-code" / "acme_spy.py").write_text(textwrap.dedent(SPY.format(out=str(root / "spy"))))
    spy = {"name": "spy", "module": "acme_spy", "path": "../acme-code"}
    (root / "tenants" / "acme.yaml").write_text(
        yaml.safe_dump({"id": "acme", "name": "acme", "code_locations": [spy]})
    )
    (root / "tenants" / "globex.yaml").write_text(yaml.safe_dump({"id": "globex", "name": "globex"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KLIKKFLOW_HOME", str(root / "home"))
        patch.setenv("KLIKKFLOW_TENANTS_DIR", str(root / "tenants"))
        patch.delenv("KLIKKFLOW_TENANT", raising=False)
        for name, value in PLATFORM_SECRETS.items():
            patch.setenv(name, value)
        detokenize = root / "platform-detokenize-keys"  # the gateway's private keys, one per tenant
        detokenize.mkdir()
        for tenant_id in ("acme", "globex"):
            (detokenize / f"{tenant_id}.key").write_text(secrets.token_hex(32))
        patch.setenv("KLIKKFLOW_DETOKENIZE_KEY_DIR", str(detokenize))
        patch.setenv("KLIKKFLOW_TENANT_KEY__ACME", ACME_KEY)
        patch.setenv("KLIKKFLOW_WAREHOUSE_URL__ACME", f"sqlite:///{root / 'acme-warehouse.db'}")
        patch.setenv("SHOP_API_TOKEN__ACME", "acme-own-shop-token")
        tenants, errors = load_all_tenants()
        assert not errors, errors
        settings = GatewaySettings(secret_key="k" * 48, database_url=f"sqlite:///{root / 'gateway.db'}")
        with open_gateway(settings, tenants) as opened:
            yield opened


def _recorded(root: Path, kind: str) -> list[dict[str, str]]:
    return [json.loads(path.read_text()) for path in sorted((root / "spy").glob(f"{kind}-*.json"))]


def _assert_only_acmes_own(env: dict[str, str], root: Path) -> None:
    leaked = {
        name
        for name, value in env.items()
        if value in PLATFORM_SECRETS.values()
        or name
        in {*PLATFORM_SECRETS, "KLIKKFLOW_DETOKENIZE_KEY_DIR"} - {"KLIKKFLOW_TENANT_KEY"}  # acme has one
        or "platform-detokenize-keys" in value
        or "__" in name
    }
    assert not leaked, f"platform or other tenants' variables visible to tenant code: {sorted(leaked)}"
    assert env["KLIKKFLOW_TENANT"] == "acme"
    assert env["KLIKKFLOW_TENANT_KEY"] == ACME_KEY
    assert env["KLIKKFLOW_WAREHOUSE_URL"] == f"sqlite:///{root / 'acme-warehouse.db'}"
    assert env["SHOP_API_TOKEN"] == "acme-own-shop-token"
    assert env["KLIKKFLOW_HOME"] == str(root / "home")
    assert env["DAGSTER_HOME"] == env["HOME"] == str((root / "home" / "tenants" / "acme").resolve())
    assert env["KLIKKFLOW_AUDIT_TENANT_WRITER_KEY"].startswith("acme:")  # acme's chain key, not the base key
    assert "PATH" in env


def test_the_code_server_sees_only_the_tenants_own_environment(gateway: Gateway, root: Path) -> None:
    assert location_load_errors(gateway.workspaces["acme"]) == {}
    imports = _recorded(root, "import")
    assert imports, "the spy location was never imported by a code server"
    for env in imports:
        _assert_only_acmes_own(env, root)


def test_a_run_of_the_tenant_sees_only_the_tenants_own_environment(gateway: Gateway, root: Path) -> None:
    context = gateway.workspaces["acme"]
    source = SimpleNamespace(scope={"state": {ROLE_STATE_KEY: "launcher"}})
    params = {
        "selector": {
            "repositoryLocationName": "spy",
            "repositoryName": "__repository__",
            "jobName": "spy_job",
        },
        "runConfigData": {},
    }
    result = execute_dagster_graphql(context.create_request_context(source), LAUNCH, {"params": params})
    assert result.errors is None, result.errors
    launched = result.data["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    instance = context.instance
    if instance.get_run_by_id(run_id).status == DagsterRunStatus.QUEUED:  # what the queued-run daemon does
        instance.launch_run(run_id, context.create_request_context())
    deadline = time.monotonic() + 180
    while (run := instance.get_run_by_id(run_id)).status not in (
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.FAILURE,
        DagsterRunStatus.CANCELED,
    ):
        assert time.monotonic() < deadline, f"run {run_id} still {run.status}"
        time.sleep(0.5)
    assert run.status == DagsterRunStatus.SUCCESS, [
        e.message for e in instance.all_logs(run_id) if e.is_dagster_event and e.dagster_event.is_failure
    ]
    runs = _recorded(root, "run")
    assert len(runs) == 1 and os.getpid() != int(next((root / "spy").glob("run-*.json")).stem[4:])
    _assert_only_acmes_own(runs[0], root)
