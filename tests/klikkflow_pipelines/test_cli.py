"""The ``klikkflow`` command line: validate and demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from klikkflow_pipelines.cli import app

KLIKKFLOW = [sys.executable, "-c", "from klikkflow_pipelines.cli import app; app()"]


def test_validate_passes_on_the_shipped_configs() -> None:
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "problems: 0" in result.output


def test_validate_names_file_and_field_of_a_broken_tenant(tmp_path: Path) -> None:
    good = yaml.safe_load(Path("deploy/tenants/default.yaml").read_text())
    good["policy"] = str(Path("deploy/policies/default.yaml").resolve())
    (tmp_path / "default.yaml").write_text(yaml.safe_dump(good))
    broken = {**good, "id": "broken", "timezone": "Mars/Olympus", "plan": {"max_concurrent_runs": "lots"}}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    (tmp_path / "syntax.yaml").write_text("id: syntax\nname: [unclosed\n")

    result = subprocess.run(
        [*KLIKKFLOW, "validate", "--tenants-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1
    errors = result.stderr
    assert f"{tmp_path / 'broken.yaml'}: timezone: unknown time zone 'Mars/Olympus'" in errors
    assert f"{tmp_path / 'broken.yaml'}: plan.max_concurrent_runs:" in errors
    assert "Fix: give a whole number" in errors
    assert f"{tmp_path / 'syntax.yaml'}: line 3, column 1: invalid YAML" in errors
    assert "tenants OK: default" in result.stdout  # the broken tenants do not stop the good one


def test_demo_materializes_everything_and_prints_a_summary(klikkflow_home: Path) -> None:
    result = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for job in ("customer_onboarding_job", "claims_processing_job", "operations_report_job"):
        assert job in result.output
    assert "failed" not in result.output.split("KlikkFlow demo")[1].split("total")[0].replace(
        "checks failed", ""
    )
    assert (klikkflow_home / "tenants" / "default" / "warehouse.db").exists()
    # The runs are in the tenant's own persistent instance.
    from klikkflow_pipelines.tenancy.instance import tenant_instance

    with tenant_instance("default") as instance:
        runs = instance.get_runs()
    assert {r.job_name for r in runs} == {
        "customer_onboarding_job",
        "claims_processing_job",
        "operations_report_job",
    }
    assert all(r.is_success for r in runs)


def test_demo_names_the_configured_warehouse_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from klikkflow_pipelines.demo import demo_warehouse
    from klikkflow_pipelines.tenancy.config import load_tenant

    monkeypatch.setenv("KLIKKFLOW_WAREHOUSE_URL", "postgresql+psycopg2://kf:s3cret@db:5432/klikkflow_acme")
    assert demo_warehouse(load_tenant("acme")) == "postgresql+psycopg2://kf:***@db:5432/klikkflow_acme"
