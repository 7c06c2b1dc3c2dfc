"""Rate limits of partner API keys: each key's budget and its tenant's budget for all its keys,
checked and consumed together in one Redis round trip (docs/partners.md, Rate limits).

The algorithm is GCRA (the generic cell rate algorithm, a leaky bucket kept as one timestamp
per budget): a budget of N a minute lets a request through when its "theoretical arrival
time" is at most a minute ahead of now, and moves it on by 60/N s. A fresh budget allows a
burst of N, then N a minute. One Lua script, run with EVALSHA, reads both timestamps, lets the
request through only when both budgets allow it, and only then moves both on: two API
processes cannot both spend the last unit, and a request one budget refuses costs the other
nothing. Time is Redis's clock (`TIME`), so API processes with skewed clocks share one.

When Redis cannot be reached the limits fail open to an in-process limiter with the same
budgets (a warning in the log when it starts and an info line when Redis is back, and the
counter `caretrail_rate_limit_fallback_total`): a partner's read of a patient's record must
not fail because a counter store is down, and each process still holds every key to its limit
(N processes: at most N times the budget). Redis is tried again a second after a failure, not
on every request, so an outage costs no time per request.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

import structlog
from prometheus_client import CollectorRegistry, Counter
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from backend.auth.principal import RateLimits

log = structlog.get_logger("caretrail.rate_limits")

WINDOW_US = 60_000_000
"""Every limit is a number of requests a minute, in microseconds."""
TIMEOUT_SECONDS = 0.25
"""The longest a request waits for Redis before the in-process limiter decides."""
RETRY_SECONDS = 1.0
"""How long after a failure Redis is left alone (the in-process limiter decides meanwhile)."""
FALLBACK_BUDGETS = 10_000
"""Budgets the in-process limiter remembers, the least recently used forgotten first (a
forgotten budget starts full again: it errs towards letting requests through)."""

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[3])
local function bucket(name, limit)
  local interval = math.floor(window / limit)
  local tat = tonumber(redis.call('GET', name)) or now
  if tat < now then tat = now end
  return interval, tat
end
local ki, ktat = bucket(KEYS[1], tonumber(ARGV[1]))
local ti, ttat = bucket(KEYS[2], tonumber(ARGV[2]))
local wait = math.max(ktat + ki - window - now, ttat + ti - window - now, 0)
if wait == 0 then
  ktat = ktat + ki
  ttat = ttat + ti
  redis.call('SET', KEYS[1], ktat, 'PX', math.ceil((ktat - now) / 1000) + 1)
  redis.call('SET', KEYS[2], ttat, 'PX', math.ceil((ttat - now) / 1000) + 1)
end
return {wait, ktat - now, ttat - now}
"""
"""KEYS: the key's and the tenant's budgets; ARGV: their limits a minute, the window (µs).
Returns µs to wait (0: let through, both consumed) and how far ahead each budget is."""


@dataclass(frozen=True)
class Verdict:
    """What one request to a key was told: let through or not, and its budgets after it."""

    limits: RateLimits
    wait_us: int
    key_ahead_us: int
    tenant_ahead_us: int

    @property
    def allowed(self) -> bool:
        return self.wait_us == 0

    @property
    def spent(self) -> str:
        """Which budget refused the request: "key" when the key's own is spent, else "tenant"."""
        interval = WINDOW_US // self.limits.key_per_minute
        return "key" if self.key_ahead_us + interval > WINDOW_US else "tenant"

    @property
    def retry_after(self) -> int:
        """Whole seconds until the request would be let through (Retry-After)."""
        return max(1, math.ceil(self.wait_us / 1_000_000))

    def headers(self) -> list[tuple[bytes, bytes]]:
        """RateLimit-Policy and RateLimit as draft-ietf-httpapi-ratelimit-headers-08 has
        them: one policy for the key, one for its tenant, each with its remaining requests
        (`r`) and the seconds until it is full again (`t`)."""
        key, tenant = self.limits.key_per_minute, self.limits.tenant_per_minute
        policy = f'"key";q={key};w=60, "tenant";q={tenant};w=60'
        state = (
            f'"key";r={_remaining(key, self.key_ahead_us)};t={_seconds(self.key_ahead_us)}, '
            f'"tenant";r={_remaining(tenant, self.tenant_ahead_us)};'
            f"t={_seconds(self.tenant_ahead_us)}"
        )
        return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]


