"""What every web process shares: sessions (Litestar's stores) and per-address limits
(the `limits` library), built once by `create_app` through `build_shared`.

* With REDIS_URL set (which `crate serve --workers` above 1 requires), sessions live in
  Redis under a digest of their id (reading Redis gives no usable cookie), and the limits
  are moving windows in Redis, so every process sees the same logins, logouts and counts.
* Without it there is one process: sessions are files under `<data>/sessions` (a restart
  logs nobody out) and the limits live in its memory.
* While Redis does not answer, each process uses its own memory instead for
  `BREAKER_SECONDS` at a time (logged once per spell): pages keep working, limits count
  per process, sessions made meanwhile hold in the process that made them, and a logout
  Redis missed is refused here and applied to Redis once it answers again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.settings import Settings

logger = logging.getLogger("crate.web")

T = TypeVar("T")

BREAKER_SECONDS: Final = 5.0
KEY_PREFIX: Final = "crate"
LOGIN_FAILURES_PER_MINUTE: Final = 5
JOBS_PER_MINUTE: Final = 30


def digest(value: str) -> str:
    """What Redis keys carry instead of an address or a session id."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Fallback:
    """Ask Redis, or this process's memory while Redis does not answer."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down_until = 0.0

    async def run(
        self,
        shared: Callable[[], Awaitable[T]] | None,
        local: Callable[[], Awaitable[T]],
    ) -> T:
        """`shared()` when there is a Redis and it answers, else `local()`."""
        now = self._clock()
        if shared is not None and now >= self._down_until:
            try:
                return await shared()
            except (RedisError, OSError) as exc:
                self._down_until = now + BREAKER_SECONDS
                logger.warning(
                    "Redis is not answering (%s): for the next %d s this process counts "
                    "logins and job posts, and keeps sessions, on its own",
                    type(exc).__name__,
                    BREAKER_SECONDS,
                )
        return await local()


@dataclass(frozen=True)
class Limit:
    """At most `item` events per address (a moving window), across all web processes."""

    item: RateLimitItem
    shared: MovingWindowRateLimiter | None
    local: MovingWindowRateLimiter
    fallback: Fallback

    async def _ask(
        self, work: Callable[[MovingWindowRateLimiter, str], Awaitable[T]], address: str
    ) -> T:
        key = digest(address)
        shared = self.shared

        async def ask_shared() -> T:
            assert shared is not None
            return await work(shared, key)

        return await self.fallback.run(
            ask_shared if shared is not None else None, lambda: work(self.local, key)
        )

    async def _wait(self, limiter: MovingWindowRateLimiter, key: str) -> float:
        stats = await limiter.get_window_stats(self.item, key)
        return max(0.0, stats.reset_time - time.time())

    async def wait(self, address: str) -> float | None:
        """Seconds until `address` may act again, or None when it may act now."""

        async def work(limiter: MovingWindowRateLimiter, key: str) -> float | None:
            return None if await limiter.test(self.item, key) else await self._wait(limiter, key)

        return await self._ask(work, address)

    async def hit(self, address: str) -> float | None:
        """Count one event unless over the limit; the wait when over it."""

        async def work(limiter: MovingWindowRateLimiter, key: str) -> float | None:
            return None if await limiter.hit(self.item, key) else await self._wait(limiter, key)

        return await self._ask(work, address)

    async def clear(self, address: str) -> None:
        """Forget `address`'s events."""
        await self._ask(lambda limiter, key: limiter.clear(self.item, key), address)


class SharedSessions(Store):
    """Sessions in Redis (keyed by a digest of the id); in this process's memory while
    Redis does not answer."""

    def __init__(self, redis: Redis, fallback: Fallback) -> None:
        self._redis = RedisStore(redis, namespace=f"{KEY_PREFIX}:session")
        self._local = MemoryStore()
        self._fallback = fallback
        # Logouts Redis did not hear of: refused here, and deleted there when it answers.
        self._unheard: set[str] = set()

    async def _shared(self, work: Callable[[], Awaitable[T]]) -> T:
        for key in list(self._unheard):
            await self._redis.delete(key)
            self._unheard.discard(key)
        return await work()

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        """The session's data (in Redis, else made here during an outage), renewed."""
        key = digest(key)
        if key in self._unheard:
            return None
        found = await self._fallback.run(
            lambda: self._shared(lambda: self._redis.get(key, renew_for)), _nothing
        )
        return found if found is not None else await self._local.get(key, renew_for)

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        """Keep the session's data."""
        key = digest(key)
        await self._fallback.run(
            lambda: self._shared(lambda: self._redis.set(key, value, expires_in)),
            lambda: self._local.set(key, value, expires_in),
        )

    async def delete(self, key: str) -> None:
        """End the session everywhere (here at once, in Redis as soon as it answers)."""
        key = digest(key)
        await self._local.delete(key)
        self._unheard.add(key)
        await self._fallback.run(lambda: self._shared(_nothing), _nothing)

    async def delete_all(self) -> None:
        """End every session."""
        self._unheard.clear()
        await self._local.delete_all()
        await self._fallback.run(lambda: self._shared(self._redis.delete_all), _nothing)

    async def exists(self, key: str) -> bool:
        """True when the session exists."""
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        """Seconds the session has left, or None."""
        key = digest(key)
        return await self._fallback.run(
            lambda: self._shared(lambda: self._redis.expires_in(key)),
            lambda: self._local.expires_in(key),
        )


async def _nothing() -> None:
    return None


class SessionFiles(FileStore):
    """Litestar's file store, making its directory with the first session (so an app
    nobody logs into leaves nothing on disk)."""

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        """Keep the session's data."""
        await self.path.mkdir(parents=True, exist_ok=True)
        await super().set(key, value, expires_in)


@dataclass(frozen=True)
class Shared:
    """The sessions store and the limits of one web process."""

    sessions: Store
    login_failures: Limit
    job_posts: Limit
    redis: Redis | None

    async def start(self) -> None:
        """Sweep the expired session files (without Redis: nobody else does)."""
        if isinstance(self.sessions, FileStore) and await self.sessions.path.is_dir():
            await self.sessions.delete_expired()

    async def close(self) -> None:
        """Close the Redis connections."""
        if self.redis is not None:
            await self.redis.aclose()


def build_shared(settings: Settings) -> Shared:
    """Redis-backed sessions and limits when REDIS_URL is set; files and memory otherwise."""
    fallback = Fallback()
    local = MovingWindowRateLimiter(MemoryStorage())
    redis: Redis | None = None
    shared: MovingWindowRateLimiter | None = None
    sessions: Store
    if settings.redis_url:
        # Short timeouts: these calls sit in the path of every request.
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)
        # The limits share the sessions' connection pool (`connection_pool` is a documented
        # option of limits' RedisStorage, outside its annotated option types).
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            key_prefix=f"{KEY_PREFIX}:limit",
        )
        shared = MovingWindowRateLimiter(storage)
        sessions = SharedSessions(redis, fallback)
    else:
        sessions = SessionFiles(settings.data_dir / "sessions")

    def limit(amount: int, name: str) -> Limit:
        return Limit(RateLimitItemPerMinute(amount, namespace=name), shared, local, fallback)

    return Shared(
        sessions=sessions,
        login_failures=limit(LOGIN_FAILURES_PER_MINUTE, "login"),
        job_posts=limit(JOBS_PER_MINUTE, "jobs"),
        redis=redis,
    )
