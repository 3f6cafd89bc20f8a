"""Recurring collections: the schedule source the Taskiq scheduler reads, and the task it kicks."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from taskiq import (
    AsyncBroker,
    Context,
    ScheduledTask,
    ScheduleSource,
    TaskiqDepends,
    TaskiqScheduler,
)

from services import db, jobs, schedules
from services.errors import InvalidRequest
from services.settings import Settings
from tasks.collection import COLLECT_KIND
from tasks.jobs import QueueUnavailable, enqueue

logger = logging.getLogger("crate.schedules")

RUN_SCHEDULE_TASK = "crate_run_schedule"


class DatabaseScheduleSource(ScheduleSource):
    """Schedules as stored on the Schedules page (re-read every update interval)."""

    def __init__(self, settings: Settings, *, own_database: bool = True) -> None:
        self.settings = settings
        self.own_database = own_database

    async def startup(self) -> None:
        """Open the database when running as its own process."""
        if self.own_database:
            db.use(self.settings.database_url)
            await db.start_pool()

    async def shutdown(self) -> None:
        """Close the database pool."""
        if self.own_database:
            await db.close_pool()

    async def get_schedules(self) -> list[ScheduledTask]:
        """One cron task per enabled schedule, in the server's local time."""
        offset = datetime.now().astimezone().utcoffset()
        return [
            ScheduledTask(
                task_name=RUN_SCHEDULE_TASK,
                labels={},
                args=[int(row["id"])],
                kwargs={},
                cron=row["cron"],
                cron_offset=offset,
                schedule_id=f"crate-schedule-{row['id']}",
            )
            for row in await schedules.enabled()
        ]


async def run_schedule(
    schedule_id: int, context: Annotated[Context, TaskiqDepends()]
) -> str | None:
    """Start this period's collection of a schedule (once, and never over a running one)."""
    return await start_scheduled_collection(context.broker, schedule_id)


async def start_scheduled_collection(broker: AsyncBroker, schedule_id: int) -> str | None:
    """Claim the schedule's run and queue its collection; return the job's task id."""
    row = await schedules.claim(schedule_id, jobs.now())
    if row is None:
        logger.info(
            "schedule %s: not started (already ran this period, or still running)", schedule_id
        )
        return None
    try:
        request = schedules.collect_request(row["params"], jobs.now().astimezone().date())
    except InvalidRequest as exc:
        logger.warning("schedule %s cannot run: %s", schedule_id, exc)
        return None
    params: dict[str, Any] = {
        **request.to_params(),
        "then_enrich": bool(row["enrich_after"]),
        "schedule": schedule_id,
    }
    try:
        task_id = await enqueue(broker, COLLECT_KIND, params)
    except QueueUnavailable as exc:
        logger.warning("schedule %s: %s", schedule_id, exc)
        return None
    await schedules.record_run(schedule_id, task_id)
    return task_id


def build_scheduler(
    settings: Settings, broker: AsyncBroker, *, own_database: bool = True
) -> TaskiqScheduler:
    """The Taskiq scheduler over Crate's stored schedules, kicking jobs on `broker`."""
    source = DatabaseScheduleSource(settings, own_database=own_database)
    return TaskiqScheduler(broker, sources=[source])


async def run_in_process(broker: AsyncBroker, settings: Settings) -> None:
    """The scheduler loop inside `crate serve` (embedded mode, no separate process)."""
    from taskiq.cli.scheduler.args import SchedulerArgs
    from taskiq.cli.scheduler.run import run_scheduler

    scheduler = build_scheduler(settings, broker, own_database=False)
    args = SchedulerArgs(
        scheduler=scheduler, modules=[], configure_logging=False, update_interval=30
    )
    await run_scheduler(args)
