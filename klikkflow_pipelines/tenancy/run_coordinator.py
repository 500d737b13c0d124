"""The run coordinator of every tenant instance: the tenant's run tags on every run, by construction.

Every run Dagster queues passes ``RunCoordinator.submit_run``: launches from the UI and
GraphQL (the implicit ``__ASSET_JOB`` of a direct materialization included), backfills,
sensor and schedule runs, automatic retries and re-executions. :class:`TenantRunCoordinator`
is Dagster's :class:`QueuedRunCoordinator` that, before a run is enqueued, stamps onto it
(``instance.add_run_tags``) the tenant's tags from the rendered instance config, whatever the
tenant's code or the launching user set:

* ``klikkflow/tenant`` and ``dagster-k8s/config`` are the tenant's, always; a run carrying the
  older ``dagster-k8s/resource_requirements`` (which dagster-k8s lays over the resources of
  ``dagster-k8s/config``) gets the plan's resources there too;
* ``dagster/priority`` and ``dagster/max_runtime`` are ceilings: a run may ask for a lower
  priority or a shorter (positive, finite) runtime, never for more than the plan allows;
* ``klikkflow/location`` is the code location the run was launched from;
* ``klikkflow/workflow`` is the one the job itself declares, else the job name (for an
  implicit asset job, the location name).

A replaced value is reported as an engine event on the run (in its logs), naming the tag,
the value it had and the value it got. The dequeue daemon, run monitoring and the run
launcher all read the tags from storage after this, so the queue order, the concurrency
limits, the runtime limit and the run pod's Kubernetes settings are the tenant's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from dagster import DagsterRun, DagsterRunStatus, Field, Map
from dagster import _check as check
from dagster._config.config_schema import UserConfigSchema
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME, is_reserved_asset_job_name
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import EngineEventData
from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.tags import MAX_RUNTIME_SECONDS_TAG, PRIORITY_TAG
from dagster._serdes import ConfigurableClassData

from klikkflow_pipelines.tenancy.run_tags import LOCATION_TAG, TENANT_TAG, WORKFLOW_TAG

_QUEUE_SETTINGS = tuple(QueuedRunCoordinator.config_type())
"""The settings of Dagster's queued coordinator, passed through unchanged."""


@dataclass(frozen=True)
class ReplacedTag:
    """A tag value the run carried that it may not have, and the value it got instead."""

    key: str
    forged: str
    stamped: str


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _within_ceiling(key: str, value: str, ceiling: str) -> bool:
    """True when a run's own value of a ceiling tag stays at or below the tenant's."""
    if key == PRIORITY_TAG:
        try:
            return int(value) <= int(ceiling)
        except ValueError:
            return False
    number, limit = _number(value), _number(ceiling)
    return number is not None and limit is not None and 0 < number <= limit


_CEILING_TAGS = (PRIORITY_TAG, MAX_RUNTIME_SECONDS_TAG)
K8S_CONFIG_TAG = "dagster-k8s/config"
K8S_RESOURCES_TAG = "dagster-k8s/resource_requirements"
"""dagster-k8s's older tag: its resources override those of ``dagster-k8s/config``."""


def _plan_resources(tenant_tags: Mapping[str, str]) -> str:
    """The ``dagster-k8s/resource_requirements`` value equal to the resources of the tenant's k8s config."""
    config = json.loads(tenant_tags.get(K8S_CONFIG_TAG, "{}"))
    return json.dumps(config.get("container_config", {}).get("resources", {}), sort_keys=True)


def job_workflow(job_name: str, location_name: str, job_tags: Mapping[str, Any]) -> str:
    """The ``klikkflow/workflow`` of a job's runs: the job's own tag, else its name.

    Implicit and anonymous asset jobs (a materialization from the UI) belong to the location.
    """
    declared = job_tags.get(WORKFLOW_TAG)
    if isinstance(declared, str) and declared:
        return declared
    if job_name.startswith(IMPLICIT_ASSET_JOB_NAME) or is_reserved_asset_job_name(job_name):
        return location_name
    return job_name


