"""Building the one Taskiq broker: in-memory without REDIS_URL, a Redis stream with it."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AsyncBroker, InMemoryBroker, TaskiqEvents, TaskiqState

from services import db
from services.beatport.wire import SharedTransport
from services.redaction import install_log_redaction, redact
from services.search_index import catch_up_quietly
from services.settings import Settings
from tasks.queue import STOPPING, housekeeping, watch_for_shutdown
from tasks.registry import register_all
from tasks.stream import CrateResultBackend, CrateStreamBroker

logger = logging.getLogger("crate.worker")

QUEUE_NAME = "crate"
RESULT_TTL_SECONDS = 7 * 24 * 3600
# A starting worker tries the database and Redis again after 1 s, 2 s, 4 s … at most 30 s.
FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.2


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
            quiet_engine_warnings()
            db.use(settings.database_url)
            watch_for_shutdown()
            # The database and Redis may not be up yet (or restarting): wait for them,
            # opening the pool on the way. SIGTERM meanwhile ends the process.
            if not await wait_for_services(
                settings, logger.warning, pool_size=settings.worker_db_pool_size
            ):
                raise SystemExit(0)
            state.database_open = True
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
            if getattr(state, "database_open", False):
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


def quiet_engine_warnings() -> None:
    """Piccolo's PostgreSQL engine warns in two lines when its version check finds the
    database away; Crate says so itself, in one."""
    warnings.filterwarnings("ignore", message=r".*Unable to (connect to database|fetch server)")
    version_logger = logging.getLogger("piccolo.engine.base")
    if not version_logger.filters:
        # "Running Postgres version 0.0": what the failed check logs next.
        version_logger.addFilter(lambda record: "version 0.0" not in record.getMessage())


def _hidden(settings: Settings, text: str) -> str:
    """`text` without a secret, nor a password from the database or Redis URL."""
    passwords = [
        urlsplit(url).password or "" for url in (settings.database_url, settings.redis_url) if url
    ]
    return redact(text, [*settings.secrets(), *passwords])


def database_unreachable(settings: Settings, exc: BaseException) -> str:
    """One line: the database (where, without its password) is not reachable, and why."""
    reason = exc.__cause__ if isinstance(exc, db.DatabaseError) and exc.__cause__ else exc
    return _hidden(
        settings,
        f"The database ({settings.database_url}) is not reachable: {db.describe_error(reason)}",
    )


def redis_unreachable(settings: Settings, exc: BaseException) -> str:
    """One line: Redis (where, without its password) is not reachable, and why."""
    return _hidden(
        settings, f"Redis ({settings.redis_url}) is not reachable: {db.describe_error(exc)}"
    )


async def ping_redis(url: str) -> None:
    """One PING on a connection of its own, without retries; raise when Redis does not answer."""
    client = Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


async def unreachable(settings: Settings, *, pool_size: int | None = None) -> str | None:
    """None when the database and (with REDIS_URL) Redis answer, else one line saying which
    does not, and why. With `pool_size`, the database's pool is opened on the way (and
    stays open); without, one query on a connection of its own."""
    try:
        if pool_size is None:
            await db.ping()
        else:
            await db.start_pool(pool_size)
    except Exception as exc:  # whatever the driver raised, the database did not answer
        return database_unreachable(settings, exc)
    if settings.redis_url:
        try:
            await ping_redis(settings.redis_url)
        except Exception as exc:  # Redis errors, refused connections, timeouts
            if pool_size is not None:
                await db.close_pool()
            return redis_unreachable(settings, exc)
    return None


async def wait_for_services(
    settings: Settings, say: Callable[[str], object], *, pool_size: int | None = None
) -> bool:
    """Wait until the database and (with REDIS_URL) Redis answer, saying so in one line per
    attempt, with a pause doubling from 1 s up to 30 s; True then. False when the process
    was asked to stop (SIGTERM, SIGINT) meanwhile."""
    for pause in retry_pauses():
        if STOPPING.is_set():
            break
        problem = await unreachable(settings, pool_size=pool_size)
        if problem is None:
            return True
        say(f"{problem.rstrip('.')}; next try in {pause:g} s")
        for _ in range(round(pause / STOP_CHECK_SECONDS)):
            if STOPPING.is_set():
                break
            await asyncio.sleep(STOP_CHECK_SECONDS)
    return False


def retry_pauses() -> Iterator[float]:
    """1 s, 2 s, 4 s … doubling up to 30 s, then 30 s for ever."""
    pause = FIRST_RETRY_SECONDS
    while True:
        yield pause
        pause = min(pause * 2, LONGEST_RETRY_SECONDS)
