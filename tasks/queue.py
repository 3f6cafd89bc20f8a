"""Where jobs wait and who holds them: kicking a job to the broker, deferred jobs,
the claims this process holds, and the reconciler that re-queues jobs nobody holds.

The job row is the truth (services.jobs): Redis only carries messages. Every process
that runs jobs (a `crate worker`, or `crate serve` and the CLI in embedded mode) runs
`housekeeping`, which renews its claims and reconciles what others left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from services import db, jobs
from services.settings import Settings
from tasks.stream import TICK_TASK, CrateStreamBroker

logger = logging.getLogger("crate.jobs")

DEFERRED_KEY = "crate:deferred"
# Set while a job waits in the Redis stream; a job row that says queued without it was
# lost by Redis (a restart without persistence) and is queued again by `reconcile`.
QUEUED_PREFIX = "crate:queued:"
QUEUED_TTL_SECONDS = 30 * 24 * 3600


async def kick(
    broker: AsyncBroker, task_id: str, kind: str, params: dict[str, Any], *, new: bool = False
) -> None:
    """Send a job to the broker, and say so in its row (a `new` job's row, just created,
    says so already)."""
    if not new:
        await jobs.mark_kicked(task_id, state="queued")
    if isinstance(broker, CrateStreamBroker):
        await broker.client().set(QUEUED_PREFIX + task_id, 1, ex=QUEUED_TTL_SECONDS)
    kicker: AsyncKicker[Any, Any] = AsyncKicker(task_name=kind, broker=broker, labels={})
    await kicker.with_task_id(task_id).kiq(params)


async def forget_queued(broker: AsyncBroker, task_id: str) -> None:
    """The job left the queue (a run claimed it)."""
    if isinstance(broker, CrateStreamBroker):
        try:
            await broker.client().delete(QUEUED_PREFIX + task_id)
        except (RedisError, OSError) as exc:
            logger.warning("could not clear the queue mark of %s: %s", task_id, exc)


async def _still_queued(broker: AsyncBroker, task_id: str) -> bool:
    """True when the broker still holds the job's message (in-memory brokers: never lost
    while this process lives, but a re-queue of a job nobody runs does no harm)."""
    if isinstance(broker, CrateStreamBroker):
        return bool(await broker.client().exists(QUEUED_PREFIX + task_id))
    return False


async def schedule_resume(
    broker: AsyncBroker, task_id: str, kind: str, params: dict[str, Any], when: datetime
) -> None:
    """Run the job again at `when`: a Redis sorted set workers poll, or a timer in-process."""
    if when <= jobs.now():
        await kick(broker, task_id, kind, params)
        return
    if isinstance(broker, CrateStreamBroker):
        member = json.dumps({"task_id": task_id, "kind": kind, "params": params})
        await broker.client().zadd(DEFERRED_KEY, {member: when.timestamp()})
        return
    delay = max(0.0, (when - jobs.now()).total_seconds())
    loop = asyncio.get_running_loop()

    def fire() -> None:
        task = loop.create_task(kick(broker, task_id, kind, params))
        _background.add(task)
        task.add_done_callback(_background.discard)

    loop.call_later(delay, fire)


_background: set[asyncio.Task[None]] = set()


async def release_due(broker: AsyncBroker) -> int:
    """Kick every deferred job whose time has come; return how many (Redis brokers)."""
    if not isinstance(broker, CrateStreamBroker):
        return 0
    released = 0
    client = broker.client()
    due = await client.zrangebyscore(DEFERRED_KEY, "-inf", time.time(), start=0, num=20)
    for member in due:
        assert isinstance(member, (bytes, str))
        # Only the process whose ZREM removed the entry kicks it: no job runs twice.
        if await client.zrem(DEFERRED_KEY, member) != 1:
            continue
        entry = json.loads(member)
        await kick(broker, entry["task_id"], entry["kind"], entry["params"])
        released += 1
    return released


async def reconcile(broker: AsyncBroker, grace: float) -> int:
    """Queue again every job that should be moving but that nobody holds, `grace` seconds
    after it should have: queued jobs Redis lost, running jobs whose run is gone (its
    worker died after acknowledging, or the write of its ending failed), waiting jobs
    whose wake-up Redis forgot. A job some run holds is never touched, and of several
    reconcilers only one re-queues a job; a duplicate delivery would do nothing anyway.
    Returns how many jobs were queued again."""
    requeued = 0
    for row in await jobs.unheld(grace):
        task_id = row["task_id"]
        if task_id in HELD:
            continue
        if row["state"] == "queued" and await _still_queued(broker, task_id):
            continue
        if not await jobs.take_for_requeue(row):
            continue
        logger.info("job %s (%s) had nobody on it; queued again", task_id, row["state"])
        await kick(broker, task_id, row["kind"], row["params"])
        requeued += 1
    return requeued


# Jobs this process runs now (task id -> claim number), and those whose claim another
# run took (the run stops at its next check).
HELD: dict[str, int] = {}
LOST: set[str] = set()
STOPPING = threading.Event()


def watch_for_shutdown() -> None:
    """Note SIGTERM/SIGINT (then let Taskiq's own handler run), so jobs stop between pages."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(number: int, frame: Any, previous: Any = previous) -> None:
            STOPPING.set()
            if callable(previous):
                previous(number, frame)

        signal.signal(signum, handler)


async def housekeeping(broker: AsyncBroker, settings: Settings) -> None:
    """A job-running process's background loop: renew the claims of its jobs, reconcile
    jobs nobody holds, and on Redis heartbeat messages, nudge reclaims, wake deferred
    jobs. The database part and the Redis part fail separately: a Redis outage does not
    stop the claims from being renewed."""
    every = max(0.5, settings.job_idle_timeout / 4)
    ttl = settings.job_idle_timeout
    reconciled_at = time.monotonic()
    skipped = False
    while True:
        await renew_claims(ttl)
        if time.monotonic() - reconciled_at >= ttl / 2:
            reconciled_at = time.monotonic()
            try:
                await reconcile(broker, grace=ttl)
                skipped = False
            except Exception as exc:
                if not (isinstance(exc, RedisError) or db.is_unavailable(exc)):
                    raise
                if not skipped:
                    logger.warning("job reconciliation waits: %s", db.describe_error(exc))
                skipped = True
        if isinstance(broker, CrateStreamBroker):
            try:
                await broker.refresh_own_pending()
                if await broker.has_orphans():
                    # taskiq-redis reclaims only after a new message arrives: send one.
                    await AsyncKicker(task_name=TICK_TASK, broker=broker, labels={}).kiq()
                await release_due(broker)
            except (RedisError, OSError) as exc:
                logger.warning("worker housekeeping skipped a beat: %s", exc)
        await asyncio.sleep(every)


async def renew_claims(ttl: float) -> None:
    """Extend the lease of every job this process runs; note the ones another run took.
    While the database is away this says so once, not at every beat."""
    for task_id, claim in list(HELD.items()):
        try:
            if not await jobs.renew(task_id, claim, ttl):
                logger.warning("job %s was claimed by another run; stopping this one", task_id)
                LOST.add(task_id)
        except Exception as exc:
            if not db.is_unavailable(exc):
                raise
            if task_id not in _UNRENEWED:
                logger.warning("could not renew job %s: %s", task_id, db.describe_error(exc))
            _UNRENEWED.add(task_id)
        else:
            _UNRENEWED.discard(task_id)


_UNRENEWED: set[str] = set()


async def recover_in_process(broker: AsyncBroker) -> int:
    """After a restart of the embedded app, run again the jobs the last process left open."""
    count = 0
    for row in await jobs.unfinished():
        when = row["retry_at"] if row["state"] == "waiting" and row["retry_at"] else jobs.now()
        await schedule_resume(broker, row["task_id"], row["kind"], row["params"], when)
        count += 1
    return count
