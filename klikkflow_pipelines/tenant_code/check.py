"""Checking one tenant code location the way its code server loads it: import, govern, validate.

:func:`check_location` runs the check in a child process (``python -m
klikkflow_pipelines.tenant_code.check <tenant file> <location>``), so one location's import
side effects, crashes or endless loops cannot break the checks of the others, and two tenants'
modules of the same name never meet in one ``sys.modules``. The child prints a JSON report:
load problems (errors) and the assets the compliance layer cannot govern (warnings, or errors
when the tenant's policy sets ``require_governed``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.paths import PROJECT_ROOT, klikkflow_home
from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant_file
from klikkflow_pipelines.tenant_code.environment import tenant_environment

CHECK_TIMEOUT_SECONDS = 300.0


@dataclass
class LocationReport:
    """What checking one location found."""

    location: str
    errors: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The report as one JSON line (what the child process prints)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LocationReport:
        """The report a child process printed."""
        data = json.loads(text)
        return cls(
            data["location"],
            [ConfigProblem(**p) for p in data["errors"]],
            [ConfigProblem(**p) for p in data["warnings"]],
            list(data["assets"]),
        )


def _field(tenant: TenantConfig, name: str) -> tuple[str, str]:
    from klikkflow_pipelines.tenant_code.importing import location_field, tenant_file_of

    index, location = tenant.code_location(name)
    return str(tenant_file_of(tenant)), location_field(index, location)


def _require_governed(tenant: TenantConfig) -> bool:
    from compliance.policy import load_policy

    path = tenant.policy_path()
    return bool(path and load_policy(path).require_governed)


def _governance_findings(tenant: TenantConfig, name: str, defs: object, report: LocationReport) -> None:
    from klikkflow_pipelines.governance.findings import ungoverned_assets

    file, where = _field(tenant, name)
    strict = _require_governed(tenant)
    for finding in ungoverned_assets(defs):
        problem = ConfigProblem(
            file,
            f"{where} asset {finding.asset}",
            f"{finding.status}: {finding.reason}" + (" (the policy sets require_governed)" if strict else ""),
            finding.fix,
        )
        (report.errors if strict else report.warnings).append(problem)


def error_origin(exc: Exception) -> str:
    """``file:line`` where the tenant's code failed (a syntax error's own place, not the importer's)."""
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown place"


def check_location_here(tenant: TenantConfig, name: str) -> LocationReport:
    """Import and govern location ``name`` of ``tenant`` in this process; report what is wrong."""
    import dagster as dg

    from klikkflow_pipelines.governance import govern_definitions
    from klikkflow_pipelines.tenant_code.importing import import_location

    report = LocationReport(name)
    file, where = _field(tenant, name)
    try:
        defs = govern_definitions(import_location(tenant, name), tenant, name)
        dg.Definitions.validate_loadable(defs)
    except ConfigError as exc:
        report.errors += exc.problems
        return report
    except Exception as exc:  # the tenant's code: any error it raises is its location's problem
        report.errors.append(
            ConfigProblem(
                file,
                where,
                f"does not load: {type(exc).__name__}: {exc} (at {error_origin(exc)})",
                "fix the error in the location's code, then run `klikkflow validate` again",
            )
        )
        return report
    report.assets = sorted(key.to_user_string() for key in defs.resolve_all_asset_keys())
    _governance_findings(tenant, name, defs, report)
    return report


def check_location(
    tenant: TenantConfig, name: str, timeout: float = CHECK_TIMEOUT_SECONDS, env: dict[str, str] | None = None
) -> LocationReport:
    """Check location ``name`` of ``tenant`` in a child process (see the module docstring).

    The child gets the environment the location's code server gets (``env`` added to this
    process's before the allow-list of :mod:`klikkflow_pipelines.tenant_code.environment`)."""
    file, where = _field(tenant, name)
    argv = [sys.executable, "-m", __name__, str(Path(file).resolve()), name]
    home = klikkflow_home(create=False) / "tenants" / tenant.id
    child_env = tenant_environment(tenant.id, {**os.environ, **(env or {})}, home)
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"  # checking reads the code: no __pycache__ in its folder
    try:
        done = subprocess.run(
            argv, cwd=PROJECT_ROOT, env=child_env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        problem = ConfigProblem(
            file,
            where,
            f"did not load within {timeout:.0f}s",
            "remove slow work (network, big reads) at import",
        )
        return LocationReport(name, errors=[problem])
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        return LocationReport.from_json(lines[-1])
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    problem = ConfigProblem(
        file,
        where,
        f"its check process exited with code {done.returncode}: {tail[0]}",
        "the location's code ended the process (sys.exit, os._exit or a crash); remove that from import",
    )
    return LocationReport(name, errors=[problem])


def main(argv: list[str]) -> int:
    """Entry of the child process: ``<tenant file> <location>``; prints the report as JSON."""
    tenant_file, name = argv
    tenant = load_tenant_file(Path(tenant_file))
    report = check_location_here(tenant, name)
    sys.stdout.flush()
    print(report.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
