"""How a workspace names a tenant's code locations: one module, one attribute per location.

Every location of every tenant is served by ``klikkflow_pipelines.tenant_code.locations`` with
the attribute ``<tenant id>__<location name>``. The tenant is part of the attribute, not of the
environment, so one process (the gateway) can open the workspaces of many tenants. Tenant ids
hold no underscore, so the first ``__`` separates tenant and location.
"""

from __future__ import annotations

LOCATIONS_MODULE = "klikkflow_pipelines.tenant_code.locations"
SEPARATOR = "__"


def location_attribute(tenant_id: str, location: str) -> str:
    """The attribute of :data:`LOCATIONS_MODULE` that loads ``location`` of ``tenant_id``."""
    return f"{tenant_id}{SEPARATOR}{location}"


def parse_location_attribute(attribute: str) -> tuple[str, str] | None:
    """``(tenant id, location)`` named by ``attribute``, or ``None`` when it names no location."""
    tenant_id, separator, location = attribute.partition(SEPARATOR)
    if not separator or not tenant_id or not location or "_" in tenant_id:
        return None
    return tenant_id, location
