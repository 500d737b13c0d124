"""Housekeeping of the platform database, off the request path: void OIDC sign-in transactions,
expired or revoked sessions and outdated SSO group records are deleted every
``purge_interval_seconds`` by a task that runs for the life of the served gateway."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from klikkflow_pipelines.gateway.store import GatewayStore

log = logging.getLogger("klikkflow.gateway")


def purge_expired(store: GatewayStore, group_max_age: float, now: float | None = None) -> dict[str, int]:
    """Delete what can no longer serve (see :meth:`SigninStore.purge` and
    :meth:`GatewayStore.purge_sessions`); return how many rows of each kind went.

    Each delete is one statement: safe beside other gateways purging the same database."""
    now = time.time() if now is None else now
    purged = store.signin.purge(group_max_age, now)
    purged["sessions"] = store.purge_sessions(now)
    return purged


@asynccontextmanager
async def periodic_purge(store: GatewayStore, interval: float, group_max_age: float) -> AsyncIterator[None]:
    """While the context is open, run :func:`purge_expired` in a worker thread every ``interval``
    seconds (first right away; never when ``interval`` is 0 or less). A failed purge is logged and
    tried again next time."""

    async def loop() -> None:
        while True:
            try:
                purged = await anyio.to_thread.run_sync(purge_expired, store, group_max_age)
            except Exception:
                log.exception("purging expired sign-in state failed; trying again in %s s", interval)
            else:
                if any(purged.values()):
                    log.info("purged expired sign-in state: %s", purged)
            await anyio.sleep(interval)

    async with anyio.create_task_group() as tasks:
        if interval > 0:
            tasks.start_soon(loop)
        yield
        tasks.cancel_scope.cancel()
