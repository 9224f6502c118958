"""Async limits for the openai engine: requests per minute and tokens per minute."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """A token bucket refilled at ``per_minute / 60`` per second, holding one second's worth
    (so a limit paces requests evenly rather than allowing a minute's burst at once).

    ``acquire(cost)`` waits until ``cost`` is available and takes it; ``charge(cost)`` takes
    more after the fact (completion tokens are known only when a response arrives), which may
    leave the bucket in debt and so delays later requests.
    """

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` units are free (at most a bucket's worth is ever asked)."""
        cost = min(cost, self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.level >= cost:
                    self.level -= cost
                    return
                await asyncio.sleep((cost - self.level) / self.rate)

    def charge(self, cost: float) -> None:
        """Take ``cost`` more units now (the bucket may go negative)."""
        self._refill()
        self.level -= cost
