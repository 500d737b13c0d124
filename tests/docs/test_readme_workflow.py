"""README's "Adding a workflow": its import paths import, its fixtures exist, its example runs governed.

The section's two Python files are written to a scratch package, registered as a
template for the default tenant and materialized on a real ephemeral instance;
the ``from __future__ import annotations`` pitfall it describes is reproduced.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import WorkflowSettings, load_tenant
from klikkflow_pipelines.tenant_definitions import build_definitions
from klikkflow_pipelines.workflows.registry import TEMPLATES

README = PROJECT_ROOT / "README.md"
_REFERENCE = re.compile(r"`((?:klikkflow_pipelines|sensors|resources|compliance)(?:\.\w+)+)`")
_FIXTURE = re.compile(r"`(tests/[\w/.]+\.py)::(\w+)`")
_PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def section(title: str) -> str:
    """The README section under ``## <title>``, up to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


SECTION = section("Adding a workflow (for data engineers)")


def resolve(reference: str) -> object:
    """Import ``package.module.attr``: the longest importable module prefix, then attributes."""
    parts = reference.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ModuleNotFoundError(reference)


def test_every_named_import_path_imports() -> None:
    references = sorted(set(_REFERENCE.findall(SECTION)))
    for expected in (
        "klikkflow_pipelines.workflows.registry.TEMPLATES",
        "klikkflow_pipelines.workflows.template.TemplateParams",
        "klikkflow_pipelines.workflows.template.WorkflowDefs",
        "klikkflow_pipelines.workflows.template.workflow_job",
        "sensors.schedules.build_tenant_schedule",
        "klikkflow_pipelines.governance.govern_definitions",
    ):
        assert expected in references
    missing = []
    for reference in references:
        try:
            resolve(reference)
        except (ImportError, AttributeError) as error:
            missing.append(f"{reference}: {error}")
    assert not missing, missing


def test_every_named_fixture_exists() -> None:
    fixtures = _FIXTURE.findall(SECTION)
    assert len(fixtures) >= 6
    for path, name in fixtures:
        source = (PROJECT_ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"@pytest\.fixture[^\n]*\n(?:@[^\n]*\n)*def {name}\(", source), f"{path}::{name}"


def _write_example(root: Path, package: str, future: bool = False) -> None:
    """The section's two files as ``package`` (its import lines rewritten to that name)."""
    assets, workflow = _PYTHON.findall(SECTION)[:2]
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    if future:
        assets = "from __future__ import annotations\n" + assets
    for name, text in (("assets", assets), ("workflow", workflow)):
        text = text.replace("klikkflow_pipelines.workflows.newsletter", package)
        (root / package / f"{name}.py").write_text(text, encoding="utf-8")


def _import(package: str, module: str) -> ModuleType:
    return importlib.import_module(f"{package}.{module}")


def test_example_workflow_runs_and_its_frame_is_governed(tmp_path, monkeypatch) -> None:
    _write_example(tmp_path, "newsletter_readme")
    monkeypatch.syspath_prepend(str(tmp_path))
    template = _import("newsletter_readme", "workflow").NEWSLETTER
    monkeypatch.setitem(TEMPLATES, "newsletter", template)
    tenant = load_tenant("default").model_copy(update={"workflows": {"newsletter": WorkflowSettings()}})
    defs = build_definitions(tenant)
    job = defs.resolve_job_def("newsletter_job")
    assert job.tags["klikkflow/workflow"] == "newsletter"
    assert defs.resolve_schedule_def("newsletter_weekly").execution_timezone == tenant.timezone
    test_snippet = _PYTHON.findall(SECTION)[2]
    namespace: dict[str, object] = {"dg": dg}
    exec(compile(test_snippet, "README.md", "exec"), namespace)  # the README's test, as written
    with dg.DagsterInstance.ephemeral() as instance:
        namespace["test_newsletter_stores_hashed_emails"](defs, instance)
        metadata = instance.get_latest_materialization_event(
            dg.AssetKey("subscribers")
        ).asset_materialization.metadata
    assert metadata["compliance/findings"].data["columns"]["email"]["entity"] == "EMAIL_ADDRESS"
    assert metadata["dagster/row_count"].value == 2


_CASES = {
    # annotation left in the example -> (edit of the example's assets.py, error, words of its message)
    "context": (
        lambda src: src.replace(", config: SubscribersConfig", "").replace(".head(config.limit)", ""),
        "DagsterInvalidDefinitionError",
        "Cannot annotate `context` parameter",
    ),
    "config": (
        lambda src: src.replace("context: dg.AssetExecutionContext", "context"),
        "DagsterInvalidPythonicConfigDefinitionError",
        "Unable to resolve config type 'SubscribersConfig'",
    ),
    "local config class": (
        lambda src: (
            src.replace("context: dg.AssetExecutionContext", "context")
            .replace("config: SubscribersConfig", "config: LocalConfig")
            .replace(
                "    @dg.asset", "    class LocalConfig(dg.Config):\n        limit: int = 1\n\n    @dg.asset"
            )
        ),
        "DagsterInvalidDefinitionError",
        'Failed to resolve type annotation "LocalConfig"',
    ),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_postponed_annotations_break_the_assets_module_as_described(tmp_path, monkeypatch, case) -> None:
    """With the future import the example's assets fail at definition, with the README's errors."""
    edit, error, words = _CASES[case]
    package = "newsletter_future_" + re.sub(r"\W", "_", case)
    _write_example(tmp_path, package, future=True)
    path = tmp_path / package / "assets.py"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assets = _import(package, "assets")
    with pytest.raises(Exception) as raised:
        assets.build_newsletter_assets("https://example.com")
    assert type(raised.value).__name__ == error
    assert words in str(raised.value)
    assert error in SECTION and words.split("`")[0].split("'")[0].split('"')[0] in SECTION
