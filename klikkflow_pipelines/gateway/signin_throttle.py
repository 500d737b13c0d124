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

Names that are not accounts are counted exactly like accounts, so throttling
tells nothing about which accounts exist. Keys are SHA-256 hashes: no user
name (sometimes a mistyped password) is stored. Counts are updated under a row
lock, so gateway processes sharing the database count every failure once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, select, update

from klikkflow_pipelines.gateway.store import GatewayStore, dialect_insert, sha256_hex, signin_throttle

Step = Callable[[float, float, float], tuple[float, float]]  # (failures, blocked_until, updated_at) -> new

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
        return sha256_hex(f"account\0{username}\0{source}")

    @staticmethod
    def _source_key(source: str) -> str:
        return sha256_hex(f"source\0{source}")

    def _leaked(self, failures: float, updated_at: float, now: float) -> float:
        return max(0.0, failures - max(0.0, now - updated_at) * self._leak_per_second)

    def wait(self, username: str, source: str, now: float | None = None) -> float:
        """Seconds until ``source`` may try ``username`` again (0: now). Reads only."""
        now = time.time() if now is None else now
        wait = 0.0
        account = self._get(self._account_key(username, source))
        if account is not None and account[2] >= now - FORGET_SECONDS:
            wait = max(wait, account[1] - now)
        by_source = self._get(self._source_key(source))
        if by_source is not None:
            excess = self._leaked(by_source[0], by_source[2], now) - self.source_failures + 1
            wait = max(wait, excess / self._leak_per_second)
        return max(0.0, wait)

    def failed(self, username: str, source: str, now: float | None = None) -> None:
        """Count a failed password or code of ``username`` from ``source``."""
        now = time.time() if now is None else now

        def account_step(failures: float, _blocked: float, updated_at: float) -> tuple[float, float]:
            failures = (0.0 if updated_at < now - FORGET_SECONDS else failures) + 1
            if failures < self.free_failures:
                return failures, 0.0
            exponent = min(int(failures) - self.free_failures, 32)
            return failures, now + min(self.max_seconds, self.base_seconds * 2**exponent)

        def source_step(failures: float, blocked: float, updated_at: float) -> tuple[float, float]:
            return self._leaked(failures, updated_at, now) + 1, blocked

        forget = now - FORGET_SECONDS
        self._bump(self._account_key(username, source), now, account_step, forget)
        self._bump(self._source_key(source), now, source_step, forget)

    def succeeded(self, username: str, source: str) -> None:
        """A complete sign-in: that account's back-off from that source ends (the source's count stays,
        or signing in to one's own account would reset a spray)."""
        self._clear(self._account_key(username, source))

    # the table -----------------------------------------------------------------
    def _get(self, key: str) -> tuple[float, float, float] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(signin_throttle).where(signin_throttle.c.key == key)).first()
        return None if row is None else (row.failures, row.blocked_until, row.updated_at)

    def _bump(self, key: str, now: float, step: Step, forget_before: float) -> None:
        """Apply ``step`` to a key under a row lock (concurrent gateway processes never lose a count);
        delete keys untouched since ``forget_before``."""
        with self.engine.begin() as conn:
            conn.execute(
                dialect_insert(self.engine)(signin_throttle)
                .values(key=key, failures=0.0, blocked_until=0.0, updated_at=now)
                .on_conflict_do_nothing()
            )
            row = conn.execute(
                select(signin_throttle).where(signin_throttle.c.key == key).with_for_update()
            ).one()
            failures, blocked_until = step(row.failures, row.blocked_until, row.updated_at)
            conn.execute(
                update(signin_throttle)
                .where(signin_throttle.c.key == key)
                .values(failures=failures, blocked_until=blocked_until, updated_at=now)
            )
            stale = (
                select(signin_throttle.c.key)
                .where(signin_throttle.c.updated_at < forget_before)
                .with_for_update(skip_locked=True)  # keys another process holds are left for later
            )
            conn.execute(delete(signin_throttle).where(signin_throttle.c.key.in_(stale)))

    def _clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(signin_throttle).where(signin_throttle.c.key == key))
