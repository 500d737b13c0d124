"""The workflow templates as a Dagster Component, loaded from a real ``defs/`` folder by Dagster."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from dagster.components.core.component_tree import ComponentTree

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.definitions import build_definitions
from klikkflow_pipelines.tenancy.config import load_tenant

DEFS_YAML = """\
type: klikkflow_pipelines.workflows.component.WorkflowComponent
attributes:
  tenant: default
  template: claims_processing
  params:
{params}
"""


@contextmanager
def component_project(tmp_path: Path, params: str) -> Iterator[ComponentTree]:
    """A Components project whose ``defs/claims/defs.yaml`` instantiates the claims template."""
    package = f"kf_components_{uuid.uuid4().hex[:8]}"
    defs_dir = tmp_path / "src" / package / "defs" / "claims"
    defs_dir.mkdir(parents=True)
    for init in (defs_dir.parent.parent / "__init__.py", defs_dir.parent / "__init__.py"):
        init.write_text("")
    (defs_dir / "defs.yaml").write_text(DEFS_YAML.format(params=params))
    sys.path.insert(0, str(tmp_path / "src"))
    try:
        yield ComponentTree(defs_module=importlib.import_module(f"{package}.defs"), project_root=tmp_path)
    finally:
        sys.path.remove(str(tmp_path / "src"))
        for name in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[name]


def test_claims_component_from_defs_yaml_builds_and_runs(tmp_path: Path) -> None:
    params = '    schedule: "0 8 * * 1-5"\n    review_threshold: 35\n    fraud_threshold: 80'
    with component_project(tmp_path, params) as tree:
        defs = tree.build_defs()
    job = defs.resolve_job_def("claims_processing_job")
    schedule = defs.resolve_schedule_def("claims_processing_business_hours")
    assert schedule.cron_schedule == "0 8 * * 1-5"
    assert schedule.execution_timezone == load_tenant("default").timezone
    # Same job, same tags as the tenant code location builds from the tenant file.
    location_job = build_definitions(load_tenant("default")).resolve_job_def("claims_processing_job")
    assert job.tags == location_job.tags
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, partition_key="2026-11-25")
    assert result.success
    assert result.output_for_node("routed_claims").height > 0


def test_bad_component_params_name_the_defs_file_and_field(tmp_path: Path) -> None:
    with (
        component_project(
            tmp_path, "    review_threshold: 90\n    fraud_threshold: 70\n    colour: red"
        ) as tree,
        pytest.raises(Exception) as raised,
    ):
        tree.build_defs()
    error = raised.value
    while not isinstance(error, ConfigError) and error.__cause__ is not None:
        error = error.__cause__
    assert isinstance(error, ConfigError), raised.value
    text = str(error)
    assert "defs.yaml" in text and "attributes.params.colour" in text
