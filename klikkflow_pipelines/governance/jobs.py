"""Op jobs of a tenant location (``@dg.job``, bound to their resources when defined), governed.

Their IO managers are wrapped like the assets' ones; a job on Dagster's default
job IO manager (pickles in the instance's shared storage dir) gets the location's
governed ``io_manager`` instead. Schedules and sensors targeting a job target the
governed job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.job_definition import default_job_io_manager
from dagster._core.execution.build_resources import wrap_resources_for_execution

from klikkflow_pipelines.governance.io_managers import (
    DEFAULT_IO_MANAGER_KEY,
    IOManagerGovernor,
    output_io_manager_keys,
)


def _governed_job(
    job: dg.JobDefinition, governor: IOManagerGovernor, resources: Mapping[str, Any]
) -> dg.JobDefinition:
    own = dict(job.resource_defs)
    for key in {DEFAULT_IO_MANAGER_KEY, *output_io_manager_keys(job.graph)}:
        current = own.get(key)
        if current is None or current is default_job_io_manager:
            if key in resources:
                own[key] = resources[key]
            continue
        outcome = governor.govern(key, current)
        if outcome.definition is not None:
            own[key] = outcome.definition
            own.update(outcome.extra)
    return job.with_top_level_resources(wrap_resources_for_execution({**resources, **own}))


def govern_jobs(
    defs: dg.Definitions, governor: IOManagerGovernor, resources: Mapping[str, Any]
) -> tuple[list[Any], list[Any], list[Any]]:
    """``defs``' jobs, schedules and sensors with every op job governed (``resources``: the location's)."""
    schedules, sensors = list(defs.schedules or []), list(defs.sensors or [])
    targeted = [
        *(defs.jobs or []),
        *(s.job for s in schedules if isinstance(s, dg.ScheduleDefinition) and s.target.has_job_def),
        *(j for s in sensors for t in s.targets if t.has_job_def for j in [t.job_def]),
    ]
    governed = {
        id(job): _governed_job(job, governor, resources)
        for job in targeted
        if isinstance(job, dg.JobDefinition)
    }
    if not governed:
        return list(defs.jobs or []), schedules, sensors
    jobs = [governed.get(id(job), job) for job in defs.jobs or []]
    schedules = [
        s.with_updated_job(governed[id(s.job)])
        if isinstance(s, dg.ScheduleDefinition) and s.target.has_job_def and id(s.job) in governed
        else s
        for s in schedules
    ]
    sensors = [
        s.with_updated_jobs([governed.get(id(j), j) for j in s.jobs])
        if any(t.has_job_def for t in s.targets) and any(id(j) in governed for j in s.jobs)
        else s
        for s in sensors
    ]
    return jobs, schedules, sensors
