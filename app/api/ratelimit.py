"""A token bucket per API key (per process)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Allows ``rate`` requests a minute per key with bursts up to a minute's worth."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: int, rate_per_minute: int, cost: float = 1.0) -> float:
        """0 if allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        per_second = rate_per_minute / 60.0
        with self._lock:
            tokens, stamp = self._buckets.get(key_id, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - stamp) * per_second)
            if tokens >= cost:
                self._buckets[key_id] = (tokens - cost, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (cost - tokens) / per_second
