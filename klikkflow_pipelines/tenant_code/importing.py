"""Importing one of a tenant's own code locations: find its code, check where it lives, load its Definitions.

A location is a ``module`` (with an optional ``path`` to import it from) or a ``dg`` project
folder (``pyproject.toml`` with ``[tool.dg.project] root_module``, ``src/`` layout or flat).
Its folder is appended to ``sys.path`` (never put first: a tenant folder holding a package named
like an installed library or a KlikkFlow package cannot replace it), and the imported module must
come from that folder. Folders inside KlikkFlow's own packages or another tenant's home are refused.
Every problem is a :class:`ConfigError` naming the tenant file and ``code_locations[i] (name)``.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.paths import PROJECT_ROOT, klikkflow_home, tenants_config_dir
from klikkflow_pipelines.tenancy.config import KLIKKFLOW_PACKAGES, CodeLocation, TenantConfig

DEFAULT_ATTRIBUTE = "defs"


@dataclass(frozen=True)
class LocationSource:
    """Where a location's code is: the folder put on ``sys.path``, its module and attribute."""

    import_root: Path | None
    module: str
    attribute: str
    project_root: Path | None = None


def tenant_file_of(tenant: TenantConfig) -> Path:
    """The tenant's file (relative paths of its locations start from its folder)."""
    return Path(tenant.source_path) if tenant.source_path else tenants_config_dir() / f"{tenant.id}.yaml"


def location_field(index: int, location: CodeLocation, sub: str = "") -> str:
    """The field of a location in the tenant file, as problems name it: ``code_locations[0] (shop).path``."""
    return f"code_locations[{index}] ({location.name}){'.' + sub if sub else ''}"


def _forbidden_reason(tenant: TenantConfig, folder: Path, home: Path | None) -> str | None:
    for package in KLIKKFLOW_PACKAGES:
        if folder.is_relative_to((PROJECT_ROOT / package).resolve()):
            return f"it lies inside KlikkFlow's own package {package!r}"
    home = (home or klikkflow_home(create=False)).resolve()
    if folder.is_relative_to(home) and not folder.is_relative_to(home / "tenants" / tenant.id):
        return f"it lies inside KlikkFlow's home {home} outside the tenant's own folder"
    return None


def _checked_folder(
    tenant: TenantConfig, index: int, location: CodeLocation, key: str, home: Path | None
) -> Path:
    value = getattr(location, key)
    file = str(tenant_file_of(tenant))
    folder = location.resolve(tenant_file_of(tenant).parent, value)
    reason = _forbidden_reason(tenant, folder, home)
    if reason:
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    location_field(index, location, key),
                    f"{key} {value!r} resolves to {folder}, which is not allowed: {reason}",
                    "keep the tenant's code in its own folder, "
                    "outside KlikkFlow's packages and other tenants' homes",
                )
            ]
        )
    if not folder.is_dir():
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    location_field(index, location, key),
                    f"{key} {value!r} resolves to {folder}, which is not a folder",
                    "create it or correct the path (relative paths start at the tenant file's folder)",
                )
            ]
        )
    return folder


def _project_source(
    tenant: TenantConfig, index: int, location: CodeLocation, home: Path | None
) -> LocationSource:
    root = _checked_folder(tenant, index, location, "project", home)
    file, field = str(tenant_file_of(tenant)), location_field(index, location, "project")
    pyproject = root / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["dg"]["project"]
        root_module = project["root_module"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    field,
                    f"{pyproject} does not name the project's root module ({type(exc).__name__}: {exc})",
                    'add `[tool.dg.project]` with `root_module = "your_package"` to its pyproject.toml, '
                    "or create the project with `klikkflow tenant init-code`",
                )
            ]
        ) from None
    target = project.get("code_location_target_module") or f"{root_module}.definitions"
    src = root / "src"
    import_root = src if (src / root_module.split(".")[0]).exists() else root
    return LocationSource(import_root, target, DEFAULT_ATTRIBUTE, project_root=root)


def location_source(
    tenant: TenantConfig, index: int, location: CodeLocation, home: Path | None = None
) -> LocationSource:
    """Resolve where ``location`` of ``tenant`` is; raise :class:`ConfigError` if it may not be used.

    ``home`` is the KlikkFlow home whose other tenants' folders are out of bounds (default: the current).
    """
    if location.project is not None:
        return _project_source(tenant, index, location, home)
    assert location.module is not None  # the model requires module or project
    folder = _checked_folder(tenant, index, location, "path", home) if location.path else None
    return LocationSource(folder, location.module, location.attribute or DEFAULT_ATTRIBUTE)


def _import_module(source: LocationSource, file: str, field: str) -> object:
    if source.import_root is not None and str(source.import_root) not in sys.path:
        sys.path.append(str(source.import_root))
    module = importlib.import_module(source.module)
    origin = Path(getattr(module, "__file__", None) or "").resolve()
    if source.import_root is not None and not origin.is_relative_to(source.import_root):
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    field,
                    f"module {source.module!r} was imported from {origin}, not from {source.import_root} "
                    "(an installed package of that name comes first)",
                    "rename your package so its name is not taken by an installed one",
                )
            ]
        )
    return module


def _definitions(target: object, source: LocationSource, file: str, field: str) -> dg.Definitions:
    from dagster.components.definitions import LazyDefinitions

    if isinstance(target, LazyDefinitions):  # a @dg.definitions function
        if target.has_context_arg:
            from dagster.components.core.component_tree import ComponentTree

            if source.project_root is None:
                raise ConfigError(
                    [
                        ConfigProblem(
                            file,
                            field,
                            f"{source.module}.{source.attribute} takes a ComponentLoadContext, "
                            "which only a dg project provides",
                            "declare the location with `project:` or drop the context parameter",
                        )
                    ]
                )
            target = target(ComponentTree.for_project(source.project_root).load_context)
        else:
            target = target()
    if not isinstance(target, dg.Definitions):
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    field,
                    f"{source.module}.{source.attribute} is a {type(target).__name__}, "
                    "not dagster Definitions",
                    "make it `dg.Definitions(...)` or a function decorated with `@dg.definitions`",
                )
            ]
        )
    return target


def import_location(tenant: TenantConfig, name: str) -> dg.Definitions:
    """Import code location ``name`` of ``tenant`` and return its (ungoverned) Definitions."""
    file = str(tenant_file_of(tenant))
    try:
        index, location = tenant.code_location(name)
    except KeyError:
        names = ", ".join(loc.name for loc in tenant.code_locations) or "(none)"
        raise ConfigError(
            [ConfigProblem(file, "code_locations", f"no code location {name!r}", f"use one of: {names}")]
        ) from None
    source = location_source(tenant, index, location)
    field = location_field(index, location)
    module = _import_module(source, file, field)
    if not hasattr(module, source.attribute):
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    field,
                    f"module {source.module!r} has no attribute {source.attribute!r}",
                    f"define `{source.attribute} = dg.Definitions(...)` there"
                    + (" or set `attribute:` to the name you used" if location.module else ""),
                )
            ]
        )
    return _definitions(getattr(module, source.attribute), source, file, field)
