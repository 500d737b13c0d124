"""``klikkflow policy apply --tenant T`` hashes with T's key, exactly as T's pipelines do.

The README's ``policy apply`` example implies a tenant's data; with ``--tenant``
the output must equal what the tenant's governed IO manager writes, and differ
from another tenant's (no shared or environment-default key slips in).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from typer.testing import CliRunner

from compliance.classify import classify_frame
from compliance.enforce import enforce
from compliance.policy import load_policy
from klikkflow_pipelines.cli import app
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenant_resources import build_resources

POLICY = PROJECT_ROOT / "deploy" / "policies" / "default.yaml"
CLI = CliRunner(env={"COLUMNS": "120"})


def _customers(path: Path) -> Path:
    emails = [f"person{i}@example.com" for i in range(40)]
    pl.DataFrame({"customer_id": list(range(40)), "email": emails}).write_csv(path)
    return path


def _pipeline_output(tenant: str, frame: pl.DataFrame) -> pl.DataFrame:
    """What the tenant's runs write: the policy enforced with the keys of its ``secrets`` resource."""
    resources = build_resources(load_tenant(tenant))
    with dg.build_resources({"secrets": resources["secrets"]}) as initialized:
        keys = initialized.secrets.compliance_keys()
    policy = load_policy(POLICY)
    report = classify_frame(frame, recognizers=policy.recognizers)
    return enforce(frame, policy, report, asset="customers", keys=keys).frame


def _apply(tenant: str, source: Path, out: Path) -> pl.DataFrame:
    result = CLI.invoke(
        app,
        ["policy", "apply", str(POLICY), str(source), str(out), "--asset", "customers", "--tenant", tenant],
    )
    assert result.exit_code == 0, result.output
    return pl.read_parquet(out)


@pytest.fixture
def no_key_env(klikkflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KLIKKFLOW_TENANT_KEY", raising=False)
    monkeypatch.delenv("KLIKKFLOW_TENANT", raising=False)
    return klikkflow_home


def test_policy_apply_with_tenant_uses_that_tenants_key(no_key_env: Path, tmp_path: Path) -> None:
    source = _customers(tmp_path / "customers.csv")
    frame = pl.read_csv(source)
    expected = {tenant: _pipeline_output(tenant, frame) for tenant in ("acme", "globex")}
    acme = _apply("acme", source, tmp_path / "acme.parquet")
    globex = _apply("globex", source, tmp_path / "globex.parquet")
    assert acme["email"].to_list() == expected["acme"]["email"].to_list()
    assert globex["email"].to_list() == expected["globex"]["email"].to_list()
    assert acme["email"].to_list() != frame["email"].to_list(), "emails were not hashed"
    assert set(acme["email"].to_list()).isdisjoint(globex["email"].to_list()), "tenants share a key"


def test_policy_apply_for_a_tenant_without_a_key_creates_none(no_key_env: Path, tmp_path: Path) -> None:
    source = _customers(tmp_path / "customers.csv")
    result = CLI.invoke(
        app, ["policy", "apply", str(POLICY), str(source), str(tmp_path / "o.parquet"), "-t", "acme"]
    )
    assert result.exit_code == 2, result.output
    assert "klikkflow demo --tenant acme" in " ".join(result.output.split())
    assert not (no_key_env / "tenants").exists(), "policy apply made a tenant home"
    assert not (tmp_path / "o.parquet").exists()


def test_policy_apply_refuses_an_unknown_tenant(no_key_env: Path, tmp_path: Path) -> None:
    source = _customers(tmp_path / "customers.csv")
    result = CLI.invoke(
        app, ["policy", "apply", str(POLICY), str(source), str(tmp_path / "o.parquet"), "-t", "nosuch"]
    )
    assert result.exit_code == 2
    assert "unknown tenant 'nosuch'. Known tenants: acme, default, globex" in " ".join(result.output.split())
