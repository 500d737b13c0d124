"""Token-bucket rate limits keyed by user and by tenant."""

from __future__ import annotations

import math
import threading
import time


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens per second, at most ``burst`` stored.

    At most ``MAX_KEYS`` buckets are kept (keys can be client addresses, which an attacker has
    many of): past that, full buckets go (one is the same as none), then all but the most recently
    used half (such a key starts full again, as a new one would).
    """

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self.MAX_KEYS:
                self._prune(now)
            return 0.0 if allowed else (1.0 - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        """Drop full buckets, then (more than half remain) all but the most recent half. Under the lock."""
        self._buckets = {
            key: (tokens, last)
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate < self.burst
        }
        if len(self._buckets) > self.MAX_KEYS // 2:  # leave room: the next pruning is far off
            recent = sorted(self._buckets.items(), key=lambda item: item[1][1])[-self.MAX_KEYS // 2 :]
            self._buckets = dict(recent)


def retry_after_header(seconds: float) -> str:
    """The Retry-After value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))
