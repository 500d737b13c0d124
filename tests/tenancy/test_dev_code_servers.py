"""``klikkflow dev``'s code servers: one per tenant location, shared by daemon and gateway, reloadable.

One real ``klikkflow dev`` (subprocess) serves two tenants from a temporary tenants directory:
``initech`` with its own location ``orders`` (a module in a temporary project) and ``hooli``.
Its environment carries platform secrets and both tenants' keys. Checked on the live process
tree: exactly one ``dagster code-server start`` per location, whose port is the one the tenant's
daemon workspace and the gateway's workspace name (the daemon starts no code server of its own);
each code server, its child and the location code itself hold only their tenant's environment;
the UI's Reload (GraphQL ``reloadRepositoryLocation`` through the gateway) re-imports edited code.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from compliance.audit.keys import SIGNING_KEY_FILE_ENV, WRITER_KEY_ENV
from compliance.token_keys import DETOKENIZE_KEY_DIR_ENV
from klikkflow_pipelines.tenancy.dev_code_servers import WORKSPACES_DIR
from tests.gateway.helpers import graphql, sign_in
from tests.klikkflow_pipelines.test_dev_mode import CREDENTIALS, DevRun, free_port, running_dev

LOCATIONS = {"initech": {"initech", "orders"}, "hooli": {"hooli"}}
SECRETS = {
    "KLIKKFLOW_TENANT_KEY__INITECH": "initech-own-key-1234",
    "KLIKKFLOW_TENANT_KEY__HOOLI": "hooli-own-key-5678",
    "KLIKKFLOW_OIDC_CLIENT_SECRET": "platform-oidc-secret-0000",
    WRITER_KEY_ENV: "platform-audit-writer-base-key-" + "b" * 32,
}
ORDERS_CODE = """import json, os, pathlib
import dagster as dg

pathlib.Path({seen!r}, f"{{os.getpid()}}.json").write_text(json.dumps(dict(os.environ)))

{assets}
defs = dg.Definitions(assets=[{names}])
"""
LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  displayMetadata { key value }
  locationOrLoadError { __typename ... on RepositoryLocation { serverId repositories { assetNodes {
    assetKey { path } } } } } } } } }"""
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "orders") {
  __typename ... on WorkspaceLocationEntry { name } } }"""


def orders_code(seen: Path, names: list[str]) -> str:
    """The ``orders`` location: records its environment, defines one asset per name."""
    assets = "".join(f"@dg.asset\ndef {name}() -> int:\n    return 1\n\n" for name in names)
    return ORDERS_CODE.format(seen=str(seen), assets=assets, names=", ".join(names))


@dataclass
class Dev:
    """The running dev, its home, the signed-in client and the temporary project."""

    run: DevRun
    home: Path
    client: httpx.Client
    code: Path
    seen: Path


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    root = tmp_path_factory.mktemp("dev-code-servers")
    tenants, code, seen, keys = (root / name for name in ("tenants", "code", "seen", "keys"))
    for directory in (tenants, code, seen, keys):
        directory.mkdir()
    (code / "dev_orders.py").write_text(orders_code(seen, ["dev_orders"]))
    orders = {"name": "orders", "module": "dev_orders", "path": "../code"}
    (tenants / "initech.yaml").write_text(
        yaml.safe_dump({"id": "initech", "name": "Initech", "code_locations": [orders]})
    )
    (tenants / "hooli.yaml").write_text(yaml.safe_dump({"id": "hooli", "name": "Hooli"}))
    signing_key = keys / "audit-signing.key"
    signing_key.write_text(Ed25519PrivateKey.generate().private_bytes_raw().hex())
    signing_key.chmod(0o600)
    (keys / "detokenize").mkdir()
    for tenant in LOCATIONS:  # a mounted key directory holds every tenant's private key
        key = keys / "detokenize" / f"{tenant}.key"
        key.write_text(X25519PrivateKey.generate().private_bytes_raw().hex())
        key.chmod(0o600)
    env = {
        **SECRETS,
        "KLIKKFLOW_TENANTS_DIR": str(tenants),
        SIGNING_KEY_FILE_ENV: str(signing_key),
        DETOKENIZE_KEY_DIR_ENV: str(keys / "detokenize"),
    }
    port, home = free_port(), root / "home"
    with running_dev(home, port, extra_env=env) as run:
        username, password = CREDENTIALS.search(run.text).groups()  # type: ignore[union-attr]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            assert sign_in(client, username, password).status_code == 303
            yield Dev(run, home, client, code, seen)
        sockets = {Path(_option(p, "--socket")).parent for p in _code_servers(run)}
        leftover = run.stop(signal.SIGTERM)
        assert run.popen.returncode == 0, run.text[-2000:]
        assert leftover == [], [p.cmdline() for p in leftover]
        assert len(sockets) == 1 and not sockets.pop().exists()  # the socket directory is removed


def _tenant_of(proc: psutil.Process) -> str | None:
    return proc.environ().get("KLIKKFLOW_TENANT")


def _argv(proc: psutil.Process) -> list[str]:
    """``proc``'s command line; empty for a process that has exited (a zombie not yet reaped)."""
    try:
        return proc.cmdline()
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return []


