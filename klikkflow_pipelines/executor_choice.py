"""The executor ``$KLIKKFLOW_EXECUTOR`` names for every job of a code location (``klikkflow dev``).

``in_process`` runs a run's steps in its run worker instead of one process per step (faster on one
machine); ``multiprocess`` is Dagster's default; unset leaves the Definitions as they are. A code
location that chose its own executor keeps it.
"""

from __future__ import annotations

import os

import dagster as dg

EXECUTOR_ENV = "KLIKKFLOW_EXECUTOR"
EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}


def with_chosen_executor(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with the executor ``$KLIKKFLOW_EXECUTOR`` names (unchanged when it is unset or
    ``defs`` has an executor of its own)."""
    name = os.environ.get(EXECUTOR_ENV, "").strip()
    if not name or defs.executor is not None:
        return defs
    if name not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV}={name!r}: use one of {sorted(EXECUTORS)} or leave it unset")
    return dg.Definitions.merge(defs, dg.Definitions(executor=EXECUTORS[name]))
