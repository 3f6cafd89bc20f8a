"""Login limits, job limits and logouts that hold across every web process.

`crate serve --workers N` runs N processes, and each used to count failed logins and
job posts in its own memory (so an address got N times the limit) and to remember a
logout only in the process that served it (so the same cookie still opened pages in
the other N-1). With REDIS_URL set (which `--workers` above 1 requires) the counts and
the logouts live in Redis, under `crate:`; without it there is one process, and its
memory is the whole truth.

If Redis stops answering, each process falls back to its own memory for
`BREAKER_SECONDS` at a time (logged once per spell) instead of waiting on Redis in
every request: pages keep working, limits become per process for that while, and
logouts made meanwhile hold in the process that served them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, TypeVar

from litestar import Litestar
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("crate.web")

T = TypeVar("T")

BREAKER_SECONDS: Final = 5.0
SHARED_REDIS_KEY: Final = "shared_redis"
KEY_PREFIX: Final = "crate:"

# Drop events older than the window, then by mode: "check" answers the wait when over
# the limit; "hit" does too, and otherwise counts one more event; "add" counts one
# whatever the count. Atomically, so two processes cannot both take the last free slot,
# and on Redis's own clock: a time read by the caller before its call could arrive after
# a later one's and make the wait longer than the window (or hosts' clocks could differ).
_HIT_SCRIPT: Final = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local window = tonumber(ARGV[1])
local mode = ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if mode ~= 'add' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
if mode ~= 'check' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
return false
"""


class SlidingWindowLimiter:
    """At most `limit` events per `window` seconds per key, in this process's memory."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._events: dict[Hashable, deque[float]] = {}

    def _recent(self, key: Hashable, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: Hashable) -> float | None:
        """Seconds until `key` may act again, or None when it may act now."""
        now = self._clock()
        events = self._recent(key, now)
        if events is None or len(events) < self.limit:
            return None
        return max(0.0, events[0] + self.window - now)

    def record(self, key: Hashable) -> None:
        """Count one event for `key` now."""
        now = self._clock()
        events = self._recent(key, now)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._evict(now)
            events = self._events[key] = deque()
        events.append(now)

    def hit(self, key: Hashable) -> float | None:
        """Count one event unless over the limit; return the wait when over it."""
        wait = self.retry_after(key)
        if wait is None:
            self.record(key)
        return wait

    def reset(self, key: Hashable) -> None:
        """Forget `key`'s events."""
        self._events.pop(key, None)

    def _evict(self, now: float) -> None:
        for key in list(self._events):
            self._recent(key, now)
        while len(self._events) >= self._max_keys:
            # Still full of active keys: forget the one that has been around longest.
            del self._events[next(iter(self._events))]


def _digest(value: str) -> str:
    """Keys never carry an address or a session id as such."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class SharedRedis:
    """The web process's Redis connection for shared limits and logouts."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        # Short timeouts: these calls sit in the path of every request.
        self._client: Redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._clock = clock
        self._down_until = 0.0
        self._hit = self._client.register_script(_HIT_SCRIPT)

    async def call(self, work: Callable[[Redis], Awaitable[T]]) -> tuple[bool, T | None]:
        """`(True, result)`, or `(False, None)` while Redis does not answer."""
        now = self._clock()
        if now < self._down_until:
            return False, None
        try:
            return True, await work(self._client)
        except (RedisError, OSError) as exc:
            self._down_until = now + BREAKER_SECONDS
            logger.warning(
                "Redis is not answering (%s): for the next %d s this process counts logins "
                "and job posts, and remembers logouts, on its own",
                type(exc).__name__,
                BREAKER_SECONDS,
            )
            return False, None

    async def hit(self, key: str, window: float, limit: int, mode: str) -> Any:
        """Run the sliding-window script in `mode` (see `_HIT_SCRIPT`)."""
        args: list[str | int] = [repr(window), limit, secrets.token_hex(8), mode]
        return await self._hit(keys=[key], args=args, client=self._client)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


class SharedLimiter:
    """At most `limit` events per `window` seconds per key, across all web processes.

    Redis sorted sets (one per key, expiring with the window) when `redis` is given,
    this process's `SlidingWindowLimiter` otherwise and whenever Redis does not answer.
    """

    def __init__(
        self,
        name: str,
        limit: int,
        window: float,
        *,
        redis: SharedRedis | None = None,
        local: SlidingWindowLimiter | None = None,
    ) -> None:
        self.name = name
        self.local = local or SlidingWindowLimiter(limit, window)
        self.limit = self.local.limit
        self.window = self.local.window
        self._redis = redis

    def _key(self, key: Hashable) -> str:
        return f"{KEY_PREFIX}limit:{self.name}:{_digest(str(key))}"

    async def _shared(self, key: Hashable, mode: str) -> tuple[bool, float | None]:
        """`(True, wait)` from Redis, or `(False, None)` when this process counts alone."""
        if self._redis is None:
            return False, None
        redis = self._redis
        answered, wait = await redis.call(
            lambda _: redis.hit(self._key(key), self.window, self.limit, mode)
        )
        if not answered:
            return False, None
        return True, None if wait is None else max(0.0, float(wait))

    async def retry_after(self, key: Hashable) -> float | None:
        """Seconds until `key` may act again, or None when it may act now."""
        shared, wait = await self._shared(key, "check")
        return wait if shared else self.local.retry_after(key)

    async def hit(self, key: Hashable) -> float | None:
        """Count one event unless over the limit; return the wait when over it."""
        shared, wait = await self._shared(key, "hit")
        return wait if shared else self.local.hit(key)

    async def record(self, key: Hashable) -> None:
        """Count one event for `key` now, over the limit or not."""
        shared, _ = await self._shared(key, "add")
        if not shared:
            self.local.record(key)

    async def reset(self, key: Hashable) -> None:
        """Forget `key`'s events."""
        self.local.reset(key)
        if self._redis is not None:
            name = self._key(key)
            await self._redis.call(lambda client: client.delete(name))


class SharedLogouts:
    """Sessions logged out before they expired, refused by every web process.

    The cookies themselves are stateless (signed), so a logout is a record kept until
    the cookie would have expired anyway: in Redis, and in this process's memory.
    """

    def __init__(self, redis: SharedRedis | None = None, *, max_local: int = 10_000) -> None:
        self._redis = redis
        self._max_local = max_local
        self._local: dict[str, int] = {}

    @staticmethod
    def _key(session_id: str) -> str:
        return f"{KEY_PREFIX}logout:{_digest(session_id)}"

    async def revoke(self, session_id: str, expires: int, now: float) -> None:
        """Refuse this session from now on (until it expires)."""
        if len(self._local) >= self._max_local:
            self._local = {k: v for k, v in self._local.items() if v > now}
            while len(self._local) >= self._max_local:
                del self._local[next(iter(self._local))]
        self._local[session_id] = expires
        ttl = int(expires - now) + 1
        if self._redis is not None and ttl > 0:
            name = self._key(session_id)
            await self._redis.call(lambda client: client.set(name, b"1", ex=ttl))

    async def is_revoked(self, session_id: str) -> bool:
        """True when any process logged this session out."""
        if session_id in self._local:
            return True
        if self._redis is None:
            return False
        name = self._key(session_id)
        _, found = await self._redis.call(lambda client: client.exists(name))
        return bool(found)


def shared_redis(app: Litestar) -> SharedRedis | None:
    """The app's SharedRedis (built by `create_app` when REDIS_URL is set), or None."""
    redis = app.state.get(SHARED_REDIS_KEY)
    return redis if isinstance(redis, SharedRedis) else None
