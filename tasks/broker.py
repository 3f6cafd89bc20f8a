"""Building the one Taskiq broker: in-memory without REDIS_URL, a Redis stream with it."""

from __future__ import annotations

import asyncio

from taskiq import AsyncBroker, InMemoryBroker, TaskiqEvents, TaskiqState
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from services import db
from services.redaction import install_log_redaction
from services.settings import Settings

QUEUE_NAME = "crate"
# Longer than any job may legitimately run unacknowledged before another worker reclaims it.
IDLE_TIMEOUT_MS = 6 * 60 * 60 * 1000
RESULT_TTL_SECONDS = 7 * 24 * 3600


def create_broker(settings: Settings) -> AsyncBroker:
    """The broker for these settings, with every Crate job registered on it."""
    broker: AsyncBroker
    if settings.redis_url:
        broker = RedisStreamBroker(
            settings.redis_url,
            queue_name=QUEUE_NAME,
            maxlen=10_000,
            idle_timeout=IDLE_TIMEOUT_MS,
            unacknowledged_lock_timeout=60,
            xread_count=1,
        ).with_result_backend(
            RedisAsyncResultBackend(
                settings.redis_url, keep_results=True, result_ex_time=RESULT_TTL_SECONDS
            )
        )
    else:
        broker = InMemoryBroker(max_stored_results=1000)

    async def open_resources(state: TaskiqState) -> None:
        state.settings = settings
        if broker.is_worker_process:
            install_log_redaction(settings.secrets())
            db.activate(db.build_engine(settings.database_url))
            await db.start_pool()
            # Jobs that chose to wait (a long Spotify rate limit) come back from here.
            state.release_loop = asyncio.create_task(release_deferred_forever(broker))

    async def close_resources(state: TaskiqState) -> None:
        if broker.is_worker_process:
            loop_task = getattr(state, "release_loop", None)
            if loop_task is not None:
                loop_task.cancel()
            await db.close_pool()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, open_resources)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, close_resources)

    from tasks.jobs import release_deferred_forever
    from tasks.registry import register_all

    register_all(broker)
    return broker


async def ping(broker: AsyncBroker) -> None:
    """Raise when the broker's Redis does not answer (in-memory brokers always answer)."""
    if isinstance(broker, RedisStreamBroker):
        from redis.asyncio import Redis

        async with Redis(connection_pool=broker.connection_pool) as client:
            await client.ping()