def _code_servers(run: DevRun) -> list[psutil.Process]:
    """The ``dagster code-server start`` processes under ``klikkflow dev``."""
    return [p for p in run.descendants() if "code-server" in _argv(p) and "start" in _argv(p)]


def _daemons(run: DevRun) -> list[psutil.Process]:
    """The tenants' ``dagster-daemon run`` processes under ``klikkflow dev``."""
    return [p for p in run.descendants() if "dagster-daemon" in " ".join(_argv(p))]


def _option(proc: psutil.Process, option: str) -> str:
    argv = proc.cmdline()
    return argv[argv.index(option) + 1]


def _listening_socket(proc: psutil.Process) -> str:
    """The unix socket ``proc`` listens on (and no TCP port)."""
    assert [c for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN] == []
    [path] = {c.laddr for c in proc.net_connections(kind="unix") if c.laddr == _option(proc, "--socket")}
    return path


def _gateway_locations(client: httpx.Client, tenant: str) -> dict[str, dict]:
    """Location name -> {"socket": the code server the gateway uses, "loaded": bool, "server": its
    server id, "assets": asset keys}."""
    answer = graphql(client, tenant, LOCATIONS_QUERY)
    assert answer.status_code == 200, answer.text
    found = {}
    for entry in answer.json()["data"]["workspaceOrError"]["locationEntries"]:
        metadata = {item["key"]: item["value"] for item in entry["displayMetadata"]}
        location = entry["locationOrLoadError"] or {}
        nodes = [n for r in location.get("repositories", []) for n in r["assetNodes"]]
        assets = {"/".join(n["assetKey"]["path"]) for n in nodes}
        found[entry["name"]] = {
            "socket": metadata["socket"],
            "loaded": location.get("__typename") == "RepositoryLocation",
            "server": location.get("serverId"),
            "assets": assets,
        }
    return found


def test_one_code_server_per_location_shared_by_daemon_and_gateway(dev: Dev) -> None:
    processes = dev.run.descendants()
    proxies = _code_servers(dev.run)
    for tenant, locations in LOCATIONS.items():
        mine = [p for p in proxies if _tenant_of(p) == tenant]
        assert len(mine) == len(locations), [p.cmdline() for p in mine]  # one per location, no more
        sockets = {_option(p, "--location-name"): _listening_socket(p) for p in mine}
        assert set(sockets) == locations
        workspace = dev.home / "platform" / WORKSPACES_DIR / f"{tenant}.yaml"
        entries = yaml.safe_load(workspace.read_text())["load_from"]
        assert {e["grpc_server"]["location_name"]: e["grpc_server"]["socket"] for e in entries} == sockets
        [daemon] = [p for p in _daemons(dev.run) if _tenant_of(p) == tenant]
        assert _option(daemon, "-w") == str(workspace)
        assert daemon.children() == []  # the daemon starts no code server of its own
        gateway = _gateway_locations(dev.client, tenant)
        assert {name: entry["socket"] for name, entry in gateway.items()} == sockets
    # every process that loads tenant code is a code server's child; the gateway starts none
    loaders = [p for p in processes if "api" in _argv(p) and "grpc" in _argv(p)]
    assert len(loaders) == sum(len(locations) for locations in LOCATIONS.values())
    assert all(p.parent() in proxies for p in loaders)
    initech = _gateway_locations(dev.client, "initech")
    assert initech["orders"]["assets"] == {"dev_orders"} and initech["initech"]["loaded"]


