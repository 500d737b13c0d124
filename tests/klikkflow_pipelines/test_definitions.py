"""The definitions module loads, per tenant, without heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import load_tenant, load_tenant_file
from klikkflow_pipelines.tenant_resources import build_resources


def test_default_tenant_definitions_load() -> None:
    defs = build_definitions(load_tenant("default"))
    dg.Definitions.validate_loadable(defs)
    assert {j.name for j in defs.jobs} == {
        "customer_onboarding_job",
        "claims_processing_job",
        "operations_report_job",
    }
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups["warehouse_customers"] == "customer_onboarding"
    assert groups["claim_outcomes"] == "claims"
    assert groups["operations_report_table"] == "operations"
    assert {s.name for s in defs.schedules} == {
        "customer_onboarding_daily",
        "claims_processing_business_hours",
        "operations_report_daily",
    }
    assert all(s.execution_timezone == "Europe/Oslo" for s in defs.schedules)


def test_jobs_carry_tenant_run_tags() -> None:
    defs = build_definitions(load_tenant("default"))
    tags = defs.resolve_job_def("claims_processing_job").tags
    assert tags["klikkflow/tenant"] == "default"
    assert tags["dagster/priority"] == "0"
    assert tags["dagster/max_runtime"] == "3600"
    k8s = json.loads(tags["dagster-k8s/config"])
    assert k8s["container_config"]["security_context"]["read_only_root_filesystem"] is True


def test_module_level_defs_follow_klikkflow_tenant_and_skip_heavy_imports() -> None:
    code = (
        "import sys, json; from klikkflow_pipelines.definitions import defs;"
        "print(json.dumps({'jobs': sorted(j.name for j in defs.jobs),"
        "'heavy': [m for m in ('presidio_analyzer','spacy','great_expectations') if m in sys.modules]}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert "claims_processing_job" in result["jobs"]


def test_unknown_template_and_bad_params_are_named(tmp_path: Path) -> None:
    config = yaml.safe_load(Path("deploy/tenants/default.yaml").read_text())
    config["workflows"]["claims_processing"]["params"]["fraud_threshold"] = 10
    config["workflows"]["claims_processing"]["params"]["schedule"] = "every day"
    config["workflows"]["payroll"] = {"params": {}}
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        build_definitions(load_tenant_file(path))
    fields = {p.field for p in error.value.problems}
    assert fields == {
        "workflows.claims_processing.params.fraud_threshold",
        "workflows.claims_processing.params.schedule",
        "workflows.payroll",
    }
    assert all(p.file == str(path) for p in error.value.problems)


def test_loading_definitions_writes_no_key_file(klikkflow_home: Path) -> None:
    """Definitions load builds objects only: the embedded tenant key is created at its first use in a run."""
    tenant = load_tenant("default")
    build_definitions(tenant)
    key_file = klikkflow_home / "tenants" / "default" / "secrets" / "tenant.key"
    assert not key_file.exists()
    secrets = build_resources(tenant)["secrets"]
    assert not key_file.exists()
    assert secrets.compliance_keys() is not None  # what a run does when a policy hashes or tokenizes
    assert key_file.is_file() and key_file.stat().st_mode & 0o777 == 0o600
