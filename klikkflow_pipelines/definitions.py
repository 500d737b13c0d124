"""The code location of the tenant named by ``$KLIKKFLOW_TENANT`` (default ``default``).

The module-level ``defs`` is :func:`klikkflow_pipelines.tenant_definitions.build_definitions`
for that tenant, so each tenant's built-in code location is this module run with its own
environment. ``$KLIKKFLOW_EXECUTOR`` sets the executor of every job of the location
(:mod:`klikkflow_pipelines.executor_choice`).
Code that needs the Definitions of a given tenant imports ``build_definitions``
from :mod:`klikkflow_pipelines.tenant_definitions`, which builds nothing at import.
"""

from __future__ import annotations

import os

from klikkflow_pipelines.executor_choice import with_chosen_executor
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenant_definitions import build_definitions, build_workflows

__all__ = ["build_definitions", "build_workflows", "current_tenant_id", "defs"]


def current_tenant_id() -> str:
    """The tenant this process serves: ``$KLIKKFLOW_TENANT`` or ``default``."""
    return os.environ.get("KLIKKFLOW_TENANT", "default")


defs = with_chosen_executor(build_definitions(load_tenant(current_tenant_id())))