def test_tenant_code_servers_and_daemons_hold_only_their_tenants_environment(dev: Dev) -> None:
    platform_values = {SECRETS[WRITER_KEY_ENV], SECRETS["KLIKKFLOW_OIDC_CLIENT_SECRET"]}
    forbidden_names = {
        SIGNING_KEY_FILE_ENV,
        DETOKENIZE_KEY_DIR_ENV,
        WRITER_KEY_ENV,
        "KLIKKFLOW_OIDC_CLIENT_SECRET",
    }
    checked = 0
    daemons = _daemons(dev.run)
    assert len(daemons) == len(LOCATIONS)
    for proxy in [*_code_servers(dev.run), *daemons]:
        tenant = _tenant_of(proxy)
        other = "hooli" if tenant == "initech" else "initech"
        for proc in (proxy, *proxy.children(recursive=True)):
            env = proc.environ()
            assert env["KLIKKFLOW_TENANT"] == tenant and env["KLIKKFLOW_EXECUTOR"] == "in_process"
            assert env["KLIKKFLOW_TENANT_KEY"] == SECRETS[f"KLIKKFLOW_TENANT_KEY__{tenant.upper()}"]
            assert not forbidden_names & set(env), proc.cmdline()
            values = set(env.values())
            assert SECRETS[f"KLIKKFLOW_TENANT_KEY__{other.upper()}"] not in values
            assert not platform_values & values
            assert not any(name.endswith("__" + other.upper()) for name in env)
            checked += 1
    assert checked >= 2 * sum(len(locations) for locations in LOCATIONS.values()) + len(daemons)
    seen = [json.loads(path.read_text()) for path in dev.seen.glob("*.json")]
    assert seen, "the orders location's code never ran"
    for env in seen:  # what the tenant's own code could read
        assert env["KLIKKFLOW_TENANT"] == "initech" and SECRETS[WRITER_KEY_ENV] not in env.values()
        assert SIGNING_KEY_FILE_ENV not in env and "KLIKKFLOW_TENANT_KEY__HOOLI" not in env


def test_reload_in_the_ui_reimports_the_location_code(dev: Dev) -> None:
    [proxy] = [p for p in _code_servers(dev.run) if "orders" in p.cmdline()]
    [old_child] = proxy.children()
    before = _gateway_locations(dev.client, "initech")["orders"]["server"]
    (dev.code / "dev_orders.py").write_text(orders_code(dev.seen, ["dev_orders", "dev_orders_v2"]))
    answer = graphql(dev.client, "initech", RELOAD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["reloadRepositoryLocation"]["__typename"] == "WorkspaceLocationEntry"
    orders = _gateway_locations(dev.client, "initech")["orders"]
    assert orders["assets"] == {"dev_orders", "dev_orders_v2"} and orders["server"] != before
    assert _gateway_locations(dev.client, "initech")["initech"]["loaded"]  # the other location still serves
    deadline = time.monotonic() + 30
    while old_child.is_running() and time.monotonic() < deadline:  # the old code's process goes away
        time.sleep(0.5)
    assert not old_child.is_running() or old_child.status() == psutil.STATUS_ZOMBIE
    [new_child] = proxy.children()
    assert new_child.pid != old_child.pid and new_child.environ()["KLIKKFLOW_TENANT"] == "initech"
    assert len(_code_servers(dev.run)) == 3  # reloading started no extra code server


def test_a_killed_code_server_is_restarted_on_its_socket_and_the_gateway_follows(dev: Dev) -> None:
    [proxy] = [p for p in _code_servers(dev.run) if _tenant_of(p) == "hooli"]
    socket = _option(proxy, "--socket")
    before = _gateway_locations(dev.client, "hooli")["hooli"]["server"]
    proxy.kill()
    deadline, restarted = time.monotonic() + 90, []
    while not restarted and time.monotonic() < deadline:
        time.sleep(0.5)
        restarted = [p for p in _code_servers(dev.run) if _tenant_of(p) == "hooli" and p.pid != proxy.pid]
    assert restarted, dev.run.text[-3000:]
    assert _option(restarted[0], "--socket") == socket  # same socket: the workspaces stay valid
    assert "hooli/code-server-hooli] exited with code" in dev.run.text
    while time.monotonic() < deadline:  # the gateway reconnects by itself (no reload needed)
        location = _gateway_locations(dev.client, "hooli")["hooli"]
        if location["loaded"] and location["server"] not in (None, before):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the gateway did not reconnect to {socket}: {location}")


def test_a_viewer_without_a_session_cannot_reload(dev: Dev) -> None:
    with httpx.Client(base_url=str(dev.client.base_url), timeout=30) as anonymous:
        answer = graphql(anonymous, "initech", RELOAD)
    assert answer.status_code in (302, 303, 401, 403), answer.text
