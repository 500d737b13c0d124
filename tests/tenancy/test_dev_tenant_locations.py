"""`klikkflow dev` serves a tenant's own code location: real daemon and webserver on its workspace.yaml.

Attack: the location's code reads ``os.environ`` of its code server, which the dev webserver and
daemon start; the platform secret set for ``klikkflow dev`` must not be there.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from klikkflow_pipelines.tenancy.supervisor import build_supervisor

from .test_supervisor import Lines

QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
  __typename ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } }
} } } } }"""


def _locations(port: int) -> dict[str, set[str]] | None:
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=10)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
    found = {}
    for entry in entries:
        location = entry["locationOrLoadError"] or {}
        nodes = [n for r in location.get("repositories", []) for n in r["assetNodes"]]
        found[entry["name"]] = {"/".join(n["assetKey"]["path"]) for n in nodes}
    return found


def test_dev_serves_the_tenant_location_from_its_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free_port
) -> None:
    tenants = tmp_path / "tenants"
    (tmp_path / "code").mkdir()
    seen = tmp_path / "seen-env"
    seen.mkdir()
    (tmp_path / "code" / "dev_orders.py").write_text(
        "import json, os, pathlib\nimport dagster as dg\n\n"
        f"pathlib.Path({str(seen)!r}, f'{{os.getpid()}}.json').write_text(json.dumps(dict(os.environ)))\n\n"
        "@dg.asset\ndef dev_orders() -> int:\n    return 1\n\n"
        "defs = dg.Definitions(assets=[dev_orders])\n"
    )
    tenants.mkdir()
    entry = {"name": "orders", "module": "dev_orders", "path": "../code"}
    (tenants / "initech.yaml").write_text(
        yaml.safe_dump({"id": "initech", "name": "Initech", "code_locations": [entry]})
    )
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tenants))
    monkeypatch.delenv("KLIKKFLOW_TENANT", raising=False)
    monkeypatch.setenv("KLIKKFLOW_OIDC_CLIENT_SECRET", "platform-oidc-secret")
    monkeypatch.setenv("KLIKKFLOW_TENANT_KEY__INITECH", "initech-own-key")
    port = free_port()
    supervisor = build_supervisor(None, webservers=True, base_port=port, output=Lines())
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline, found = time.monotonic() + 240, None
        while time.monotonic() < deadline:
            found = _locations(port)
            if found and "orders" in found and found["orders"]:
                break
            time.sleep(1)
        assert found is not None and set(found) == {"initech", "orders"}, found
        assert found["orders"] == {"dev_orders"}
        envs = [json.loads(path.read_text()) for path in seen.glob("*.json")]
        assert envs, "no code server imported the location"
        for env in envs:  # webserver's and daemon's code servers alike
            assert "KLIKKFLOW_OIDC_CLIENT_SECRET" not in env
            assert "platform-oidc-secret" not in env.values()
            assert env["KLIKKFLOW_TENANT"] == "initech"
            assert env["KLIKKFLOW_TENANT_KEY"] == "initech-own-key"
    finally:
        stop.set()
        thread.join(60)
