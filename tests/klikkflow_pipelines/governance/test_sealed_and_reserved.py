"""Attacks on a governed location's bindings: run config overriding KlikkFlow's resources at launch,
a tenant defining KlikkFlow's reserved keys, and one tenant reaching another's paths and keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from compliance.events import read_events
from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine
from klikkflow_pipelines.tenant_resources import build_resources
from resources.secrets import SecretsResource
from resources.warehouse import WarehouseResource

Materialize = Callable[..., dg.ExecuteInProcessResult]
EMAILS = ["ada@example.com", "grace@example.org"]


@dg.asset
def contacts() -> pl.DataFrame:
    return pl.DataFrame({"email": EMAILS})


@dg.asset(io_manager_key="governed_io_manager")
def leads() -> pl.DataFrame:
    return pl.DataFrame({"email": EMAILS})


@dg.asset
def loaded_contacts(warehouse: WarehouseResource, secrets: SecretsResource) -> dg.MaterializeResult:
    warehouse.write_frame("contacts", pl.DataFrame({"email_hash_key_set": [secrets.has_tenant_key()]}))
    return dg.MaterializeResult()


def _overrides(tmp_path: Path) -> dict[str, dict]:
    """Complete launch configs (Dagster asks for every required field once one is given)."""
    allow_all = tmp_path / "allow-all.yaml"
    allow_all.write_text(yaml.safe_dump({"version": 1, "default_action": "allow"}), encoding="utf-8")
    globex = tenant_home("globex")
    return {
        "io_manager": {"config": {"base_dir": str(globex / "frames")}},
        "governed_io_manager": {"config": {"tenant_id": "acme", "policy_path": str(allow_all)}},
        "secrets": {"config": {"tenant_key_file": str(globex / "secrets" / "tenant.key")}},
        "warehouse": {"config": {"url": f"sqlite:///{globex / 'warehouse.db'}"}},
    }


@pytest.mark.parametrize("key", ["io_manager", "governed_io_manager", "secrets", "warehouse"])
def test_attack_run_config_cannot_override_governed_resources(
    key: str, acme: TenantConfig, materialize: Materialize, tmp_path: Path
) -> None:
    """Before: Dagster took launch config over the bound values (an allow-all policy wrote raw e-mails)."""
    governed = govern_definitions(dg.Definitions(assets=[contacts, leads, loaded_contacts]), acme, "c.py")
    with pytest.raises(dg.DagsterInvalidConfigError, match=f"at path root:resources:{key}:config"):
        materialize(
            governed,
            ["contacts", "leads", "loaded_contacts"],
            run_config={"resources": {key: _overrides(tmp_path)[key]}},
        )
    assert not list((tenant_home("acme") / "frames").glob("*.parquet"))
    assert not list((tenant_home("globex") / "frames").glob("*.parquet"))
    assert not (tenant_home("globex") / "secrets" / "tenant.key").exists()


def test_reserved_keys_are_refused_with_file_field_and_fix(acme: TenantConfig) -> None:
    """Before, a location's own ``warehouse``/``secrets`` shadowed KlikkFlow's or failed deep in Dagster."""

    @dg.asset(resource_defs={"secrets": dg.ResourceDefinition.hardcoded_resource("k")})
    def sneaky() -> None:
        return None

    own_warehouse = WarehouseResource(url="sqlite:////tmp/anyone.db")
    defs = dg.Definitions(assets=[sneaky, contacts], resources={"warehouse": own_warehouse})
    with pytest.raises(ConfigError) as error:
        govern_definitions(defs, acme, "acme_pipelines/definitions.py")
    problems = {p.field: p for p in error.value.problems}
    assert set(problems) == {"resources.warehouse", "assets[sneaky].resource_defs.secrets"}
    assert all(p.file == "acme_pipelines/definitions.py" and p.fix for p in problems.values())
    assert "reserved" in problems["resources.warehouse"].message


def test_attack_two_tenants_each_see_only_their_own_paths_and_keys(
    write_tenant: Callable[..., TenantConfig], materialize: Materialize
) -> None:
    """Each governed location writes to its own home, with its own key, into its own event table."""
    acme, globex = write_tenant("acme"), write_tenant("globex")
    stored = {}
    for tenant in (acme, globex):
        governed = govern_definitions(dg.Definitions(assets=[contacts]), tenant, f"{tenant.id}.py")
        materialize(governed, ["contacts"])
        stored[tenant.id] = pl.read_parquet(tenant_home(tenant.id) / "frames" / "contacts.parquet")
        keys = build_resources(tenant)["secrets"].compliance_keys()
        assert keys.hash_key != b""
    assert stored["acme"]["email"].to_list() != stored["globex"]["email"].to_list()  # different tenant keys
    assert not set(stored["acme"]["email"]) & set(EMAILS)
    for tenant_id, other in (("acme", "globex"), ("globex", "acme")):
        assert (tenant_home(tenant_id) / "secrets" / "tenant.key").is_file()
        events = read_events(tenant_storage_engine(tenant_id))
        assert events and {e["tenant"] for e in events} == {tenant_id}
        assert all(other not in str(e["details"]) for e in events)
