"""The job machinery every background job shares: enqueue, run, report, read status.

A job is a Taskiq task whose task id Crate creates itself. Before the task is
kicked, a `job` row (state `queued`) and a progress entry exist, so the status
route can tell "queued" from "never heard of it". While it runs, progress goes to
the result backend (what the badge polls) and, throttled, to the job row (what
/jobs shows after results expire). The task returns its final snapshot.

A run first claims its job in the row (services.jobs.claim) and every write it makes
checks that claim still holds; tasks.queue keeps the claims alive and re-queues jobs
nobody holds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

from redis.exceptions import RedisError
from taskiq import AsyncBroker, Context, TaskiqDepends
from taskiq.depends.progress_tracker import TaskProgress

from services import db, jobs
from services.beatport.wire import SharedTransport
from services.redaction import redact
from services.settings import Settings
from tasks import queue

logger = logging.getLogger("crate.jobs")

# How often a running job's row is written while progress streams to the result backend.
ROW_WRITE_INTERVAL = 1.0
# A cancel is looked up at most this often (between pages): a small job then reads its
# row once, not once more per page.
CANCEL_CHECK_INTERVAL = 0.5
# How long a running job waits for a database that went away before it gives up (its
# lease then lapses and a reconciler resumes it once the database is back).
DATABASE_PATIENCE = 300.0
# A run resumes after at most this many outages; then the error ends it (as failed).
OUTAGES_PER_RUN = 20


class QueueUnavailable(RuntimeError):
    """The job queue (Redis) could not take the job; the message says so in words."""


@dataclass(slots=True)
class JobContext:
    """What a job body gets: its id, parameters, settings and where to report progress."""

    task_id: str
    params: dict[str, Any]
    settings: Settings
    progress: ResultBackendProgress
    checkpoint: dict[str, Any] | None
    broker: AsyncBroker
    row_id: int | None = None  # the job row's primary key
    # A worker's pool of Beatport connections (None: each job opens its own).
    http_transport: SharedTransport | None = None
    # The run's claim on the job (services.jobs.claim): writes check it still holds it.
    claim: int | None = None


JobBody = Callable[[JobContext], Awaitable[jobs.Snapshot]]


class ResultBackendProgress:
    """Sends progress to the Taskiq result backend, and now and then to the job row."""

    def __init__(self, broker: AsyncBroker, task_id: str, claim: int | None = None) -> None:
        self._broker = broker
        self._task_id = task_id
        self.claim = claim
        self._row_written_at = 0.0
        self._row_state: str | None = None
        self._cancel_checked_at = -math.inf
        self.last = jobs.Snapshot(state="running")

    def cancel_checked(self) -> None:
        """The job row (and its cancel flag) was just read by someone else."""
        self._cancel_checked_at = time.monotonic()

    def row_written(self, state: str) -> None:
        """The job row was just saved with `state` by someone else (no need to again)."""
        self._row_written_at = time.monotonic()
        self._row_state = state

    async def update(self, snapshot: jobs.Snapshot, *, save_row: bool = False) -> None:
        """Publish the snapshot; write the row when asked, when the state changed or when a
        second passed."""
        self.last = snapshot
        moment = time.monotonic()
        if (
            save_row
            or snapshot.state != self._row_state
            or moment - self._row_written_at >= ROW_WRITE_INTERVAL
        ):
            # The row first: whoever sees a job ended (or started) on the badge then also
            # finds it so in the job row and on /jobs.
            await jobs.save_snapshot(self._task_id, snapshot, self.claim)
            self._row_written_at = moment
            self._row_state = snapshot.state
        try:
            await self._broker.result_backend.set_progress(
                self._task_id, TaskProgress(state=snapshot.state, meta=snapshot.to_json())
            )
        except (RedisError, OSError) as exc:
            # The row still records progress; the badge falls back to it.
            logger.warning("progress not published for %s: %s", self._task_id, exc)

    async def check_cancelled(self) -> None:
        """Raise JobCancelled when a user asked to stop, JobInterrupted when the worker is,
        LeaseLost when another run claimed the job."""
        if queue.STOPPING.is_set():
            raise jobs.JobInterrupted()
        if self._task_id in queue.LOST:
            raise jobs.LeaseLost(self._task_id)
        moment = time.monotonic()
        if moment - self._cancel_checked_at < CANCEL_CHECK_INTERVAL:
            return
        self._cancel_checked_at = moment
        cancel, claim = await jobs.held_by(self._task_id)
        if self.claim is not None and claim != self.claim:
            raise jobs.LeaseLost(self._task_id)
        if cancel:
            raise jobs.JobCancelled()

    async def checkpoint(self, value: dict[str, Any] | None) -> None:
        """Remember where the job is, for a redelivered run to resume from."""
        await jobs.save_checkpoint(self._task_id, value, self.claim)


def register_job(
    broker: AsyncBroker,
    kind: str,
    body: JobBody,
    *,
    after: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Make `body` runnable as job `kind` on `broker` (and in any worker importing this).

    `after` runs once the job has ended and its ending is recorded: upkeep the job's
    result does not wait for (it must not raise).
    """

    async def run_job(
        params: dict[str, Any], context: Annotated[Context, TaskiqDepends()]
    ) -> dict[str, Any]:
        result = await execute(context, body, params)
        if after is not None:
            await after()
        return result

    run_job.__name__ = f"job_{kind}"
    broker.register_task(run_job, task_name=kind)


