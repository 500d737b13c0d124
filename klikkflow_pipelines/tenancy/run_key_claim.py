"""Run creation and run tagging in one transaction, with a unique claim on a sensor run's ``run_key``.

dagster-postgres writes a new run as two autocommitted statements: the ``runs``
row, then its ``run_tags`` rows. A daemon killed between the two leaves a run
without tags. Dagster's sensor machinery de-duplicates ``run_key`` s by looking
runs up *by tag* (``fetch_existing_runs``), so it cannot see that run: when the
same run request comes again under a new reserved run id (the outbox sensor
re-reading an event because the kill also lost the cursor update, or any other
re-evaluation), a second run is created for the same event. With 8 submit
threads a kill lands in that window often enough to turn 500 events into 503 runs.

:class:`AtomicRunCreation` (mixed into the pooled run storage) closes it:

* the ``runs`` row and all its tags are inserted in one transaction: a run is
  either stored with its tags or not at all;
* a run that a sensor or schedule requested with a ``run_key`` (and that is not
  a retry or re-execution, which carry ``dagster/parent_run_id``) takes a
  transaction-scoped advisory lock on (repository, instigator, run key) and is
  refused with :class:`~dagster._core.errors.DagsterRunAlreadyExists` when a run
  with that key already exists, so two creators (threads, processes, a resumed
  and a fresh tick) cannot both create it.

The sensor daemon treats the refusal as a failed tick; its retry finds the
existing run by tag and skips the request.

Tags added to a stored run (``add_run_tags``: the tenant run coordinator stamps
every run this way before it is queued) are written the same way: the run body
and the tag rows in one transaction, the run row locked meanwhile. dagster-postgres
writes them as separate autocommitted statements, so a kill in between left a body
with tags its tag rows lack, and a repeated call saw nothing left to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._core.errors import DagsterRunAlreadyExists, DagsterRunNotFoundError
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster._core.storage.tags import (
    PARENT_RUN_ID_TAG,
    PARTITION_NAME_TAG,
    PARTITION_SET_TAG,
    REPOSITORY_LABEL_TAG,
    RUN_KEY_TAG,
    SCHEDULE_NAME_TAG,
    SENSOR_NAME_TAG,
)
from dagster._serdes import deserialize_value, serialize_value
from dagster._time import get_current_datetime
from sqlalchemy import Connection, and_, exists, func, select
from sqlalchemy import exc as db_exc

_INSTIGATOR_TAGS = (SENSOR_NAME_TAG, SCHEDULE_NAME_TAG)


def run_key_claim(tags: Mapping[str, str]) -> dict[str, str] | None:
    """The tags that identify a first run of a run key (None when the run makes no such claim)."""
    if RUN_KEY_TAG not in tags or PARENT_RUN_ID_TAG in tags:
        return None
    instigator = next((key for key in _INSTIGATOR_TAGS if key in tags), None)
    if instigator is None:
        return None
    claim = {RUN_KEY_TAG: tags[RUN_KEY_TAG], instigator: tags[instigator]}
    if REPOSITORY_LABEL_TAG in tags:
        claim[REPOSITORY_LABEL_TAG] = tags[REPOSITORY_LABEL_TAG]
    return claim


def existing_claimant(conn: Connection, claim: Mapping[str, str]) -> str | None:
    """The id of a stored first run (no parent) whose tags include all of ``claim``, or None."""
    query = select(RunsTable.c.run_id)
    for key, value in claim.items():
        tag = RunTagsTable.alias()
        query = query.where(
            exists().where(and_(tag.c.run_id == RunsTable.c.run_id, tag.c.key == key, tag.c.value == value))
        )
    parent = RunTagsTable.alias()
    query = query.where(
        ~exists().where(and_(parent.c.run_id == RunsTable.c.run_id, parent.c.key == PARENT_RUN_ID_TAG))
    )
    return conn.execute(query.limit(1)).scalar()


class AtomicRunCreation:
    """Run-storage mixin (before ``PostgresRunStorage`` in the bases): atomic, run-key-unique ``add_run``
    and atomic ``add_run_tags``."""

    def _core_add_run(self, col_values: dict[str, Any], tags: Mapping[str, str]) -> None:
        """Insert the run and its tags in one transaction, refusing a second first run of a run key."""
        run_id = col_values["run_id"]
        claim = run_key_claim(tags)
        with self.connect() as conn:  # type: ignore[attr-defined]  # the SQL run storage's connect()
            conn = conn.execution_options(
                isolation_level="READ COMMITTED"
            )  # the pool's default is AUTOCOMMIT
            with conn.begin():
                if claim is not None:
                    lock_key = "\x1f".join(f"{k}={v}" for k, v in sorted(claim.items()))
                    conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(lock_key, 0))))
                    holder = existing_claimant(conn, claim)
                    if holder is not None:
                        raise DagsterRunAlreadyExists(
                            f"run {holder} already exists for run key {claim[RUN_KEY_TAG]!r}; "
                            f"not creating {run_id}"
                        )
                try:
                    conn.execute(RunsTable.insert().values(**col_values))
                except db_exc.IntegrityError as error:
                    raise DagsterRunAlreadyExists from error
                if tags:
                    conn.execute(
                        RunTagsTable.insert(),
                        [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                    )

    def add_run_tags(self, run_id: str, new_tags: Mapping[str, str]) -> None:
        """Add or replace tags of a stored run: its body and its tag rows in one transaction."""
        with self.connect() as conn:  # type: ignore[attr-defined]  # the SQL run storage's connect()
            conn = conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                row = conn.execute(
                    select(RunsTable.c.run_body, RunsTable.c.status)
                    .where(RunsTable.c.run_id == run_id)
                    .with_for_update()
                ).first()
                if row is None:
                    raise DagsterRunNotFoundError(
                        f"Run {run_id} was not found in instance.", invalid_run_id=run_id
                    )
                run = deserialize_value(row.run_body, DagsterRun).with_status(DagsterRunStatus(row.status))
                tags = {**run.tags, **new_tags}
                conn.execute(
                    RunsTable.update()
                    .where(RunsTable.c.run_id == run_id)
                    .values(
                        run_body=serialize_value(run.with_tags(tags)),
                        partition=tags.get(PARTITION_NAME_TAG),
                        partition_set=tags.get(PARTITION_SET_TAG),
                        update_timestamp=get_current_datetime(),
                    )
                )
                if new_tags:
                    conn.execute(
                        RunTagsTable.delete().where(
                            and_(RunTagsTable.c.run_id == run_id, RunTagsTable.c.key.in_(list(new_tags)))
                        )
                    )
                    conn.execute(
                        RunTagsTable.insert(),
                        [{"run_id": run_id, "key": k, "value": v} for k, v in new_tags.items()],
                    )
