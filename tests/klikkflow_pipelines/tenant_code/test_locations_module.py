"""The module workspace entries load: ``<tenant>__<location>`` attributes, governed, one tenant a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

import klikkflow_pipelines.tenant_code.locations as locations
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenant_code.targets import location_attribute, parse_location_attribute

from .conftest import GOOD_MODULE

LOAD = """
import json, sys, klikkflow_pipelines.tenant_code.locations as locations
from klikkflow_pipelines.governance import govern_definitions, path_guard
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenant_code.importing import import_location
HEAVY = ("presidio_analyzer", "spacy", "great_expectations")
defs = getattr(locations, {attribute!r})
tenant = load_tenant("acme")
expected = govern_definitions(import_location(tenant, "shop"), tenant, "shop")
print(json.dumps({{"assets": sorted(k.to_user_string() for k in defs.resolve_all_asset_keys()),
                   "governed": sorted(defs.resources) == sorted(expected.resources),
                   "heavy": [m for m in HEAVY if m in sys.modules],
                   "guarded": path_guard._installed is not None}}))
"""


def _acme_with_shop(tenants_dir: Path, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code("code/loc_shop.py", GOOD_MODULE.format(asset="orders"))
    data = {
        "id": "acme",
        "name": "Acme",
        "code_locations": [{"name": "shop", "module": "loc_shop", "path": "../code"}],
    }
    (tenants_dir / "acme.yaml").write_text(yaml.safe_dump(data))


def _run(attribute: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = LOAD.format(attribute=attribute)
    environment = {k: v for k, v in os.environ.items() if k != "KLIKKFLOW_TENANT"} | env
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_attribute_names_tenant_and_location() -> None:
    assert location_attribute("acme-corp", "shop_2") == "acme-corp__shop_2"
    assert parse_location_attribute("acme-corp__shop__2") == ("acme-corp", "shop__2")
    for not_a_location in ("__path__", "__wrapped__", "acme", "acme__", "ac_me__x"):
        assert parse_location_attribute(not_a_location) is None


def test_no_module_global_can_be_hit_by_a_location_name() -> None:
    public = [name for name in vars(locations) if not name.startswith("_")]
    assert public == []


def test_a_location_loads_governed_in_a_process_of_no_tenant_without_heavy_imports(
    tenants_dir, write_code
) -> None:  # type: ignore[no-untyped-def]
    _acme_with_shop(tenants_dir, write_code)
    done = _run("acme__shop")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip().splitlines()[-1]
        == '{"assets": ["orders"], "governed": true, "heavy": [], "guarded": true}'
    )


def test_a_process_of_one_tenant_refuses_another_tenants_location(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    """Forged workspace entry: globex's code server (KLIKKFLOW_TENANT=globex) asked for acme's location."""
    _acme_with_shop(tenants_dir, write_code)
    done = _run("acme__shop", KLIKKFLOW_TENANT="globex")
    assert done.returncode != 0
    assert "serves tenant 'globex'" in done.stderr and "of tenant 'acme'" in done.stderr
