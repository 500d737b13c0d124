"""The module every workspace loads tenant code locations from (PEP 562 module ``__getattr__``).

Attribute ``<tenant>__<location>`` (see :mod:`klikkflow_pipelines.tenant_code.targets`) is the
location's governed Definitions: ``govern_definitions(import_location(tenant, location), ...)``;
``<tenant>__<tenant>`` is the built-in location (the tenant's enabled workflow templates and its
tenant-wide sensors). Each location runs in its own code server process, so one location's import
error or bad definitions stops only that location. A process started for one tenant
(``$KLIKKFLOW_TENANT`` set) refuses to load another tenant's location, and installs the tenant's
path guard (:mod:`klikkflow_pipelines.governance.path_guard`) before any tenant code runs.

Every module-level name here starts with an underscore, so no location name can hit one of them.
"""

import functools as _functools
import os as _os


@_functools.cache
def _load(tenant_id: str, location: str) -> object:
    from klikkflow_pipelines.tenancy.config import load_tenant

    bound = _os.environ.setdefault("KLIKKFLOW_TENANT", tenant_id)
    if bound != tenant_id:
        raise PermissionError(
            f"this process serves tenant {bound!r} ($KLIKKFLOW_TENANT); "
            f"it does not load code location {location!r} of tenant {tenant_id!r}"
        )
    from klikkflow_pipelines.governance.path_guard import install_path_guard

    install_path_guard(tenant_id)  # before any tenant code runs, also its import-time code
    from klikkflow_pipelines.executor_choice import with_chosen_executor

    tenant = load_tenant(tenant_id)
    if location == tenant_id:
        from klikkflow_pipelines.tenant_definitions import build_definitions

        return with_chosen_executor(build_definitions(tenant))
    from klikkflow_pipelines.governance import govern_definitions
    from klikkflow_pipelines.tenant_code.importing import import_location

    return with_chosen_executor(govern_definitions(import_location(tenant, location), tenant, location))


def __getattr__(name: str) -> object:
    from klikkflow_pipelines.tenant_code.targets import parse_location_attribute

    parsed = parse_location_attribute(name)
    if parsed is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _load(*parsed)
