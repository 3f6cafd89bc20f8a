"""Building the one Taskiq broker: in-memory without REDIS_URL, a Redis stream with it."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AsyncBroker, InMemoryBroker, TaskiqEvents, TaskiqState

from services import db
from services.beatport.wire import SharedTransport
from services.redaction import install_log_redaction
from services.search_index import catch_up_quietly
from services.settings import Settings
from tasks.queue import housekeeping, watch_for_shutdown
from tasks.registry import register_all
from tasks.stream import CrateResultBackend, CrateStreamBroker

QUEUE_NAME = "crate"
RESULT_TTL_SECONDS = 7 * 24 * 3600


def resilient_connections() -> dict[str, Any]:
    """Redis connection options: after a Redis restart, pooled connections are stale; a
    command on one is retried on a fresh connection instead of failing the request."""
    return {
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "socket_connect_timeout": 5,
        "health_check_interval": 15,
    }


def create_broker(settings: Settings) -> AsyncBroker:
    """The broker for these settings, with every Crate job registered on it."""
    broker: AsyncBroker
    if settings.redis_url:
        # Running jobs heartbeat their messages (tasks.stream), so the idle timeout only
        # has to outlast a silent worker, not the longest job.
        broker = CrateStreamBroker(
            settings.redis_url,
            queue_name=QUEUE_NAME,
            maxlen=10_000,
            idle_timeout=int(settings.job_idle_timeout * 1000),
            unacknowledged_lock_timeout=60,
            xread_count=1,
            xread_block=1000,
            **resilient_connections(),
        ).with_result_backend(
            CrateResultBackend(
                settings.redis_url,
                keep_results=True,
                result_ex_time=RESULT_TTL_SECONDS,
                **resilient_connections(),
            )
        )
    else:
        broker = InMemoryBroker(max_stored_results=1000)

    async def open_resources(state: TaskiqState) -> None:
        state.settings = settings
        if broker.is_worker_process:
            install_log_redaction(settings.secrets())
            db.use(settings.database_url)
            await db.start_pool()
            watch_for_shutdown()
            state.beatport_transport = SharedTransport()
            # Tracks a stopped worker stored but did not index for search yet (SQLite).
            state.upkeep = asyncio.create_task(catch_up_quietly())
        if broker.is_worker_process or isinstance(broker, InMemoryBroker):
            # Wherever jobs run: their claims renewed, jobs nobody holds queued again,
            # and on Redis heartbeats, reclaims and deferred jobs.
            state.release_loop = asyncio.create_task(housekeeping(broker, settings))

    async def close_resources(state: TaskiqState) -> None:
        loop_task = getattr(state, "release_loop", None)
        if loop_task is not None:
            loop_task.cancel()
        if broker.is_worker_process:
            upkeep = getattr(state, "upkeep", None)
            if upkeep is not None:
                upkeep.cancel()
            transport = getattr(state, "beatport_transport", None)
            if transport is not None:
                await transport.close()
            await db.close_pool()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, open_resources)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, close_resources)
    register_all(broker)
    return broker


async def ping(broker: AsyncBroker) -> None:
    """Raise when the broker's Redis does not answer (in-memory brokers always answer)."""
    if isinstance(broker, CrateStreamBroker):
        async with broker.client() as client:
            await client.ping()
