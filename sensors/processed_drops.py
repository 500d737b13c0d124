"""Processed-drop sensor: after a run of a drop partition succeeds, its file leaves the inbox.

A run-status sensor (not the asset itself) does the move, so the file leaves only once the whole
run succeeded: a run that fails, or crashes half-way, leaves the file in the inbox for its retry.
The file goes to ``processed/<run id>/<file>`` in one ``os.replace``; the asset still finds it
there when the partition is materialized again. Evaluating the same run twice (a daemon restart,
two daemons) is harmless: the second evaluation finds the file already moved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from klikkflow_pipelines.events.drop_inbox import move_to_processed

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