def governed_tags(
    run_tags: Mapping[str, str], tenant_tags: Mapping[str, str], location_name: str, workflow: str
) -> tuple[dict[str, str], list[ReplacedTag]]:
    """The tags to stamp on a run so that it carries the tenant's, and the values that replaces."""
    wanted = {**tenant_tags, LOCATION_TAG: location_name, WORKFLOW_TAG: workflow}
    if K8S_RESOURCES_TAG in run_tags:
        wanted[K8S_RESOURCES_TAG] = _plan_resources(tenant_tags)
    stamp: dict[str, str] = {}
    replaced: list[ReplacedTag] = []
    for key, value in wanted.items():
        current = run_tags.get(key)
        if current == value:
            continue
        if current is not None and key in _CEILING_TAGS and _within_ceiling(key, current, value):
            continue
        stamp[key] = value
        if current is not None:
            replaced.append(ReplacedTag(key, current, value))
    return stamp, replaced


class TenantRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator that stamps the tenant's run tags on every run it enqueues.

    Configured in the tenant's ``dagster.yaml`` with the queued coordinator's settings plus
    ``tenant_tags`` (rendered from the tenant config by ``klikkflow_pipelines.tenancy.instance``).
    """

    def __init__(self, tenant_tags: Mapping[str, str] | None = None, **queue_settings: Any) -> None:
        tags = dict(check.opt_mapping_param(tenant_tags, "tenant_tags", key_type=str, value_type=str))
        if not tags.get(TENANT_TAG):
            raise DagsterInvariantViolationError(
                "dagster.yaml: run_coordinator.config.tenant_tags: no klikkflow/tenant tag. "
                "Fix: render the tenant instance config with klikkflow_pipelines.tenancy.instance "
                "(`klikkflow tenant create <id>`) instead of using the base file directly."
            )
        self._tenant_tags = tags
        super().__init__(**queue_settings)

    @property
    def tenant_tags(self) -> Mapping[str, str]:
        """The tags every run of this instance carries."""
        return dict(self._tenant_tags)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        """The queued coordinator's settings plus the tenant's run tags."""
        schema = dict(QueuedRunCoordinator.config_type())  # type: ignore[arg-type]
        schema["tenant_tags"] = Field(
            Map(str, str),
            is_required=True,
            description="Tags stamped on every run of the tenant (tenant, plan limits, k8s config).",
        )
        return schema

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        """Build from the validated ``run_coordinator.config`` block."""
        settings = {key: config_value.get(key) for key in _QUEUE_SETTINGS}
        return cls(tenant_tags=config_value["tenant_tags"], inst_data=inst_data, **settings)

    def _workflow(self, run: DagsterRun, location_name: str) -> str:
        snapshot = (
            self._instance.get_job_snapshot(run.job_snapshot_id)
            if run.job_snapshot_id and self._instance.has_job_snapshot(run.job_snapshot_id)
            else None
        )
        job_tags = (snapshot.run_tags if snapshot.run_tags is not None else snapshot.tags) if snapshot else {}
        return job_workflow(run.job_name, location_name, job_tags)

    def stamp(self, run: DagsterRun) -> list[ReplacedTag]:
        """Put the tenant's tags on a stored run; report and return the values that were replaced."""
        origin = check.not_none(run.remote_job_origin, "submitted runs have a remote job origin")
        location_name = origin.location_name
        stamp, replaced = governed_tags(
            run.tags, self._tenant_tags, location_name, self._workflow(run, location_name)
        )
        if stamp:
            self._instance.add_run_tags(run.run_id, stamp)
        if replaced:
            changes = ", ".join(f"{r.key} ({r.forged!r} -> {r.stamped!r})" for r in replaced)
            self._instance.report_engine_event(
                f"KlikkFlow replaced run tags this run may not set: {changes}",
                run,
                EngineEventData(
                    metadata={f"replaced {r.key}": f"{r.forged!r} -> {r.stamped!r}" for r in replaced}
                ),
                cls=type(self),
            )
        return replaced

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        """Stamp the tenant's tags on a new run, then enqueue it."""
        if context.dagster_run.status == DagsterRunStatus.NOT_STARTED:
            self.stamp(context.dagster_run)
        return super().submit_run(context)
