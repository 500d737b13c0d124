"""Processed-drop sensor: after a run of a drop partition succeeds, its file leaves the inbox.

A run-status sensor (not the asset itself) does the move, so the file leaves only once the whole
run succeeded: a run that fails, or crashes half-way, leaves the file in the inbox for its retry.
The file goes to ``processed/<run id>/<file>`` in one ``os.replace``; the asset still finds it
there when the partition is materialized again. Evaluating the same run twice (a daemon restart,
two daemons) is harmless: the second evaluation finds the file already moved.

A failed run leaves its file in the inbox, unless the run found the file's content unreadable
(broken JSON further down, bad encoding) and Dagster will not retry it: then the failed-drop
sensor rejects it, like the file sensor's own check does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.tags import WILL_RETRY_TAG

from klikkflow_pipelines.events.drop_inbox import DropProblem, move_to_processed
from sensors.file_arrival import ArrivedFile, Rejecter

PARTITION_TAG = "dagster/partition"


def build_processed_drop_sensor(
    name: str,
    job: Any,
    inbox: Path,
    version_of: Callable[[str], tuple[str, int] | None],
    reader_asset: str,
    interval_seconds: int = 30,
) -> dg.SensorDefinition:
    """A sensor moving the drop of each successful run of ``job`` to ``inbox/processed/<run id>/``.

    ``version_of`` maps a partition key to its file name and modification time (None when the
    key names no file version); only runs that materialized ``reader_asset`` (the asset reading
    the file) move it.
    """

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=name,
        monitored_jobs=[job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Moves the drop of each successful {job.name} run to {inbox / 'processed'}/<run id>/.",
    )
    def _processed_drop(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
        run = context.dagster_run
        key = run.tags.get(PARTITION_TAG)
        version = version_of(key) if key else None
        if run.status != dg.DagsterRunStatus.SUCCESS:
            return dg.SkipReason(f"run {run.run_id} is {run.status.value}: its drop stays for a retry")
        if run.job_name != job.name or version is None:
            return dg.SkipReason(f"run {run.run_id} has no drop partition")
        selection = run.asset_selection
        if selection and dg.AssetKey(reader_asset) not in selection:  # empty: the whole job
            return dg.SkipReason(f"run {run.run_id} did not read its drop ({reader_asset} not selected)")
        moved = move_to_processed(inbox, version[0], version[1], run.run_id)
        if moved is None:
            return dg.SkipReason(f"{version[0]}@{version[1]} is no longer in {inbox}")
        context.log.info(f"drop {version[0]} of run {run.run_id} is now {moved}")
        return None

    return _processed_drop


def build_failed_drop_sensor(
    name: str,
    job: Any,
    inbox: Path,
    version_of: Callable[[str], tuple[str, int] | None],
    problem_metadata_key: str,
    reject: Rejecter,
    partitions_def: dg.DynamicPartitionsDefinition,
    interval_seconds: int = 30,
) -> dg.SensorDefinition:
    """A sensor rejecting the drop of a failed ``job`` run whose content could not be read.

    Only a step failure carrying ``problem_metadata_key`` in its metadata (the asset found the
    file's content unreadable, so a retry cannot help) rejects the file, and only when Dagster
    will not retry the run; any other failure leaves the file in the inbox for its retry. The
    rejected file's partition is deleted from ``partitions_def`` (its replay is a new version).
    """

    @dg.run_failure_sensor(
        name=name,
        monitored_jobs=[job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Moves the drop of a {job.name} run that could not read it to {inbox / 'rejected'}.",
    )
    def _failed_drop(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
        run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run
        key = run.tags.get(PARTITION_TAG)
        version = version_of(key) if key else None
        if run.job_name != job.name or version is None or run.tags.get(WILL_RETRY_TAG) == "true":
            return dg.SkipReason(f"run {run.run_id}: no drop partition, or Dagster retries it")
        problems = [
            str(data.user_failure_data.metadata[problem_metadata_key].value)
            for data in (e.event_specific_data for e in context.get_step_failure_events())
            if data and data.user_failure_data and problem_metadata_key in data.user_failure_data.metadata
        ]
        if not problems:
            return dg.SkipReason(f"run {run.run_id} failed for another reason: its drop stays for a retry")
        problem = DropProblem(
            f"run {run.run_id} could not read it: {'; '.join(problems)}",
            "correct the file where it lies in rejected/, then replay its dead letter",
        )
        entry = reject(ArrivedFile(inbox / version[0], 0, version[1]), problem)
        if entry is not None and partitions_def.name and key:
            # The file is gone from the inbox: no schedule may retry this partition any more.
            context.instance.delete_dynamic_partition(partitions_def.name, key)
        context.log.warning(f"drop {version[0]} of run {run.run_id} rejected (dead letter {entry})")
        return None

    return _failed_drop
