"""The one wrapper every tenant code location passes: tenant ``Definitions`` in, governed ``Definitions`` out.

* KlikkFlow's resources (``warehouse``, ``secrets``, ``governed_io_manager``) are
  bound for this tenant; a location defining one of those keys is refused.
* Every IO manager (top-level, asset-level ``io_manager_def``/``resource_defs``, op
  jobs) is wrapped by the tenant's compliance IO manager, the tenant's own IO
  manager working underneath; without a tenant ``io_manager`` the inner default is
  the tenant's own frame and object storage.
* KlikkFlow's resources and the wrappers are sealed: run config cannot change them.
* Each asset's governance status is on its definition metadata; with the tenant
  policy's ``require_governed: true`` an ungoverned asset refuses the load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from dagster._record import copy

from compliance.io_manager import policy_for
from compliance.policy import load_policy
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem
from klikkflow_pipelines.governance.findings import UNGOVERNED, GovernanceFinding, assess_assets_def
from klikkflow_pipelines.governance.io_managers import (
    DEFAULT_IO_MANAGER_KEY,
    IOManagerGovernor,
    asset_io_manager_keys,
)
from klikkflow_pipelines.governance.jobs import govern_jobs
from klikkflow_pipelines.governance.reserved import refuse_reserved
from klikkflow_pipelines.governance.sealed import sealed
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenant_resources import DEFAULT_POLICY, build_resources
from klikkflow_pipelines.workflows.template import GOVERNED_IO_MANAGER


def _is_io_manager(value: Any) -> bool:
    return isinstance(value, dg.IOManagerDefinition | dg.ConfigurableIOManagerFactory | dg.IOManager)


class _Location:
    """One tenant location being governed: its bindings, the governor and what could not be wrapped."""

    def __init__(self, defs: dg.Definitions, tenant: TenantConfig):
        klikkflow = build_resources(tenant)
        self.governor = IOManagerGovernor(klikkflow[GOVERNED_IO_MANAGER])
        self.klikkflow = {
            "warehouse": sealed(klikkflow["warehouse"]),
            "secrets": sealed(klikkflow["secrets"]),
            GOVERNED_IO_MANAGER: self.governor.sealed_template,
        }
        own = dict(defs.resources or {})
        if DEFAULT_IO_MANAGER_KEY not in own:
            own[DEFAULT_IO_MANAGER_KEY] = klikkflow[DEFAULT_IO_MANAGER_KEY]  # the tenant's default store
        self.own = own
        self.unwrappable: dict[str, str] = {}

    def top_level(self, io_keys: set[str]) -> dict[str, Any]:
        """The location's top-level resources: its own, every IO manager governed, KlikkFlow's."""
        bound = dict(self.own)
        for key, value in self.own.items():
            if key in io_keys or _is_io_manager(value):
                outcome = self.governor.govern(key, value)
                if outcome.definition is None:
                    self.unwrappable[key] = outcome.reason
                else:
                    bound[key] = outcome.definition
                    bound.update(outcome.extra)
        return {**bound, **self.klikkflow}

    def asset(
        self, assets_def: dg.AssetsDefinition, io_keys: set[str]
    ) -> tuple[dg.AssetsDefinition, list[GovernanceFinding]]:
        """``assets_def`` (writing through ``io_keys``) with its own IO managers governed and its
        governance status in metadata."""
        resource_defs = dict(assets_def.resource_defs)
        unwrappable = dict(self.unwrappable)
        for key in io_keys & resource_defs.keys():
            outcome = self.governor.govern(key, resource_defs[key])
            if outcome.definition is None:
                unwrappable[key] = outcome.reason
            else:
                resource_defs[key] = outcome.definition
                resource_defs.update(outcome.extra)
        findings = assess_assets_def(assets_def, unwrappable)
        specs = [
            spec.merge_attributes(metadata=findings[spec.key].as_metadata()) for spec in assets_def.specs
        ]
        attributes = {**assets_def.get_attributes_dict(), "specs": specs, "resource_defs": resource_defs}
        return assets_def.__class__.dagster_internal_init(**attributes), list(findings.values())


def _asset_level_bindings(defs: dg.Definitions) -> dict[str, dict[str, Any]]:
    bindings: dict[str, dict[str, Any]] = {"resources": dict(defs.resources or {})}
    for item in [*(defs.assets or []), *(defs.asset_checks or [])]:
        if isinstance(item, dg.AssetsDefinition) and item.resource_defs:
            name = (
                item.node_def.name if item.is_executable else ",".join(k.to_user_string() for k in item.keys)
            )
            bindings[f"assets[{name}].resource_defs"] = dict(item.resource_defs)
    for job in defs.jobs or []:
        if isinstance(job, dg.JobDefinition):
            bindings[f"jobs[{job.name}].resource_defs"] = dict(job.resource_defs)
    return bindings


def _require_governed(findings: list[GovernanceFinding], tenant: TenantConfig, location: str) -> None:
    policy_file = Path(tenant.policy_path() or DEFAULT_POLICY)
    try:
        policy = policy_for(str(policy_file))  # cached: the compliance IO manager reads the same file
    except FileNotFoundError:
        policy = load_policy(policy_file)  # raises the file/field/fix error
    if not policy.require_governed:
        return
    problems = [
        ConfigProblem(
            str(policy_file), "require_governed", f"asset {f.asset!r} of {location}: {f.reason}", f.fix
        )
        for f in findings
        if f.status == UNGOVERNED
    ]
    if problems:
        raise ConfigError(problems)


def govern_definitions(defs: dg.Definitions, tenant: TenantConfig, location: str) -> dg.Definitions:
    """Return ``defs`` of code location ``location`` (its file or name) governed for ``tenant``.

    Raises :class:`ConfigError` naming ``location`` when it defines a resource key
    KlikkFlow reserves, and naming the policy file, the asset and the fix when the
    policy sets ``require_governed: true`` and an asset cannot be governed.
    """
    refuse_reserved(location, _asset_level_bindings(defs), tenant.id)
    here = _Location(defs, tenant)
    io_keys_of = {
        id(item): asset_io_manager_keys(item)
        for item in defs.assets or []
        if isinstance(item, dg.AssetsDefinition) and item.is_executable
    }
    io_keys = {DEFAULT_IO_MANAGER_KEY}
    for item in defs.assets or []:
        if id(item) in io_keys_of:
            io_keys |= io_keys_of[id(item)] - item.resource_defs.keys()
    resources = here.top_level(io_keys)
    assets: list[Any] = []
    findings: list[GovernanceFinding] = []
    for item in defs.assets or []:
        if id(item) in io_keys_of:
            governed, found = here.asset(item, io_keys_of[id(item)])
            assets.append(governed)
            findings.extend(found)
        else:
            assets.append(item)
    _require_governed(findings, tenant, location)
    jobs, schedules, sensors = govern_jobs(defs, here.governor, resources)
    return copy(
        defs,
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=resources,
    )
