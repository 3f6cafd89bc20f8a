"""The Redis stream broker, hardened for long jobs and many workers.

taskiq-redis delivers each job to one consumer of a group and keeps it pending until
acknowledged; a job pending longer than `idle_timeout` is reclaimed by another worker.
Three things are added here (who runs a job is decided in its database row, by
services.jobs.claim, not here):

* heartbeats: a worker keeps resetting the idle time of the messages it is working
  on, so `idle_timeout` can be short (a dead worker's job moves on within a minute)
  without a live but slow job being handed out twice;
* a nudge: taskiq-redis only reclaims after a *new* message arrives, so a worker that
  sees an orphaned message sends a no-op tick to trigger the reclaim;
* a listen loop that survives Redis restarts (it re-creates its consumer group).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from taskiq import AckableMessage, TaskiqResult
from taskiq.depends.progress_tracker import TaskProgress
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker
from taskiq_redis.redis_backend import PROGRESS_KEY_SUFFIX

logger = logging.getLogger("crate.worker")

TICK_TASK = "crate_tick"


class _OneRedisClient:
    """One Redis client per connection pool, for every call: redis-py builds a table of
    reply parsers for each new client, which cost more than a lease's round trip. (A
    client used as an async context manager leaves a pool it was given open.)"""

    _one_client: Redis | None = None

    def _client_on(self, pool: ConnectionPool) -> Redis:
        if self._one_client is None or self._one_client.connection_pool is not pool:
            self._one_client = Redis(connection_pool=pool)
        return self._one_client


class CrateStreamBroker(_OneRedisClient, RedisStreamBroker):
    """RedisStreamBroker with heartbeats, reclaim nudges and restart survival."""

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield messages; after a Redis outage or restart, wait and carry on."""
        while True:
            try:
                async for message in super().listen():
                    yield message
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis lost the stream or group (restarted without persistence).
                logger.warning("job queue group missing; creating it again")
                await self._recreate_group()
            except (RedisConnectionError, OSError) as exc:
                logger.warning("job queue not reachable (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)

    async def _recreate_group(self) -> None:
        # From the start of the stream, not "$": after a restart the web process may have
        # queued jobs before any worker noticed the group was gone, and those must run.
        try:
            async with self.client() as redis:
                await redis.xgroup_create(
                    self.queue_name, self.consumer_group_name, id="0", mkstream=True
                )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                logger.warning("could not create the job queue group: %s", exc)
        except (RedisError, OSError) as exc:
            logger.warning("could not create the job queue group: %s", exc)
            await asyncio.sleep(1)

    def client(self) -> Redis:
        """The broker's Redis client on its pool (see `_OneRedisClient`)."""
        return self._client_on(self.connection_pool)

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        """Acknowledge a message through the broker's one client (see `client`)."""

        async def ack() -> None:
            await self.client().xack(queue_name, self.consumer_group_name, id)

        return ack

    async def refresh_own_pending(self) -> int:
        """Reset the idle time of every message this worker holds; return how many."""
        async with self.client() as redis:
            pending: list[dict[str, Any]] = await redis.xpending_range(
                self.queue_name,
                self.consumer_group_name,
                min="-",
                max="+",
                count=100,
                consumername=self.consumer_name,
            )
            ids = [entry["message_id"] for entry in pending]
            if ids:
                await redis.xclaim(
                    self.queue_name,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=0,
                    message_ids=ids,
                    justid=True,
                )
        return len(ids)

    async def has_orphans(self) -> bool:
        """True when some message has been pending longer than the idle timeout."""
        async with self.client() as redis:
            stale = await redis.xpending_range(
                self.queue_name,
                self.consumer_group_name,
                min="-",
                max="+",
                count=1,
                idle=self.idle_timeout,
            )
        return bool(stale)


class CrateResultBackend(_OneRedisClient, RedisAsyncResultBackend):  # type: ignore[type-arg]
    """taskiq-redis's result backend, writing results and progress through one client
    (a job reports progress several times; a new client each time was most of the cost)."""

    def _client(self) -> Redis:
        return self._client_on(self.redis_pool)

    async def _write(self, name: str, value: bytes) -> None:
        if self.result_ex_time:
            await self._client().set(name=name, value=value, ex=self.result_ex_time)
        elif self.result_px_time:
            await self._client().set(name=name, value=value, px=self.result_px_time)
        else:
            await self._client().set(name=name, value=value)

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        """Store a job's result (as the parent class does)."""
        await self._write(
            self._task_name(task_id), self.serializer.dumpb(result.model_dump(mode="json"))
        )

    async def set_progress(self, task_id: str, progress: TaskProgress[Any]) -> None:
        """Store a job's progress (as the parent class does)."""
        name = self._task_name(task_id) + PROGRESS_KEY_SUFFIX
        await self._write(name, self.serializer.dumpb(progress.model_dump(mode="json")))
