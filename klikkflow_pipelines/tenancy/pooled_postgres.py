"""dagster-postgres storage with a connection pool, for the tenant daemons and run workers.

dagster-postgres opens a new PostgreSQL connection for every storage call
(``NullPool``; only the webserver gets a pool), and the run storage reflects the
``runs`` table's columns on several calls per run. Creating one run from a sensor
takes about a dozen storage calls, so a busy sensor daemon spends most of its
time connecting. ``PooledPostgresStorage`` is ``DagsterPostgresStorage`` with:

- a bounded ``QueuePool`` per storage (``pool_size`` kept open, up to
  ``max_overflow`` more under load), recycled after ``pool_recycle_seconds``,
  reset in a forked child, and pinged on checkout when it sat idle for
  ``PING_AFTER_IDLE_SECONDS`` (a dead one is replaced before use: a PostgreSQL
  restart costs no failed storage call, and a busy process pays no ping);
- the run storage's schema-feature and snapshot-existence checks cached once
  they hold (a column that exists does not disappear while the process runs,
  and snapshots are content-addressed and never deleted short of a wipe), so
  creating a run no longer reflects the schema or reads back the job and
  execution-plan snapshots it already stored.

Used from ``dagster.yaml``::

    storage:
      custom:
        module: klikkflow_pipelines.tenancy.pooled_postgres
        class: PooledPostgresStorage
        config:
          postgres_db: {hostname: ..., username: ..., password: {env: ...}, db_name: ...}
          pool_size: 8
          max_overflow: 8
"""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass
from functools import partial
from typing import Any

from dagster import Field, IntSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster._core.storage.event_log import EventLogStorage
from dagster._core.storage.runs import RunStorage
from dagster._core.storage.schedules import ScheduleStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from klikkflow_pipelines.tenancy.run_key_claim import AtomicRunCreation


@dataclass(frozen=True)
class PoolSettings:
    """Connection-pool sizing of one storage (per process)."""

    pool_size: int = 8
    max_overflow: int = 8
    pool_recycle_seconds: int = 3600

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PoolSettings:
        """The settings in a storage config block, defaults where absent."""
        defaults = cls()
        return cls(
            pool_size=config.get("pool_size", defaults.pool_size),
            max_overflow=config.get("max_overflow", defaults.max_overflow),
            pool_recycle_seconds=config.get("pool_recycle_seconds", defaults.pool_recycle_seconds),
        )


def pooled_config() -> UserConfigSchema:
    """dagster-postgres' storage config plus the pool fields."""
    defaults = PoolSettings()
    return {
        **pg_config(),
        "pool_size": Field(IntSource, is_required=False, default_value=defaults.pool_size),
        "max_overflow": Field(IntSource, is_required=False, default_value=defaults.max_overflow),
        "pool_recycle_seconds": Field(
            IntSource, is_required=False, default_value=defaults.pool_recycle_seconds
        ),
    }


PING_AFTER_IDLE_SECONDS = 10.0


def storage_config(postgres_url: str, pool: PoolSettings | None = None) -> dict[str, Any]:
    """The ``storage:`` block of a ``dagster.yaml`` that puts an instance on this storage."""
    pool = pool or PoolSettings()
    return {
        "custom": {
            "module": __name__,
            "class": PooledPostgresStorage.__name__,
            "config": {
                "postgres_url": postgres_url,
                "pool_size": pool.pool_size,
                "max_overflow": pool.max_overflow,
                "pool_recycle_seconds": pool.pool_recycle_seconds,
            },
        }
    }


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout if it was idle; a dead one is swapped for a new one."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:
            raise DisconnectionError("pooled connection is dead") from error  # the pool retries


def _use_pool(storage: Any, pool: PoolSettings) -> None:
    """Replace a dagster-postgres storage's NullPool engine with a bounded QueuePool."""
    engine = create_pg_engine(
        storage.postgres_url,
        storage._token_provider,
        isolation_level="AUTOCOMMIT",
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_recycle=pool.pool_recycle_seconds,
        pool_reset_on_return=None,  # AUTOCOMMIT: no transaction is left open to roll back
    )
    _ping_when_idle(engine)
    storage._engine.dispose()
    storage._engine = engine
    # A forked child (multiprocess executor) must not share the parent's sockets.
    ref = weakref.ref(engine)
    os.register_at_fork(after_in_child=lambda: (alive := ref()) is not None and alive.dispose(close=False))


