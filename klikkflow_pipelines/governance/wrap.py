"""The one wrapper every tenant code location passes: tenant ``Definitions`` in, governed ``Definitions`` out."""

from __future__ import annotations

import dagster as dg

from klikkflow_pipelines.governance.path_guard import install_path_guard
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenant_resources import build_resources


def govern_definitions(defs: dg.Definitions, tenant: TenantConfig, location: str) -> dg.Definitions:
    """Return ``defs`` of code location ``location`` governed for ``tenant``.

    The tenant's KlikkFlow resources (warehouse, secrets, governed frame storage) are bound;
    the tenant's own resources keep their keys.
    """
    install_path_guard(tenant.id)
    return dg.Definitions.merge(dg.Definitions(resources=build_resources(tenant)), defs)
