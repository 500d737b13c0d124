"""`klikkflow validate`: load every tenant, its definitions, its own code locations and its instance config.

Each check returns :class:`ConfigProblem` s naming file, field and fix; one
tenant's broken file never hides the checks of the others.

Validation never writes: building a tenant's definitions resolves local
defaults (tenant home directories, the embedded tenant key file) that create
files on first use, so the checks run with ``KLIKKFLOW_HOME`` pointed at a
scratch directory that is removed afterwards, and the real home stays as it was.

Each tenant code location is loaded (imported and governed) in its own child process
(:mod:`klikkflow_pipelines.tenant_code.check`): one location cannot break the checks of the others.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._check import CheckError
from dagster._config import Shape, validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config_schema
from dagster._core.run_coordinator import RunCoordinator
from dagster._serdes import ConfigurableClassData

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, read_yaml_mapping
from klikkflow_pipelines.paths import PROJECT_ROOT, klikkflow_home
from klikkflow_pipelines.tenancy.config import TenantConfig, load_all_tenants
from klikkflow_pipelines.tenancy.instance import EMBEDDED_CONFIG, PRODUCTION_CONFIG, render_instance_config
from klikkflow_pipelines.tenancy.run_coordinator import TenantRunCoordinator
from klikkflow_pipelines.tenancy.run_tags import TENANT_TAG
from klikkflow_pipelines.tenant_code.check import LocationReport, check_location, error_origin
from klikkflow_pipelines.tenant_code.importing import location_field, location_source, tenant_file_of

TenantCheck = Callable[[TenantConfig], list[ConfigProblem]]


def check_policy(tenant: TenantConfig) -> list[ConfigProblem]:
    """The tenant's compliance policy file loads and validates."""
    from compliance.policy import load_policy

    path = tenant.policy_path()
    if path is None:
        return []
    try:
        load_policy(path)
    except ConfigError as exc:
        return exc.problems
    return []


TENANT_CHECKS: list[TenantCheck] = [check_policy]
"""Checks beyond the Definitions build; each returns its problems."""


