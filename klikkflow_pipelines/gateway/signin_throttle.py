"""Sign-in throttling per (account, source address) and per source address, in the platform database.

An account is never locked as a whole: that would let anyone who knows a user
name lock its owner out. Instead:

- per (account, source): ``free_failures`` failed passwords or codes are free,
  then each further attempt waits ``base_seconds`` doubling per failure up to
  ``max_seconds``; while it waits even the right password is not tried. A
  complete sign-in from that source resets it. The owner signing in from
  another address is not held off by a stranger's failures.
- per source (password spraying over many accounts): failures leak away at
  ``source_failures`` per ``max_seconds``; a source at the limit waits until one
  has leaked.

A source is an IPv4 address or an IPv6 /64 network (:func:`~klikkflow_pipelines.gateway.
forwarded.source_network`). Names that are not accounts are counted exactly like
accounts, so throttling tells nothing about which accounts exist. Keys are
SHA-256 hashes: no user name (sometimes a mistyped password) is stored. A try is counted as a failure
before it is checked and taken back once it passed, under a row lock: tries
sent at the same moment, also to gateway processes sharing the database, get
no further than the back-off allows, and every failure counts once.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, delete, select, update

from klikkflow_pipelines.gateway.forwarded import source_network
from klikkflow_pipelines.gateway.store import GatewayStore, sha256_hex, signin_throttle
from resources.sql_upsert import conflict_insert

Row = tuple[float, float, float]  # failures, blocked_until, updated_at

FORGET_SECONDS = 24 * 3600  # a key without failures for a day starts from zero


class SigninThrottle:
    """Failure counts and back-off for sign-in attempts."""

    def __init__(
        self,
        store: GatewayStore,
        free_failures: int = 5,
        max_seconds: float = 900.0,
        base_seconds: float = 30.0,
        source_failures: int | None = None,
    ) -> None:
        self.engine = store.engine
        self.free_failures = free_failures
        self.max_seconds = max_seconds
        self.base_seconds = min(base_seconds, max_seconds)
        self.source_failures = source_failures or 4 * free_failures
        self._leak_per_second = self.source_failures / max(max_seconds, 1.0)

    @staticmethod
    def _account_key(username: str, source: str) -> str:
        return sha256_hex(f"account\0{username}\0{source_network(source)}")

    @staticmethod
    def _source_key(source: str) -> str:
        return sha256_hex(f"source\0{source_network(source)}")

    def _leaked(self, failures: float, updated_at: float, now: float) -> float:
        return max(0.0, failures - max(0.0, now - updated_at) * self._leak_per_second)

    def _wait(self, account: Row, by_source: Row, now: float) -> float:
        """Seconds until the next try, from the account's back-off and the source's count."""
        wait = account[1] - now if account[2] >= now - FORGET_SECONDS else 0.0
        excess = self._leaked(by_source[0], by_source[2], now) - self.source_failures + 1
        return max(0.0, wait, excess / self._leak_per_second)

    def attempt(self, username: str, source: str, now: float | None = None) -> float:
        """Start one try of a password or code of ``username`` from ``source``: the seconds to wait
        (nothing counted), or 0 with the try already counted as a failure. Counting before the check
        runs, under a row lock, lets tries sent at the same moment (also to other gateway processes)
        pass only as far as the back-off allows; :meth:`passed` takes a good try back."""
        now = time.time() if now is None else now
        account, by_source = self._account_key(username, source), self._source_key(source)

        def account_step(failures: float, _blocked: float, updated_at: float) -> tuple[float, float]:
            failures = (0.0 if updated_at < now - FORGET_SECONDS else failures) + 1
            if failures < self.free_failures:
                return failures, 0.0
            exponent = min(int(failures) - self.free_failures, 32)
            return failures, now + min(self.max_seconds, self.base_seconds * 2**exponent)

        def source_step(failures: float, blocked: float, updated_at: float) -> tuple[float, float]:
            return self._leaked(failures, updated_at, now) + 1, blocked

        with self.engine.begin() as conn:
            rows = self._lock(conn, [account, by_source], now)
            wait = self._wait(rows[account], rows[by_source], now)
            if wait > 0:
                return wait
            self._put(conn, account, account_step(*rows[account]), now)
            self._put(conn, by_source, source_step(*rows[by_source]), now)
            self._forget(conn, now - FORGET_SECONDS)
        return 0.0

    def passed(self, username: str, source: str, complete: bool, now: float | None = None) -> None:
        """The try started by :meth:`attempt` was good: it no longer counts at the source (or signing in
        to one's own account would add to a spray count, and a success never resets it). At the
        account: a ``complete`` sign-in ends its back-off from that source; a password still awaiting
        its second factor only takes its own count back."""
        now = time.time() if now is None else now
        account, by_source = self._account_key(username, source), self._source_key(source)
        with self.engine.begin() as conn:
            rows = self._lock(conn, [account, by_source], now)
            failures, _blocked, updated_at = rows[account]
            self._put(conn, account, (0.0 if complete else max(0.0, failures - 1), 0.0), updated_at)
            failures, blocked, updated_at = rows[by_source]
            self._put(conn, by_source, (max(0.0, self._leaked(failures, updated_at, now) - 1), blocked), now)

    # the table -----------------------------------------------------------------
    def _lock(self, conn: Connection, keys: list[str], now: float) -> dict[str, Row]:
        """The rows of ``keys`` (created empty if missing), locked for this transaction, in key order
        (two processes locking the same keys never deadlock). The insert comes first: on SQLite it
        takes the write lock, on PostgreSQL it makes the rows exist to be locked."""
        insert = conflict_insert(self.engine, signin_throttle)
        for key in sorted(keys):
            conn.execute(
                insert.values(
                    key=key, failures=0.0, blocked_until=0.0, updated_at=now
                ).on_conflict_do_nothing()
            )
        rows = conn.execute(
            select(signin_throttle)
            .where(signin_throttle.c.key.in_(keys))
            .order_by(signin_throttle.c.key)
            .with_for_update()
        ).all()
        return {row.key: (row.failures, row.blocked_until, row.updated_at) for row in rows}

    @staticmethod
    def _put(conn: Connection, key: str, counts: tuple[float, float], updated_at: float) -> None:
        failures, blocked_until = counts
        conn.execute(
            update(signin_throttle)
            .where(signin_throttle.c.key == key)
            .values(failures=failures, blocked_until=blocked_until, updated_at=updated_at)
        )

    @staticmethod
    def _forget(conn: Connection, before: float) -> None:
        """Delete keys untouched since ``before`` (keys another process holds are left for later)."""
        stale = (
            select(signin_throttle.c.key)
            .where(signin_throttle.c.updated_at < before)
            .with_for_update(skip_locked=True)
        )
        conn.execute(delete(signin_throttle).where(signin_throttle.c.key.in_(stale)))