async def execute(context: Context, body: JobBody, params: dict[str, Any]) -> dict[str, Any]:
    """Run one job body with bookkeeping; never raises for the job's own failures.

    The run first claims the job in its row (services.jobs.claim): a delivery of a job
    that ended, or that another live run holds, does nothing. When the database goes
    away mid-job the run waits for it and resumes from the job's checkpoint.
    """
    task_id = context.message.task_id
    settings: Settings = context.state.settings
    try:
        row = await jobs.get(task_id)
    except jobs.JobNotFound:
        # Kicked by something other than `enqueue` (the scheduler, a script): record it now.
        await jobs.create(task_id, context.message.task_name, params)
        row = await jobs.get(task_id)
    if row["state"] in jobs.FINAL_STATES:
        # A redelivery of a job that already ended: report, do not run twice.
        return jobs.snapshot_of(row).to_json()
    ttl = settings.job_idle_timeout
    claim = await jobs.claim(task_id, ttl)
    if claim is None:
        # Another live run holds this job (a duplicate delivery): leave it to that run.
        logger.info("job %s is running elsewhere; skipping this delivery", task_id)
        return jobs.snapshot_of(row).to_json()
    await queue.forget_queued(context.broker, task_id)
    queue.HELD[task_id] = claim
    run = _Run(
        context, body, params, settings, ResultBackendProgress(context.broker, task_id, claim)
    )
    try:
        result, resume_at = await run.through_outages(row)
        ended = result.get("state") in jobs.FINAL_STATES
    finally:
        queue.HELD.pop(task_id, None)
        queue.LOST.discard(task_id)
    if not ended:
        # (An ending's own write gave the claim up already.)
        try:
            await jobs.release(task_id, claim)
        except Exception as exc:  # noqa: BLE001  the lease lapses by itself
            logger.warning("could not release job %s: %s", task_id, db.describe_error(exc))
    if resume_at is not None:
        # Only now, with the claim given back: the next run must be able to take it.
        await queue.schedule_resume(
            context.broker, task_id, context.message.task_name, params, resume_at
        )
    return result


async def wait_for_database(patience: float) -> bool:
    """Wait (backing off up to 30 s between tries) until the database answers; False when
    it has not within `patience` seconds."""
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            await db.ping()
            return True
        except db.DatabaseError:
            pass
        if time.monotonic() + delay > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(30.0, delay * 2)


# What a run ends with: its final (or latest) snapshot, and when to run the job again.
Outcome = tuple[dict[str, Any], datetime | None]


