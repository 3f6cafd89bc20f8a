"""A job defined by the tests, to prove the job machinery without any real job's services."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import timedelta

import redis.asyncio
from taskiq import AsyncBroker

from services import jobs
from tasks.jobs import JobContext, register_job

KIND = "demo_job"


async def demo_job(job: JobContext) -> jobs.Snapshot:
    """Count to `steps`, one `delay` apart, resuming from its checkpoint; fail when told to."""
    params = job.params
    steps = int(params.get("steps", 3))
    if params.get("count_runs") and job.settings.redis_url:
        # Counted in Redis, so tests can see a job never runs twice across workers.
        client = redis.asyncio.Redis.from_url(job.settings.redis_url)
        async with client:
            await client.incr(f"demo:runs:{job.task_id}")
    delay = float(params.get("delay", 0.05))
    start = int((job.checkpoint or {}).get("step", 0))
    snapshot = jobs.Snapshot(state="running", phase="counting", done=start, total=steps)
    for step in range(start, steps):
        await job.progress.check_cancelled()
        if params.get("wait_at") == step:
            wait = float(params.get("wait_seconds", 1.0))
            until = jobs.now() + timedelta(seconds=wait)
            await job.progress.update(
                replace(snapshot, state="waiting", phase="for a rest", retry_at=until)
            )
            await asyncio.sleep(wait)
        await asyncio.sleep(delay)
        snapshot = replace(
            snapshot,
            state="running",
            retry_at=None,
            done=step + 1,
            counts={"ticks": step + 1},
        )
        await job.progress.update(snapshot)
        await job.progress.checkpoint({"step": step + 1})
    if params.get("fail"):
        raise jobs.JobFailed(str(params["fail"]))
    if params.get("crash"):
        raise RuntimeError(str(params["crash"]))
    # The phase names the process, so tests can see which worker ran the job.
    return replace(snapshot, state="succeeded", phase=f"done in process {os.getpid()}")


def register(broker: AsyncBroker) -> None:
    """Make the demo job runnable on `broker`."""
    register_job(broker, KIND, demo_job)