def _remaining(limit: int, ahead_us: int) -> int:
    """Requests a budget `ahead_us` ahead of now still allows at once."""
    interval = WINDOW_US // limit
    return max(0, min(limit, (WINDOW_US - ahead_us) // interval))


def _seconds(ahead_us: int) -> int:
    return math.ceil(ahead_us / 1_000_000)


class RateLimiter:
    def __init__(self, redis_url: str, registry: CollectorRegistry) -> None:
        self.redis = aioredis.Redis.from_url(
            redis_url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            # Once, at once: a pooled connection Redis closed (a restart) is replaced; the
            # client's default (10 tries, backing off) would hold requests for seconds.
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self.redis.register_script(_GCRA)
        self._fallback = _InProcess()
        self._redis_down_until: float | None = None
        self.fallbacks = Counter(
            "caretrail_rate_limit_fallback",
            "API key requests the in-process limiter decided because Redis could not be reached",
            registry=registry,
        )
        self.rejections = Counter(
            "caretrail_rate_limit_rejections",
            "API key requests refused 429 RATE_LIMITED, by the budget spent (key or tenant)",
            ["budget"],
            registry=registry,
        )

    async def take(self, tenant_id: UUID, key_id: UUID, limits: RateLimits) -> Verdict:
        """One request of `key_id`: both budgets consumed, or neither."""
        verdict = await self._take(tenant_id, key_id, limits)
        if not verdict.allowed:
            self.rejections.labels(verdict.spent).inc()
        return verdict

    async def _take(self, tenant_id: UUID, key_id: UUID, limits: RateLimits) -> Verdict:
        key = f"caretrail:rl:{{{tenant_id}}}:key:{key_id}"
        tenant = f"caretrail:rl:{{{tenant_id}}}:tenant"
        if self._redis_down_until is None or time.monotonic() >= self._redis_down_until:
            try:
                wait, key_ahead, tenant_ahead = await self._script(
                    keys=[key, tenant],
                    args=[limits.key_per_minute, limits.tenant_per_minute, WINDOW_US],
                )
            except (RedisError, OSError) as e:
                self._down(e)
            else:
                self._up()
                return Verdict(limits, int(wait), int(key_ahead), int(tenant_ahead))
        self.fallbacks.inc()
        return self._fallback.take(key, tenant, limits)

    async def take_one(self, budget: str, per_minute: int) -> Verdict:
        """One attempt against a single named budget (a patient's QR check-ins): the same
        script with the budget as both of its keys (read twice, then moved on once)."""
        limits = RateLimits(per_minute, per_minute)
        key = f"caretrail:rl:{{{budget}}}"
        if self._redis_down_until is None or time.monotonic() >= self._redis_down_until:
            try:
                wait, ahead, _ = await self._script(
                    keys=[key, key], args=[per_minute, per_minute, WINDOW_US]
                )
            except (RedisError, OSError) as e:
                self._down(e)
            else:
                self._up()
                return Verdict(limits, int(wait), int(ahead), int(ahead))
        self.fallbacks.inc()
        return self._fallback.take(key, key, limits)

    def _down(self, error: Exception) -> None:
        if self._redis_down_until is None:
            log.warning("rate_limit_redis_down", error=repr(error), fallback="in-process")
        self._redis_down_until = time.monotonic() + RETRY_SECONDS

    def _up(self) -> None:
        if self._redis_down_until is not None:
            log.info("rate_limit_redis_back")
            self._redis_down_until = None

    async def close(self) -> None:
        await self.redis.aclose()


class _InProcess:
    """The same GCRA in this process's memory, for while Redis is down."""

    def __init__(self) -> None:
        self._tats: OrderedDict[str, int] = OrderedDict()

    def take(self, key: str, tenant: str, limits: RateLimits) -> Verdict:
        now = time.monotonic_ns() // 1000
        ki, ktat = self._bucket(key, limits.key_per_minute, now)
        ti, ttat = self._bucket(tenant, limits.tenant_per_minute, now)
        wait = max(ktat + ki - WINDOW_US - now, ttat + ti - WINDOW_US - now, 0)
        if wait == 0:
            ktat, ttat = ktat + ki, ttat + ti
            self._keep(key, ktat)
            self._keep(tenant, ttat)
        return Verdict(limits, wait, ktat - now, ttat - now)

    def _bucket(self, name: str, limit: int, now: int) -> tuple[int, int]:
        return WINDOW_US // limit, max(self._tats.get(name, now), now)

    def _keep(self, name: str, tat: int) -> None:
        self._tats[name] = tat
        self._tats.move_to_end(name)
        while len(self._tats) > FALLBACK_BUDGETS:
            self._tats.popitem(last=False)
