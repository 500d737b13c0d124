"""Importing a tenant's own code location: modules, dg projects, and the folders that are refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dagster as dg
import pytest
import yaml

from klikkflow_pipelines.config_errors import ConfigError
from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant_file
from klikkflow_pipelines.tenant_code.importing import import_location

from .conftest import GOOD_MODULE


def _tenant(tenants_dir: Path, tenant_id: str, *locations: dict[str, str]) -> TenantConfig:
    path = tenants_dir / f"{tenant_id}.yaml"
    path.write_text(yaml.safe_dump({"id": tenant_id, "name": tenant_id, "code_locations": list(locations)}))
    return load_tenant_file(path)


def _keys(defs: dg.Definitions) -> set[str]:
    return {key.to_user_string() for key in defs.resolve_all_asset_keys()}


def test_module_with_a_path_relative_to_the_tenant_file(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code("code/imp_shop.py", GOOD_MODULE.format(asset="orders"))
    tenant = _tenant(tenants_dir, "acme", {"name": "shop", "module": "imp_shop", "path": "../code"})
    assert _keys(import_location(tenant, "shop")) == {"orders"}


def test_attribute_names_the_definitions(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code("code/imp_attr.py", GOOD_MODULE.format(asset="invoices").replace("defs =", "everything ="))
    tenant = _tenant(tenants_dir, "acme", {"name": "a", "module": "imp_attr", "path": "../code"})
    with pytest.raises(ConfigError) as error:
        import_location(tenant, "a")
    assert "code_locations[0] (a): module 'imp_attr' has no attribute 'defs'" in str(error.value)
    tenant = _tenant(
        tenants_dir, "acme", {"name": "a", "module": "imp_attr", "path": "../code", "attribute": "everything"}
    )
    assert _keys(import_location(tenant, "a")) == {"invoices"}


DG_DEFINITIONS = """
from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
"""


def test_dg_project_src_layout_with_lazy_definitions(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code(
        "proj/pyproject.toml",
        '[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "imp_proj"\n',
    )
    write_code("proj/src/imp_proj/__init__.py", "")
    write_code("proj/src/imp_proj/definitions.py", DG_DEFINITIONS)
    write_code("proj/src/imp_proj/defs/__init__.py", "")
    write_code(
        "proj/src/imp_proj/defs/sales.py",
        "import dagster as dg\n\n@dg.asset\ndef sales() -> int:\n    return 3\n",
    )
    tenant = _tenant(tenants_dir, "acme", {"name": "proj", "project": "../proj"})
    assert _keys(import_location(tenant, "proj")) == {"sales"}


def test_dg_project_flat_layout_with_plain_definitions(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code(
        "flat/pyproject.toml",
        "[tool.dg.project]\nroot_module = 'imp_flat'\ncode_location_target_module = 'imp_flat.defs_here'\n",
    )
    write_code("flat/imp_flat/__init__.py", "")
    write_code("flat/imp_flat/defs_here.py", GOOD_MODULE.format(asset="stock"))
    tenant = _tenant(tenants_dir, "acme", {"name": "flat", "project": "../flat"})
    assert _keys(import_location(tenant, "flat")) == {"stock"}


def test_project_without_dg_table_names_the_fix(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code("nodg/pyproject.toml", "[project]\nname = 'x'\n")
    tenant = _tenant(tenants_dir, "acme", {"name": "nodg", "project": "../nodg"})
    with pytest.raises(ConfigError) as error:
        import_location(tenant, "nodg")
    [problem] = error.value.problems
    assert problem.file == str(tenants_dir / "acme.yaml")
    assert problem.field == "code_locations[0] (nodg).project"
    assert "root_module" in problem.fix


def test_a_folder_inside_klikkflow_is_refused(tenants_dir) -> None:  # type: ignore[no-untyped-def]
    """Hostile tenant: `path` pointing into KlikkFlow's compliance package to import its internals."""
    tenant = _tenant(
        tenants_dir, "acme", {"name": "x", "module": "policy", "path": str(PROJECT_ROOT / "compliance")}
    )
    with pytest.raises(ConfigError) as error:
        import_location(tenant, "x")
    assert error.value.problems[0].field == "code_locations[0] (x).path"
    assert "inside KlikkFlow's own package 'compliance'" in error.value.problems[0].message


def test_another_tenants_home_is_refused(tenants_dir, klikkflow_home, write_code) -> None:  # type: ignore[no-untyped-def]
    """Hostile tenant: importing code (and reading files) from another tenant's home."""
    write_code("klikkflow_home/tenants/globex/imp_theirs.py", GOOD_MODULE.format(asset="secret"))
    tenant = _tenant(
        tenants_dir,
        "acme",
        {"name": "x", "module": "imp_theirs", "path": str(klikkflow_home / "tenants" / "globex")},
    )
    with pytest.raises(ConfigError) as error:
        import_location(tenant, "x")
    assert "outside the tenant's own folder" in str(error.value)
    write_code("klikkflow_home/tenants/acme/code/imp_mine.py", GOOD_MODULE.format(asset="mine"))
    own = _tenant(
        tenants_dir,
        "acme",
        {"name": "x", "module": "imp_mine", "path": str(klikkflow_home / "tenants" / "acme" / "code")},
    )
    assert _keys(import_location(own, "x")) == {"mine"}


def test_a_tenant_package_named_like_klikkflow_or_a_library_cannot_replace_it(
    tenants_dir, write_code
) -> None:  # type: ignore[no-untyped-def]
    """Hostile tenant: a `compliance` package and a `presidio_analyzer` (which the compliance layer imports
    lazily, at the first classification) in its folder, hoping the governance code imports them."""
    evil = "raise RuntimeError('tenant code replaced KlikkFlow code')\n"
    write_code("code/compliance/__init__.py", evil)
    write_code("code/presidio_analyzer/__init__.py", evil)
    write_code("code/imp_sneaky.py", GOOD_MODULE.format(asset="sneaky"))
    tenant = _tenant(tenants_dir, "acme", {"name": "x", "module": "imp_sneaky", "path": "../code"})
    assert _keys(import_location(tenant, "x")) == {"sneaky"}
    for package in ("compliance", "presidio_analyzer"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        assert not Path(spec.origin).is_relative_to(tenants_dir.parent / "code"), package


def test_a_module_shadowed_by_an_installed_package_is_named(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    """Careless engineer: their package is called like an installed library (`yaml`)."""
    write_code("code/yaml.py", GOOD_MODULE.format(asset="mine"))
    tenant = _tenant(tenants_dir, "acme", {"name": "x", "module": "yaml", "path": "../code"})
    with pytest.raises(ConfigError) as error:
        import_location(tenant, "x")
    assert "an installed package of that name comes first" in str(error.value)


def test_something_else_than_definitions_is_named(tenants_dir, write_code) -> None:  # type: ignore[no-untyped-def]
    write_code("code/imp_wrong.py", "defs = {'assets': []}\n")
    tenant = _tenant(tenants_dir, "acme", {"name": "x", "module": "imp_wrong", "path": "../code"})
    with pytest.raises(ConfigError) as error:
        import_location(tenant, "x")
    assert "is a dict, not dagster Definitions" in str(error.value)
