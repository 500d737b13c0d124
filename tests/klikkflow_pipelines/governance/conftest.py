"""Fixtures for governing the sample tenant project: tenant files with policies, the project on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant_file

PROJECTS = Path(__file__).parents[2] / "fixtures" / "tenant_projects"
TENANT_FILE = str(PROJECTS / "acme_pipelines" / "definitions.py")

HASH_EMAILS = {
    "version": 1,
    "default_action": "allow",
    # struct/list columns: the nested classifier protects their leaves; until it reads them, drop them
    "unclassifiable": "drop",
    "rules": [{"name": "hash-emails", "match": {"entities": ["EMAIL_ADDRESS"]}, "action": "hash"}],
}


@pytest.fixture
def tenant_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The sample tenant project importable as ``acme_pipelines`` (freshly imported), its CSV dir set."""
    monkeypatch.syspath_prepend(str(PROJECTS))
    monkeypatch.setenv("ACME_CSV_DIR", str(tmp_path / "acme_csv"))
    for name in [m for m in sys.modules if m.split(".")[0] == "acme_pipelines"]:
        del sys.modules[name]
    yield PROJECTS
    for name in [m for m in sys.modules if m.split(".")[0] == "acme_pipelines"]:
        del sys.modules[name]


@pytest.fixture
def write_tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., TenantConfig]:
    """``write_tenant(id, **policy_overrides)``: a tenant file with its own policy in a temp tenants dir."""
    tenants = tmp_path / "tenants"
    tenants.mkdir(exist_ok=True)
    monkeypatch.setenv("KLIKKFLOW_TENANTS_DIR", str(tenants))

    def _write(tenant_id: str, **policy: object) -> TenantConfig:
        policy_file = tenants / f"{tenant_id}-policy.yaml"
        policy_file.write_text(yaml.safe_dump({**HASH_EMAILS, **policy}), encoding="utf-8")
        path = tenants / f"{tenant_id}.yaml"
        path.write_text(
            yaml.safe_dump({"id": tenant_id, "name": tenant_id.title(), "policy": policy_file.name}),
            encoding="utf-8",
        )
        return load_tenant_file(path)

    return _write


@pytest.fixture
def acme(write_tenant: Callable[..., TenantConfig]) -> TenantConfig:
    """Tenant ``acme`` with the hash-emails policy."""
    return write_tenant("acme")


@pytest.fixture
def governed_acme(tenant_project: Path, acme: TenantConfig) -> dg.Definitions:
    """The sample project governed for tenant ``acme``."""
    from acme_pipelines.definitions import defs

    return govern_definitions(defs, acme, TENANT_FILE)


def _materialize(
    defs: dg.Definitions, assets: list[str], run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(a) for a in assets], run_config=run_config or {}
        )


@pytest.fixture
def materialize() -> Callable[..., dg.ExecuteInProcessResult]:
    """``materialize(defs, assets, run_config=None)``: run them in process on an ephemeral instance."""
    return _materialize