class _PoolConfigured:
    """Storage config and construction shared by the pooled storages: pg_config plus pool fields."""

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        """Storage config: dagster-postgres' fields plus the pool fields."""
        return pooled_config()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]) -> Any:
        """Build from a validated ``dagster.yaml`` block."""
        return cls(
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
            token_provider=get_token_provider_from_config(config_value),
            pool=PoolSettings.from_config(config_value),
        )


class _PooledStorage(_PoolConfigured):
    """Builds a dagster-postgres storage (the next class in the MRO), then moves it onto a pool."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
        pool: PoolSettings = PoolSettings(),
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)  # type: ignore[call-arg]
        _use_pool(self, pool)


class PooledPostgresRunStorage(_PooledStorage, AtomicRunCreation, PostgresRunStorage):
    """``PostgresRunStorage`` on a connection pool, with cached schema and snapshot checks.

    Runs are created atomically, at most one per sensor/schedule run key (:mod:`.run_key_claim`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._known: set[str] = set()  # facts that stay true; consulted while the parent creates tables
        super().__init__(*args, **kwargs)

    def _feature(self, name: str, check: Any) -> bool:
        if name in self._known:
            return True
        present = bool(check())
        if present:
            self._known.add(name)
        return present

    def has_job_snapshot(self, job_snapshot_id: str) -> bool:
        """Whether the job snapshot is stored (cached once true)."""
        return self._feature(f"snapshot:{job_snapshot_id}", partial(self._has_snapshot_id, job_snapshot_id))

    def has_execution_plan_snapshot(self, execution_plan_snapshot_id: str) -> bool:
        """Whether the execution-plan snapshot is stored (cached once true)."""
        snapshot_id = execution_plan_snapshot_id
        return self._feature(f"snapshot:{snapshot_id}", partial(self._has_snapshot_id, snapshot_id))

    def wipe(self) -> None:
        """Delete all run data, and forget what was cached about it."""
        super().wipe()
        self._known.clear()

    def has_run_stats_index_cols(self) -> bool:
        """Whether ``runs`` has start/end time columns (cached once true)."""
        return self._feature("run_stats", super().has_run_stats_index_cols)

    def has_bulk_actions_selector_cols(self) -> bool:
        """Whether ``bulk_actions`` has the selector column (cached once true)."""
        return self._feature("bulk_selector", super().has_bulk_actions_selector_cols)

    def has_backfill_id_column(self) -> bool:
        """Whether ``runs`` has the backfill id column (cached once true)."""
        return self._feature("backfill_id", super().has_backfill_id_column)

    def has_bulk_action_job_name_column(self) -> bool:
        """Whether ``bulk_actions`` has the job name column (cached once true)."""
        return self._feature("bulk_job_name", super().has_bulk_action_job_name_column)

    def has_backfill_tags_table(self) -> bool:
        """Whether the backfill tags table exists (cached once true)."""
        return self._feature("backfill_tags", super().has_backfill_tags_table)


class PooledPostgresEventLogStorage(_PooledStorage, PostgresEventLogStorage):
    """``PostgresEventLogStorage`` on a connection pool."""


class PooledPostgresScheduleStorage(_PooledStorage, PostgresScheduleStorage):
    """``PostgresScheduleStorage`` on a connection pool."""


class PooledPostgresStorage(_PoolConfigured, DagsterStorage, ConfigurableClass):
    """Run, event-log and schedule storage in one PostgreSQL database, each on a connection pool."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
        pool: PoolSettings = PoolSettings(),
    ) -> None:
        self.postgres_url = postgres_url
        self._inst_data = inst_data
        args = (postgres_url, should_autocreate_tables, None, token_provider, pool)
        self._run_storage = PooledPostgresRunStorage(*args)
        self._event_log_storage = PooledPostgresEventLogStorage(*args)
        self._schedule_storage = PooledPostgresScheduleStorage(*args)
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        """The ``dagster.yaml`` block this storage was built from."""
        return self._inst_data

    @property
    def event_log_storage(self) -> EventLogStorage:
        """The pooled event-log storage."""
        return self._event_log_storage

    @property
    def run_storage(self) -> RunStorage:
        """The pooled run storage."""
        return self._run_storage

    @property
    def schedule_storage(self) -> ScheduleStorage:
        """The pooled schedule storage."""
        return self._schedule_storage
