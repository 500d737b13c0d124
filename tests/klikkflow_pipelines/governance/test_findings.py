"""Governance findings at load: a status per asset on its definition metadata, the list ``klikkflow validate``
shows, and ``require_governed: true`` refusing an ungoverned asset with file, asset and fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.governance import govern_definitions, ungoverned_assets
from klikkflow_pipelines.governance.findings import GOVERNANCE_KEY, REASON_KEY, governance_findings
from klikkflow_pipelines.tenancy.config import TenantConfig

from .conftest import TENANT_FILE

EXPECTED = {
    "customers": "governed",
    "partners": "governed",
    "warehouse_contacts": "governed",
    "gold_customers": "runtime-checked",
    "other_customers": "runtime-checked",
    "daily_signups": "governed",
    "customer_profiles": "governed",
    "run_summary": "ungoverned",
    "web_events": "governed",
}


def test_every_asset_carries_its_governance_status_in_definition_metadata(
    governed_acme: dg.Definitions,
) -> None:
    graph = governed_acme.resolve_asset_graph()
    metadata = {key.to_user_string(): graph.get(key).metadata for key in graph.get_all_asset_keys()}
    assert {asset: meta[GOVERNANCE_KEY] for asset, meta in metadata.items()} == EXPECTED
    assert "dict" in metadata["run_summary"][REASON_KEY]
    assert {f.asset: f.status for f in governance_findings(governed_acme)} == EXPECTED


def test_ungoverned_assets_lists_what_validate_shows(
    governed_acme: dg.Definitions, tenant_project: Path
) -> None:
    from acme_pipelines.definitions import defs as raw

    for defs in (governed_acme, raw):  # governed (from metadata) and as the tenant wrote it (computed)
        findings = {f.asset: f for f in ungoverned_assets(defs)}
        assert {a: f.status for a, f in findings.items()} == {
            "gold_customers": "runtime-checked",
            "other_customers": "runtime-checked",
            "run_summary": "ungoverned",
        }
        assert "DataFrame" in findings["run_summary"].fix


def test_io_manager_that_cannot_be_wrapped_is_ungoverned(acme: TenantConfig) -> None:
    @dg.asset(io_manager_key="exports")
    def export() -> dict:
        return {}

    governed = govern_definitions(
        dg.Definitions(assets=[export], resources={"exports": "not an io manager"}), acme, "x.py"
    )
    [finding] = ungoverned_assets(governed)
    assert finding.status == "ungoverned" and "'exports'" in finding.reason and "exports" in finding.fix


def test_require_governed_refuses_loading_with_policy_file_asset_and_fix(
    tenant_project: Path, write_tenant: Callable[..., TenantConfig]
) -> None:
    """Before the wrapper the dict asset loaded and ran; now require_governed refuses the location."""
    from acme_pipelines.definitions import defs

    tenant = write_tenant("acme", require_governed=True)
    with pytest.raises(ConfigError) as error:
        govern_definitions(defs, tenant, TENANT_FILE)
    [problem] = error.value.problems
    assert problem.file == str(tenant.policy_path())
    assert problem.field == "require_governed"
    assert "'run_summary'" in problem.message and "dict" in problem.message
    assert "DataFrame" in problem.fix
    assert str(tenant.policy_path()) in str(error.value)


def test_declared_types_other_than_frames_are_ungoverned_and_optional_frames_governed(
    acme: TenantConfig,
) -> None:

    @dg.asset
    def frames_in_a_list() -> list[pl.DataFrame]:
        return []

    @dg.asset
    def maybe_frame() -> pl.DataFrame | None:
        return None

    @dg.asset
    def label() -> str:
        return ""

    governed = govern_definitions(dg.Definitions(assets=[frames_in_a_list, maybe_frame, label]), acme, "t.py")
    assert {f.asset: f.status for f in governance_findings(governed)} == {
        "frames_in_a_list": "ungoverned",
        "maybe_frame": "governed",
        "label": "ungoverned",
    }
