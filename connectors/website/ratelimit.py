"""Requests per client address and source: a token bucket each, so one flooding address gets 429 while
everyone else is served. Memory stays bounded: the least recently seen clients are forgotten first.
Used from the intake's event loop only (one thread), so it needs no lock."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from connectors.website.config import RateLimit

MAX_CLIENTS = 50_000


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()  # -> (tokens, at)

    def allow(self, source: str, client: str, limit: RateLimit) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop((source, client), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.per_minute / 60.0)
        allowed = tokens >= 1.0
        self._buckets[(source, client)] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return allowed