@dataclass(slots=True)
class _Run:
    """One run of a job that holds its claim."""

    context: Context
    body: JobBody
    params: dict[str, Any]
    settings: Settings
    progress: ResultBackendProgress

    async def through_outages(self, row: dict[str, Any]) -> Outcome:
        """`once`, again from the job's checkpoint each time the database comes back after
        it went away; when it stays away, this run gives up and the job's lease lapses, so
        a reconciler resumes it once the database answers again."""
        task_id, progress = self.context.message.task_id, self.progress
        claim = progress.claim
        assert claim is not None
        for attempt in range(1, OUTAGES_PER_RUN + 1):
            try:
                return await self.once(row)
            except Exception as exc:
                if not db.is_unavailable(exc) or attempt == OUTAGES_PER_RUN:
                    raise
                logger.warning(
                    "job %s: the database went away (%s); waiting for it",
                    task_id,
                    db.describe_error(exc),
                )
            if not await wait_for_database(DATABASE_PATIENCE):
                logger.warning("job %s: the database stayed away; the job resumes later", task_id)
                return progress.last.to_json(), None
            try:
                if not await jobs.renew(task_id, claim, self.settings.job_idle_timeout):
                    logger.warning("job %s was taken over while the database was away", task_id)
                    return progress.last.to_json(), None
                row = await jobs.get(task_id)
            except Exception as exc:
                if not db.is_unavailable(exc):
                    raise
        raise AssertionError("unreachable")

    async def once(self, row: dict[str, Any]) -> Outcome:
        """The body of `execute`, once this run holds the job: the result, and when to run
        the job again (a wait, or a worker stopping), if it did not end."""
        context, settings, progress = self.context, self.settings, self.progress
        task_id = context.message.task_id
        try:
            await jobs.mark_started(row, progress.claim)
        except jobs.LeaseLost:
            return progress.last.to_json(), None
        progress.row_written("running")
        job = JobContext(
            task_id,
            self.params,
            settings,
            progress,
            row["checkpoint"],
            context.broker,
            int(row["id"]),
            getattr(context.state, "beatport_transport", None),
            progress.claim,
        )
        try:
            try:
                if row["cancel_requested"]:
                    raise jobs.JobCancelled()
                progress.cancel_checked()
                await progress.update(replace(progress.last, state="running", phase="starting"))
                final = await self.body(job)
            except jobs.JobDeferred as deferred:
                # Not an ending: record "waiting until …", then hand the job back to run later.
                waiting = replace(deferred.snapshot, state="waiting", retry_at=deferred.retry_at)
                await progress.update(waiting, save_row=True)
                return waiting.to_json(), deferred.retry_at
            except jobs.JobInterrupted:
                # This worker is shutting down: the page in hand is stored and checkpointed, so
                # queue the job again; another worker (or this one, restarted) resumes it.
                queued = replace(
                    progress.last, state="queued", phase="resuming after a worker stopped"
                )
                await progress.update(queued, save_row=True)
                return queued.to_json(), jobs.now()
            except jobs.JobCancelled:
                final = replace(progress.last, state="cancelled", phase="cancelled", retry_at=None)
            except jobs.JobFailed as exc:
                reason = redact(str(exc), settings.secrets())
                where = exc.snapshot or replace(progress.last, phase="")
                final = replace(where, state="failed", error=reason, retry_at=None)
            except jobs.LeaseLost:
                raise
            except Exception as exc:
                if db.is_unavailable(exc):
                    raise
                logger.exception("job %s (%s) crashed", task_id, context.message.task_name)
                reason = redact(
                    f"Unexpected error: {type(exc).__name__}: {exc}", settings.secrets()
                )
                final = replace(
                    progress.last, state="failed", phase="", error=reason, retry_at=None
                )
            await progress.update(final, save_row=True)
        except jobs.LeaseLost:
            # Another run claimed the job (this one stalled past its lease): it writes, not us.
            logger.warning("job %s was taken over by another run; this run stops", task_id)
            return progress.last.to_json(), None
        return final.to_json(), None


async def enqueue(broker: AsyncBroker, kind: str, params: dict[str, Any]) -> str:
    """Record a queued job and hand it to the broker; return its task id.

    Raises QueueUnavailable when the broker cannot take it; the job row then
    says failed, with that reason, so nothing silently disappears.
    """
    task_id = uuid.uuid4().hex
    await jobs.create(task_id, kind, params)
    try:
        await broker.result_backend.set_progress(
            task_id, TaskProgress(state="queued", meta=jobs.Snapshot().to_json())
        )
        await queue.kick(broker, task_id, kind, params, new=True)
    except (RedisError, OSError) as exc:
        reason = "The job queue (Redis) is not reachable, so the job could not be queued."
        await jobs.save_snapshot(task_id, jobs.Snapshot(state="failed", error=reason))
        raise QueueUnavailable(reason) from exc
    return task_id


async def read_status(broker: AsyncBroker, task_id: str) -> tuple[dict[str, Any], jobs.Snapshot]:
    """The job row and its freshest snapshot (result, else progress, else the row).

    Raises JobNotFound for ids Crate never issued.
    """
    row = await jobs.get(task_id)
    snapshot = jobs.snapshot_of(row)
    if snapshot.state in jobs.FINAL_STATES:
        return row, snapshot
    backend = broker.result_backend
    try:
        # Progress first: a job that waited and resumed under the same id has a stale
        # result from its earlier run, but its progress is always the newest word.
        progress = await backend.get_progress(task_id)
        if progress is not None and isinstance(progress.meta, dict):
            return row, jobs.Snapshot.from_json(progress.meta)
        if await backend.is_result_ready(task_id):
            result = await backend.get_result(task_id)
            if result.is_err:
                error = redact(str(result.error), [])
                return row, replace(snapshot, state="failed", error=error)
            if isinstance(result.return_value, dict):
                return row, jobs.Snapshot.from_json(result.return_value)
    except (RedisError, OSError) as exc:
        logger.warning("result backend unreachable while reading %s: %s", task_id, exc)
    except Exception:  # noqa: BLE001  an expired or unreadable result: the row is the record
        logger.debug("unreadable result for %s", task_id, exc_info=True)
    return row, snapshot
