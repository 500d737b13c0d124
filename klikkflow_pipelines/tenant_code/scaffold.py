"""``klikkflow tenant init-code``: a ready ``dg`` project for a tenant, and its entry in the tenant file.

The project is the layout ``dg`` itself scaffolds: ``pyproject.toml`` with ``[tool.dg.project]``,
``src/<package>/definitions.py`` (``@dg.definitions`` loading the ``defs/`` folder), one sample
asset and a test that materializes it. The tenant file gets one more ``code_locations`` item by
appending text, so the rest of the file and its comments stay as they were; the new text is
parsed and validated before it replaces the file (atomically, under a lock of the tenants folder).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, read_yaml_mapping, validate_mapping
from klikkflow_pipelines.tenancy.config import LOCATION_NAME_PATTERN, TenantConfig, load_tenant_file

PYPROJECT = """\
[project]
name = "{distribution}"
version = "0.1.0"
description = "Dagster code of KlikkFlow tenant {tenant}"
requires-python = ">=3.11"
dependencies = ["dagster==1.13.27", "pandas"]

[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[tool.setuptools.packages.find]
where = ["src"]

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "{package}"

[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
"""

DEFINITIONS = '''\
"""Definitions of {package}: everything under defs/ is loaded (the dg project layout)."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """The project's Definitions; KlikkFlow governs them when it loads this code location."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
'''

SAMPLE_ASSET = '''\
"""A sample asset: replace it with your own. Its `email` column is personal data, which the
KlikkFlow compliance layer classifies and protects by the tenant's policy when it is stored."""

import dagster as dg
import pandas as pd


@dg.asset(group_name="{package}", kinds={{"pandas"}})
def customers() -> pd.DataFrame:
    """Customers with a contact address."""
    return pd.DataFrame(
        {{
            "customer_id": [1, 2, 3],
            "email": ["ana@example.com", "bo@example.org", "cy@example.net"],
            "country": ["NO", "SE", "DK"],
        }}
    )
'''

TESTS = '''\
"""Tests of {package}: the definitions load and the sample asset materializes."""

import dagster as dg

from {package}.defs.customers import customers
from {package}.definitions import defs


def test_definitions_load() -> None:
    assert dg.AssetKey("customers") in defs().resolve_all_asset_keys()


def test_customers_materializes() -> None:
    result = dg.materialize([customers])
    assert result.success
    frame = result.output_for_node("customers")
    assert list(frame.columns) == ["customer_id", "email", "country"]
    assert len(frame) == 3
'''


@dataclass(frozen=True)
class Scaffold:
    """What ``init-code`` created."""

    location: str
    package: str
    directory: Path
    files: list[Path]
    tenant_file: Path


def default_location_name(tenant_id: str) -> str:
    """``acme-corp`` -> ``acme_corp_pipelines``: the location and package name ``init-code`` proposes."""
    return f"{tenant_id.replace('-', '_')}_pipelines"


def _project_files(tenant_id: str, package: str) -> dict[str, str]:
    values = {"tenant": tenant_id, "package": package, "distribution": package.replace("_", "-")}
    return {
        "pyproject.toml": PYPROJECT.format(**values),
        f"src/{package}/__init__.py": "",
        f"src/{package}/definitions.py": DEFINITIONS.format(**values),
        f"src/{package}/defs/__init__.py": "",
        f"src/{package}/defs/customers.py": SAMPLE_ASSET.format(**values),
        "tests/test_assets.py": TESTS.format(**values),
    }


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock of ``directory`` (two ``init-code`` runs never interleave their edits)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _entry_text(name: str, project: str, indent: str) -> str:
    return f"{indent}- name: {name}\n{indent}  project: {json.dumps(project)}\n"


def _with_location(text: str, name: str, project: str) -> str:
    """``text`` with one more ``code_locations`` item, appended without touching the other lines."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"code_locations\s*:", line)), None)
    if start is None:
        body = "" if text.endswith("\n") or not text else "\n"
        comment = "# The tenant's own code locations (added by `klikkflow tenant init-code`).\n"
        return f"{text}{body}{comment}code_locations:\n{_entry_text(name, project, '  ')}"
    if re.fullmatch(r"code_locations\s*:\s*\[\]\s*(#.*)?\n?", lines[start]):
        lines[start] = "code_locations:\n" + _entry_text(name, project, "  ")
        return "".join(lines)
    end = start + 1
    indent = "  "
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#-"):
        if lines[end].lstrip().startswith("- "):
            indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep blank lines before the next key after the new item
    if lines[end - 1] and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, _entry_text(name, project, indent))
    return "".join(lines)


def _text_with_entry(tenant_file: Path, name: str, project: str) -> str:
    """The tenant file's text with the new item; it must parse to the old mapping plus exactly
    this item and validate, or :class:`ConfigError` is raised and nothing is written."""
    file = str(tenant_file)
    before = read_yaml_mapping(tenant_file)
    text = _with_location(tenant_file.read_text(encoding="utf-8"), name, project)
    entry = {"name": name, "project": project}
    expected = {**before, "code_locations": [*(before.get("code_locations") or []), entry]}
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        parsed = None
    if parsed != expected:
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    "code_locations",
                    "could not add the entry without changing other lines (unusual layout of the list)",
                    f"add it by hand:\n{_entry_text(name, project, '  ')}",
                )
            ]
        )
    validate_mapping(file, expected, TenantConfig)
    return text


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader sees the old or the new file, never half)."""
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
    ) as out:
        out.write(text)
    os.replace(out.name, path)


def _refuse(file: str, field: str, message: str, fix: str) -> ConfigError:
    return ConfigError([ConfigProblem(file, field, message, fix)])


def init_code(tenant_file: Path, directory: Path, name: str | None = None) -> Scaffold:
    """Create the project in ``directory`` (missing or empty) and add it to ``tenant_file``.

    Refuses an existing location name or a non-empty folder before writing anything.
    """
    file = str(tenant_file)
    with _locked(tenant_file.parent):
        tenant = load_tenant_file(tenant_file)
        name = name or default_location_name(tenant.id)
        if not re.fullmatch(LOCATION_NAME_PATTERN, name):
            raise _refuse(file, "code_locations", f"{name!r} is not a location name", "use a-z, 0-9 and _")
        if name == tenant.id or any(location.name == name for location in tenant.code_locations):
            raise _refuse(
                file,
                "code_locations",
                f"a code location named {name!r} already exists",
                "pass another --name",
            )
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise _refuse(
                str(directory), "(folder)", "exists and is not empty", "choose a new or empty folder"
            )
        project = os.path.relpath(directory.resolve(), tenant_file.parent.resolve())
        text = _text_with_entry(tenant_file, name, project)
        written = []
        for relative, content in _project_files(tenant.id, name).items():
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(path)
        _replace(tenant_file, text)
    return Scaffold(name, name, directory, written, tenant_file)