@dataclass
class ValidationReport:
    """What ``klikkflow validate`` found, per tenant and for the project files."""

    tenants_ok: list[str] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)
    checked_files: list[str] = field(default_factory=list)
    locations: dict[str, list[LocationReport]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def check_instance_config(file: str, config: dict[str, Any]) -> list[ConfigProblem]:
    """Validate a ``dagster.yaml`` mapping against Dagster's instance config schema."""
    result = validate_config(Shape(dagster_instance_config_schema()), config)
    if result.success:
        return []
    problems = []
    for error in result.errors or []:
        path = ".".join(str(e) for e in error.stack.entries) if error.stack else "(top level)"
        problems.append(
            ConfigProblem(
                file,
                path or "(top level)",
                error.message,
                "see https://docs.dagster.io/deployment/oss/dagster-yaml",
            )
        )
    return problems


def check_run_coordinator(file: str, tenant: TenantConfig, config: dict[str, Any]) -> list[ConfigProblem]:
    """The rendered ``run_coordinator`` builds, and is the tenant run coordinator with the tenant's tags.

    Dagster's instance schema accepts any ``config`` mapping there; the coordinator's own schema
    is checked only when an instance first submits a run, so it is built here.
    """
    block = config.get("run_coordinator")
    fix = (
        "set run_coordinator to klikkflow_pipelines.tenancy.run_coordinator.TenantRunCoordinator "
        "in the base dagster.yaml and render it with `klikkflow tenant create`"
    )
    if not isinstance(block, dict) or not block.get("module") or not block.get("class"):
        return [
            ConfigProblem(file, "run_coordinator", "missing: runs would not carry the tenant's tags", fix)
        ]
    data = ConfigurableClassData(block["module"], block["class"], yaml.safe_dump(block.get("config") or {}))
    try:
        coordinator = data.rehydrate(as_type=RunCoordinator)
    except DagsterInvalidConfigError as exc:
        problem = "; ".join(error.message for error in exc.errors)
        return [ConfigProblem(file, "run_coordinator.config", problem, fix)]
    except (CheckError, dg.DagsterError, ImportError) as exc:
        return [ConfigProblem(file, "run_coordinator", f"does not build: {exc}", fix)]
    if not isinstance(coordinator, TenantRunCoordinator):
        problem = f"{data.class_name} does not stamp the tenant's run tags on its runs"
        return [ConfigProblem(file, "run_coordinator.class", problem, fix)]
    if coordinator.tenant_tags.get(TENANT_TAG) != tenant.id:
        problem = f"tenant_tags name tenant {coordinator.tenant_tags.get(TENANT_TAG)!r}, not {tenant.id!r}"
        return [ConfigProblem(file, "run_coordinator.config.tenant_tags", problem, fix)]
    return []


def check_project_files() -> tuple[list[ConfigProblem], list[str]]:
    """Check the instance configs and the workspace file shipped with the project."""
    problems: list[ConfigProblem] = []
    files = [EMBEDDED_CONFIG, PRODUCTION_CONFIG, PROJECT_ROOT / "workspace.yaml"]
    for path in files[:2]:
        try:
            problems += check_instance_config(str(path), read_yaml_mapping(path))
        except ConfigError as exc:
            problems += exc.problems
    workspace = files[2]
    try:
        entries = read_yaml_mapping(workspace).get("load_from")
        if not isinstance(entries, list) or not entries:
            problems.append(
                ConfigProblem(
                    str(workspace),
                    "load_from",
                    "no code locations listed",
                    "list the python_module of the definitions",
                )
            )
    except ConfigError as exc:
        problems += exc.problems
    return problems, [str(p) for p in files]


def check_tenant(tenant: TenantConfig) -> list[ConfigProblem]:
    """Build the tenant's Definitions and instance config; run the registered tenant checks."""
    from klikkflow_pipelines.tenant_definitions import build_definitions

    file = tenant.source_path or tenant.id
    problems: list[ConfigProblem] = []
    try:
        dg.Definitions.validate_loadable(build_definitions(tenant))
    except ConfigError as exc:
        problems += exc.problems
    except dg.DagsterError as exc:
        problems.append(
            ConfigProblem(
                file, "workflows", f"definitions do not load: {exc}", "correct the workflow parameters"
            )
        )
    except Exception as exc:  # a workflow's code: reported for this tenant, the others are still checked
        problems.append(
            ConfigProblem(
                file,
                "workflows",
                f"definitions do not load: {type(exc).__name__}: {exc} (at {error_origin(exc)})",
                "fix the error in the workflow's code or parameters, then run `klikkflow validate` again",
            )
        )
        return problems
    rendered = render_instance_config(tenant)
    problems += check_instance_config(f"{file} (rendered dagster.yaml)", rendered)
    problems += check_run_coordinator(f"{file} (rendered dagster.yaml)", tenant, rendered)
    for check in TENANT_CHECKS:
        problems += check(tenant)
    return problems


@contextmanager
def _scratch_home() -> Iterator[None]:
    """Point ``KLIKKFLOW_HOME`` at a temporary directory for the duration, then restore and delete it."""
    previous = os.environ.get("KLIKKFLOW_HOME")
    with tempfile.TemporaryDirectory(prefix="klikkflow-validate-") as scratch:
        os.environ["KLIKKFLOW_HOME"] = scratch
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("KLIKKFLOW_HOME", None)
            else:
                os.environ["KLIKKFLOW_HOME"] = previous


def check_tenant_locations(tenant: TenantConfig, home: Path) -> list[LocationReport]:
    """Check each of the tenant's own code locations, each in its own child process.

    ``home`` is the real KlikkFlow home (validation itself runs on a scratch one), whose other
    tenants' folders no location may point into.
    """
    reports = []
    for index, location in enumerate(tenant.code_locations):
        try:
            location_source(tenant, index, location, home=home)
        except ConfigError as exc:
            reports.append(LocationReport(location.name, errors=exc.problems))
            continue
        reports.append(check_location(tenant, location.name))
    return reports


def check_shared_folders(tenants: dict[str, TenantConfig], home: Path) -> list[ConfigProblem]:
    """Locations of different tenants whose folders overlap (one tenant would import the other's code)."""
    folders: list[tuple[str, Path, str, str]] = []
    for tenant in tenants.values():
        for index, location in enumerate(tenant.code_locations):
            try:
                root = location_source(tenant, index, location, home=home).import_root
            except ConfigError:
                continue  # reported by check_tenant_locations
            if root is not None:
                where = location_field(index, location)
                folders.append((tenant.id, root, str(tenant_file_of(tenant)), where))
    problems = []
    for tenant_id, root, file, where in folders:
        for other_id, other_root, other_file, other_where in folders:
            if other_id != tenant_id and root.is_relative_to(other_root):
                problems.append(
                    ConfigProblem(
                        file,
                        where,
                        f"its folder {root} lies in {other_root}, the code of tenant {other_id!r} "
                        f"({other_file}: {other_where})",
                        "give every tenant its own code folder",
                    )
                )
    return problems


def check_locations(tenant: TenantConfig) -> list[LocationReport]:
    """:func:`check_tenant_locations` on a scratch home, as ``klikkflow validate`` runs it."""
    home = klikkflow_home(create=False)
    with _scratch_home():
        return check_tenant_locations(tenant, home)


def validate_project(tenants_dir: Path | None = None) -> ValidationReport:
    """Everything ``klikkflow validate`` checks; writes nothing to ``KLIKKFLOW_HOME``."""
    home = klikkflow_home(create=False)
    with _scratch_home():
        return _validate(tenants_dir, home)


def _validate(tenants_dir: Path | None, home: Path) -> ValidationReport:
    report = ValidationReport()
    report.problems, report.checked_files = check_project_files()
    tenants, failed = load_all_tenants(tenants_dir)
    for error in failed.values():
        report.problems += error.problems
    shared = check_shared_folders(tenants, home)
    report.problems += shared
    for tenant_id, tenant in tenants.items():
        report.checked_files.append(tenant.source_path or tenant_id)
        problems = check_tenant(tenant)
        report.locations[tenant_id] = check_tenant_locations(tenant, home)
        for location in report.locations[tenant_id]:
            problems += location.errors
            report.warnings += location.warnings
        report.problems += problems
        if not problems and not any(p.file == tenant.source_path for p in shared):
            report.tenants_ok.append(tenant_id)
    return report
