"""A real gateway on loopback: two tenants (acme, globex), each with its own Dagster instance
and a small code location, local accounts for every role, and the real OpenID provider."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from klikkflow_pipelines.gateway.app import Gateway
from klikkflow_pipelines.gateway.server import open_gateway
from klikkflow_pipelines.gateway.settings import GatewaySettings, OidcSettings
from klikkflow_pipelines.tenancy.config import load_all_tenants

from .helpers import PASSWORD, sign_in
from .oidc_server import OidcProvider, start_oidc_provider

# user -> (tenant, role); "gina" is admin of globex only, "owner" is the platform owner.
USERS = {
    "vera": ("acme", "viewer"),
    "lars": ("acme", "launcher"),
    "edda": ("acme", "editor"),
    "ada": ("acme", "admin"),
    "gina": ("globex", "admin"),
}

TENANT_YAML = """\
id: {id}
name: {name}
timezone: Europe/Oslo
members:
{members}
oidc_groups:
  {id}-viewers: viewer
  {id}-editors: editor
"""

CODE_LOCATION = '''\
"""A small code location for gateway tests: assets (one partitioned), a job, a schedule and a sensor."""
import dagster as dg


@dg.asset
def orders() -> int:
    return 42


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["north", "south"]))
def regional_orders() -> int:
    return 7


orders_job = dg.define_asset_job("orders_job", selection=["orders"])
defs = dg.Definitions(
    assets=[orders, regional_orders],
    jobs=[orders_job],
    schedules=[dg.ScheduleDefinition(name="orders_daily", job=orders_job, cron_schedule="0 6 * * *")],
    sensors=[dg.SensorDefinition(name="orders_sensor", job=orders_job, evaluation_fn=lambda _: None)],
)
'''


@dataclass
class LiveGateway:
    """A running gateway and how to reach it."""

    url: str
    gateway: Gateway
    oidc: OidcProvider
    home: Path

    def client(self, **kwargs: object) -> httpx.Client:
        """A fresh HTTP client (own cookie jar) against the gateway."""
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        """A client signed in with a local account (no MFA)."""
        client = self.client()
        response = sign_in(client, username, password)
        assert response.status_code == 303, response.text
        return client


@pytest.fixture
def variant_gateway(
    live_gateway: LiveGateway, free_port, serve_app
) -> Callable[..., AbstractContextManager[LiveGateway]]:
    """``with variant_gateway(**changes) as live``: a second gateway over the same tenants, apps and
    store, with some settings changed."""

    @contextmanager
    def start(**changes: object) -> Iterator[LiveGateway]:
        gw = live_gateway.gateway
        port = free_port()
        settings = gw.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}", **changes})
        variant = Gateway(settings, gw.tenants, gw.tenant_apps, gw.audit_logs, gw.store, gw.workspaces)
        with serve_app(variant, port) as url:
            yield LiveGateway(url=url, gateway=variant, oidc=live_gateway.oidc, home=live_gateway.home)

    return start


def _write_tenants(root: Path) -> Path:
    tenants_dir = root / "tenants"
    tenants_dir.mkdir(parents=True)
    for tenant_id, name in (("acme", "Acme Corp"), ("globex", "Globex")):
        members = "\n".join(
            f"  - user: {user}\n    role: {role}"
            for user, (tenant, role) in USERS.items()
            if tenant == tenant_id
        )
        members += f"\n  - user: sso.{tenant_id}@example.com\n    role: launcher"
        (tenants_dir / f"{tenant_id}.yaml").write_text(
            TENANT_YAML.format(id=tenant_id, name=name, members=members)
        )
    return tenants_dir


def code_workspace(code_file: Path, location_name: str) -> Path:
    """A workspace file serving ``code_file`` as the location ``location_name`` (beside the code file)."""
    workspace = code_file.with_name(f"{location_name}-workspace.yaml")
    entry = {"python_file": {"relative_path": str(code_file), "location_name": location_name}}
    workspace.write_text(yaml.safe_dump({"load_from": [entry]}))
    return workspace


@pytest.fixture(scope="package")
def live_gateway(tmp_path_factory: pytest.TempPathFactory, free_port, serve_app) -> Iterator[LiveGateway]:
    """Start the OpenID provider and the gateway (uvicorn in a thread) for the tests of this package.

    Package scope: the environment variables set here are restored before tests of other packages run.
    """
    root = tmp_path_factory.mktemp("gateway")
    saved = {k: os.environ.get(k) for k in ("KLIKKFLOW_HOME", "KLIKKFLOW_TENANTS_DIR", "KLIKKFLOW_AUDIT_KEY")}
    os.environ["KLIKKFLOW_HOME"] = str(root / "home")
    os.environ["KLIKKFLOW_TENANTS_DIR"] = str(_write_tenants(root))
    os.environ["KLIKKFLOW_AUDIT_KEY"] = "test-audit-key-" + "x" * 32
    code_file = root / "code_location.py"
    code_file.write_text(textwrap.dedent(CODE_LOCATION))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tenants, errors = load_all_tenants()
    assert not errors, errors
    with start_oidc_provider(f"{url}/auth/callback", free_port(), root) as provider:
        settings = GatewaySettings(
            secret_key="s" * 48,
            database_url=f"sqlite:///{root / 'gateway.db'}",
            public_url=url,
            rate_per_user=1000.0,
            burst_per_user=5000.0,
            rate_per_tenant=1000.0,
            burst_per_tenant=5000.0,
            signin_rate_per_address=1000.0,
            signin_burst_per_address=5000.0,
            metrics_token="metrics-token-for-tests",
            oidc=OidcSettings(
                issuer=provider.issuer,
                client_id=provider.client_id,
                client_secret=provider.client_secret,
                owner_groups=("platform-owners",),
            ),
        )
        with open_gateway(
            settings, tenants, workspace_for=lambda t: code_workspace(code_file, t.id)
        ) as gateway:
            for user in USERS:
                gateway.accounts.create_user(user, PASSWORD)
            gateway.accounts.create_user("owner", PASSWORD, owner=True)
            with serve_app(gateway, port):
                yield LiveGateway(url=url, gateway=gateway, oidc=provider, home=root / "home")
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


CHROMIUM = os.environ.get("KLIKKFLOW_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's package) driven by Playwright, for the browser tests of a module."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()
