"""Requests per client address and source: a token bucket each, so one flooding address gets 429 while
everyone else is served.

Two kinds, one interface (:class:`Limiter`):

* :class:`RateLimiter` keeps the buckets in this process. With several intake replicas behind one address
  each replica has its own buckets, so together they let through up to that many times the configured
  rate. Memory stays bounded: the least recently seen clients are forgotten first. Used from the intake's
  event loop only (one thread), so it needs no lock.
* :class:`SharedRateLimiter` keeps them in Redis (``hub serve intake --redis-url``), updated by one atomic
  script on Redis's clock, so every replica draws from the same bucket and together they let through the
  configured rate. If Redis does not answer, a replica falls back to its own buckets (and says so in
  ``/health`` and the log) until Redis answers again: the intake keeps accepting submissions; the limit is
  then per replica for that time.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from connectors.website.config import RateLimit
from hub.logs import get_logger

log = get_logger("hub.website.ratelimit")
MAX_CLIENTS = 50_000
REDIS_TIMEOUT = 0.25  # seconds: a request never waits longer than this for the shared bucket
REDIS_RETRY = 5.0  # seconds after a Redis failure during which the local buckets are used without asking


class Limiter(Protocol):
    async def allowed(self, source: str, client: str, limit: RateLimit) -> bool: ...

    async def describe(self, limits: Mapping[str, RateLimit]) -> dict[str, Any]:
        """The effective limit per source, for ``/health``."""
        ...


def _limits(limits: Mapping[str, RateLimit], scope: str) -> dict[str, Any]:
    return {name: {"per_minute": limit.per_minute, "burst": limit.burst, "per": "client address", "scope": scope}
            for name, limit in limits.items()}


class RateLimiter:
    """Token buckets in this process (see the module docstring)."""

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

    async def allowed(self, source: str, client: str, limit: RateLimit) -> bool:
        return self.allow(source, client, limit)

    async def describe(self, limits: Mapping[str, RateLimit]) -> dict[str, Any]:
        return {"shared": False, "note": "per replica: N intake replicas let through up to N times these",
                "sources": _limits(limits, "replica")}


#: one bucket in a Redis hash, refilled and drawn from atomically, on Redis's clock (replicas' clocks differ)
_BUCKET = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or t
tokens = math.min(burst, tokens + math.max(0, t - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return allowed
"""


class SharedRateLimiter:
    """Token buckets in Redis, shared by every intake replica of one hub (see the module docstring).

    ``namespace`` keeps two hubs on one Redis apart: replicas of one hub share its database, so the intake
    passes a digest of the hub database's address.
    """

    def __init__(self, redis_url: str, namespace: str, clock: Callable[[], float] = time.monotonic):
        self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT,
                                              socket_connect_timeout=REDIS_TIMEOUT)
        self._bucket = self._redis.register_script(_BUCKET)
        self._prefix = f"hub:ratelimit:{namespace}:"
        self._local = RateLimiter(clock)
        self._clock = clock
        self._failed_at: float | None = None  # when Redis last failed; None: it answers

    async def allowed(self, source: str, client: str, limit: RateLimit) -> bool:
        if self._failed_at is not None and self._clock() - self._failed_at < REDIS_RETRY:
            return self._local.allow(source, client, limit)
        refill = limit.burst * 60.0 / limit.per_minute  # seconds until an unused bucket is full again
        try:
            allowed = await self._bucket(keys=[f"{self._prefix}{source}:{client}"],
                                         args=[limit.per_minute / 60.0, limit.burst, int(refill * 1000) + 1000])
        except (RedisError, OSError) as exc:
            if self._failed_at is None:
                log.warning("rate limit: Redis does not answer, limiting per replica until it does",
                            error=type(exc).__name__)
            self._failed_at = self._clock()
            return self._local.allow(source, client, limit)
        if self._failed_at is not None:
            log.info("rate limit: Redis answers again, limits are shared")
            self._failed_at = None
        return bool(allowed)

    async def describe(self, limits: Mapping[str, RateLimit]) -> dict[str, Any]:
        try:
            await self._redis.ping()
        except (RedisError, OSError):
            return {"shared": False, "note": "Redis does not answer: per replica until it does",
                    "sources": _limits(limits, "replica")}
        return {"shared": True, "note": "shared by every intake replica (Redis)",
                "sources": _limits(limits, "all replicas")}


def namespace(hub_database: str) -> str:
    """A short digest naming one hub (its database address, without the password) in shared stores."""
    return hashlib.sha256(hub_database.encode("utf-8")).hexdigest()[:12]
