"""Every IO manager of a tenant location is governed: the default one, the tenant's own, an asset's own,
an op job's. Real execution on a real ephemeral instance; the stored data is read back from disk and
compared with the keyed hash the tenant's policy prescribes."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
import polars as pl

from compliance.crypto import hash_value
from compliance.events import read_events
from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.paths import tenant_home
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.storage import tenant_storage_engine
from klikkflow_pipelines.tenant_resources import build_resources

EMAILS = ["ada@example.com", "grace@example.org", "linus@example.net"]
Materialize = Callable[..., dg.ExecuteInProcessResult]


def hashed(tenant: TenantConfig, values: list[str]) -> list[str]:
    """``values`` as the tenant's policy stores them (keyed HMAC with the tenant's own key)."""
    key = build_resources(tenant)["secrets"].compliance_keys().hash_key
    return [hash_value(key, v) for v in values]


def test_default_and_tenant_io_managers_store_protected_frames(
    governed_acme: dg.Definitions, acme: TenantConfig, materialize: Materialize, tmp_path: Path
) -> None:
    """Before the wrapper the default io_manager and the tenant's CSV IO manager wrote raw e-mails."""
    result = materialize(governed_acme, ["customers", "partners"])

    stored = pl.read_parquet(tenant_home("acme") / "frames" / "customers.parquet")
    assert stored["email"].to_list() == hashed(acme, EMAILS)
    csv = pd.read_csv(tmp_path / "acme_csv" / "partners.csv")  # written by the tenant's own IO manager
    assert csv["partner"].tolist() == ["Initech", "Hooli"]
    assert csv["contact_email"].tolist() == hashed(acme, ["bob@initech.example", "gavin@hooli.example"])

    metadata = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    tags = {c.name: c.tags for c in metadata["partners"]["dagster/column_schema"].value.columns}
    assert tags["contact_email"]["pii/entity"] == "EMAIL_ADDRESS"
    assert tags["contact_email"]["pii/action"] == "hash"
    events = read_events(tenant_storage_engine("acme"), tenant="acme", asset="partners")
    assert {(e["action"], e["column"]) for e in events} >= {
        ("classify", "contact_email"),
        ("hash", "contact_email"),
    }


class _PickleDir(dg.IOManager):
    """A careless tenant's IO manager: pickles whatever it gets into a directory."""

    def __init__(self, base_dir: str):
        self.base_dir = Path(base_dir)

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / f"{context.asset_key.path[-1]}.pickle").write_bytes(pickle.dumps(obj))

    def load_input(self, context: dg.InputContext) -> object:
        return pickle.loads((self.base_dir / f"{context.asset_key.path[-1]}.pickle").read_bytes())


def test_attack_asset_binding_its_own_io_manager_is_still_governed(
    acme: TenantConfig, materialize: Materialize, tmp_path: Path
) -> None:
    """An asset with its own legacy ``io_manager_def`` (asset-level resource) bypassed governance before."""
    leak_dir = tmp_path / "leak"

    @dg.io_manager(config_schema={"base_dir": dg.Field(str, default_value=str(leak_dir))})
    def pickle_dir_io_manager(init_context: dg.InitResourceContext) -> _PickleDir:
        return _PickleDir(init_context.resource_config["base_dir"])

    @dg.asset(io_manager_def=pickle_dir_io_manager)
    def exported_contacts() -> pl.DataFrame:
        return pl.DataFrame({"email": EMAILS})

    governed = govern_definitions(dg.Definitions(assets=[exported_contacts]), acme, "attack.py")
    materialize(governed, ["exported_contacts"])

    written = pickle.loads((leak_dir / "exported_contacts.pickle").read_bytes())
    assert written["email"].to_list() == hashed(acme, EMAILS)


def test_op_job_on_the_default_job_io_manager_is_governed(acme: TenantConfig) -> None:
    """A plain ``@dg.job`` pickled its outputs, raw, into the instance's shared storage before."""

    @dg.op
    def contacts() -> pl.DataFrame:
        return pl.DataFrame({"email": EMAILS})

    @dg.job
    def export_job() -> None:
        contacts()

    governed = govern_definitions(dg.Definitions(jobs=[export_job]), acme, "jobs.py")
    with dg.DagsterInstance.ephemeral() as instance:
        result = governed.resolve_job_def("export_job").execute_in_process(instance=instance)
    [stored] = (tenant_home("acme") / "frames").rglob("*.parquet")
    assert result.run_id in str(stored)
    assert pl.read_parquet(stored)["email"].to_list() == hashed(acme, EMAILS)


def test_builtin_governed_io_manager_is_not_wrapped_twice(
    acme: TenantConfig, materialize: Materialize
) -> None:
    """An asset already on ``governed_io_manager`` is classified once per column, not twice."""

    @dg.asset(io_manager_key="governed_io_manager")
    def leads() -> pl.DataFrame:
        return pl.DataFrame({"email": EMAILS, "score": [1, 2, 3]})

    governed = govern_definitions(dg.Definitions(assets=[leads]), acme, "leads.py")
    materialize(governed, ["leads"])
    events = read_events(tenant_storage_engine("acme"), tenant="acme", asset="leads")
    assert sorted(e["column"] for e in events if e["action"] == "classify") == ["email", "score"]


def test_tenant_io_manager_configured_at_launch_keeps_its_launch_config_and_is_governed(
    tenant_project: Path, acme: TenantConfig, materialize: Materialize, tmp_path: Path
) -> None:
    """A tenant IO manager that takes its own config at launch gets it under ``<key>__tenant``."""
    from acme_pipelines.csv_io import CsvIOManager

    @dg.asset(io_manager_key="csv_io")
    def partner_list() -> pd.DataFrame:
        return pd.DataFrame({"contact_email": EMAILS})

    resources = {"csv_io": CsvIOManager.configure_at_launch()}
    governed = govern_definitions(dg.Definitions(assets=[partner_list], resources=resources), acme, "x.py")
    launch = {"resources": {"csv_io__tenant": {"config": {"base_dir": str(tmp_path / "chosen")}}}}
    materialize(governed, ["partner_list"], run_config=launch)
    written = pd.read_csv(tmp_path / "chosen" / "partner_list.csv")
    assert written["contact_email"].tolist() == hashed(acme, EMAILS)
