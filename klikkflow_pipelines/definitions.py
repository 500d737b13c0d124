"""The code location of the tenant named by ``$KLIKKFLOW_TENANT`` (default ``default``).

The module-level ``defs`` is :func:`klikkflow_pipelines.tenant_definitions.build_definitions`
for that tenant, so each tenant's built-in code location is this module run with its own
environment. ``$KLIKKFLOW_EXECUTOR`` (``in_process`` or ``multiprocess``; unset: Dagster's default,
multiprocess) sets the executor of every job of the location: ``klikkflow dev`` sets
``in_process``, which runs a run's steps in its run worker instead of one process per step.
Code that needs the Definitions of a given tenant imports ``build_definitions``
from :mod:`klikkflow_pipelines.tenant_definitions`, which builds nothing at import.
"""

from __future__ import annotations

import os

import dagster as dg

from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenant_definitions import build_definitions, build_workflows

__all__ = ["build_definitions", "build_workflows", "current_tenant_id", "defs"]
EXECUTOR_ENV = "KLIKKFLOW_EXECUTOR"
EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def current_tenant_id() -> str:
    """The tenant this process serves: ``$KLIKKFLOW_TENANT`` or ``default``."""
    return os.environ.get("KLIKKFLOW_TENANT", "default")


def with_chosen_executor(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with the executor ``$KLIKKFLOW_EXECUTOR`` names (unchanged when it is unset)."""
    name = os.environ.get(EXECUTOR_ENV, "").strip()
    if not name:
        return defs
    if name not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV}={name!r}: use one of {sorted(EXECUTORS)} or leave it unset")
    return dg.Definitions.merge(defs, dg.Definitions(executor=EXECUTORS[name]))


defs = with_chosen_executor(build_definitions(load_tenant(current_tenant_id())))
