"""`klikkflow tenant init-code`: a ready dg project, its tests pass, and the tenant file keeps its text."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from klikkflow_pipelines.cli import app
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant_file
from klikkflow_pipelines.tenant_code import scaffold
from klikkflow_pipelines.tenant_code.scaffold import init_code

TENANT = """\
# Acme's tenant file: this comment and the layout below must survive init-code.
id: acme
name: Acme Corp  # display name
timezone: Europe/Oslo
"""


@pytest.fixture
def tenant_file(tenants_dir: Path) -> Path:
    path = tenants_dir / "acme.yaml"
    path.write_text(TENANT)
    return path


def _init(tenants_dir: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["tenant", "init-code", "acme", *args, "--tenants-dir", str(tenants_dir)])


def test_init_code_writes_a_dg_project_and_appends_the_entry(tenants_dir: Path, tenant_file: Path) -> None:
    target = tenants_dir.parent / "acme-code"
    result = _init(tenants_dir, str(target))
    assert result.exit_code == 0, result.output
    assert "Next steps" in result.output and "klikkflow validate" in result.output
    assert tenant_file.read_text().startswith(TENANT)  # every line and comment kept, entry appended
    tenant = load_tenant_file(tenant_file)
    [location] = tenant.code_locations
    assert (location.name, location.project) == ("acme_pipelines", "../acme-code")
    for relative in (
        "pyproject.toml",
        "src/acme_pipelines/definitions.py",
        "src/acme_pipelines/defs/customers.py",
        "tests/test_assets.py",
    ):
        assert (target / relative).is_file(), relative
    assert 'root_module = "acme_pipelines"' in (target / "pyproject.toml").read_text()


def test_the_generated_project_tests_pass(tenants_dir: Path, tenant_file: Path) -> None:
    target = tenants_dir.parent / "acme-code"
    init_code(tenant_file, target)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the project stands on its own
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_klikkflow_validate_passes_for_the_new_location(tenants_dir: Path, tenant_file: Path) -> None:
    init_code(tenant_file, tenants_dir.parent / "acme-code")
    env = {k: v for k, v in os.environ.items() if k != "KLIKKFLOW_TENANT"} | {"COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "klikkflow_pipelines.cli", "validate", "--tenants-dir", str(tenants_dir)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tenant acme code location acme_pipelines: ok (1 assets)" in done.stdout
    assert "tenants OK: acme;" in done.stdout


def test_an_existing_name_or_a_non_empty_folder_is_refused(tenants_dir: Path, tenant_file: Path) -> None:
    init_code(tenant_file, tenants_dir.parent / "first")
    before = tenant_file.read_text()
    again = _init(tenants_dir, str(tenants_dir.parent / "second"))
    assert again.exit_code == 1
    assert "a code location named 'acme_pipelines' already exists" in again.output
    assert not (tenants_dir.parent / "second").exists()
    busy = tenants_dir.parent / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    refused = _init(tenants_dir, str(busy), "--name", "other")
    assert refused.exit_code == 1 and "exists and is not empty" in refused.output
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    assert tenant_file.read_text() == before


def test_an_item_joins_an_existing_list_and_the_keys_after_it(tenants_dir: Path, tenant_file: Path) -> None:
    tenant_file.write_text(
        TENANT
        + "code_locations:\n"
        + "    # the shop team's code\n"
        + "    - name: shop\n"
        + "      module: shop.definitions\n"
        + "\n"
        + "region: eu-west-1  # after the list\n"
    )
    before = yaml.safe_load(tenant_file.read_text())
    init_code(tenant_file, tenants_dir.parent / "ledger", name="ledger")
    text = tenant_file.read_text()
    assert "    # the shop team's code\n" in text and "region: eu-west-1  # after the list\n" in text
    after = yaml.safe_load(text)
    assert after == {
        **before,
        "code_locations": [*before["code_locations"], {"name": "ledger", "project": "../ledger"}],
    }


def test_a_flow_list_is_refused_rather_than_rewritten(tenants_dir: Path, tenant_file: Path) -> None:
    """Careless engineer: a layout the text edit cannot extend; the file stays as it was."""
    tenant_file.write_text(TENANT + "code_locations: [{name: shop, module: shop.definitions}]\n")
    before = tenant_file.read_text()
    result = _init(tenants_dir, str(tenants_dir.parent / "ledger"), "--name", "ledger")
    assert result.exit_code == 1 and "add it by hand" in result.output
    assert tenant_file.read_text() == before
    assert not (tenants_dir.parent / "ledger").exists()


def test_two_init_code_runs_at_once_keep_both_entries(
    tenants_dir: Path, tenant_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two engineers at once: each run reads, edits and replaces the tenant file; neither entry is lost."""
    compute = scaffold._text_with_entry

    def slow(*args: object) -> str:
        text = compute(*args)
        time.sleep(1.0)  # the other run reads the file meanwhile, unless the edit is locked
        return text

    monkeypatch.setattr(scaffold, "_text_with_entry", slow)
    runs = [
        threading.Thread(
            target=init_code, args=(tenant_file, tenants_dir.parent / name), kwargs={"name": name}
        )
        for name in ("first", "second")
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)
    assert sorted(location.name for location in load_tenant_file(tenant_file).code_locations) == [
        "first",
        "second",
    ]
