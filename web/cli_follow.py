"""`crate collect` / `crate enrich`: enqueue a job and follow it with a progress bar;
`crate jobs`: one line a job."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click

from services import db, jobs
from services.settings import Settings
from web.cli_support import fail, run_with_database


def run_job(settings: Settings, kind: str, params: dict[str, Any], *, wait: bool) -> None:
    """Enqueue a job; follow it when asked to, or when it runs in this very process."""
    from tasks import jobs as job_tasks
    from tasks.broker import create_broker

    in_process = not settings.redis_url

    async def work() -> int:
        broker = create_broker(settings)
        await broker.startup()
        try:
            try:
                task_id = await job_tasks.enqueue(broker, kind, params)
            except job_tasks.QueueUnavailable as exc:
                fail(str(exc))
            label = params.get("label", kind)
            click.echo(f"Job {task_id}: {label}")
            if not (wait or in_process):
                click.echo("Queued. `crate jobs` shows how it is going.")
                return 0
            finish = (lambda: finish_here(broker, task_id)) if in_process else None
            return await follow(broker, task_id, finish=finish)
        finally:
            await broker.shutdown()

    async def finish_here(broker: Any, task_id: str) -> None:
        """The job ran in this process: let what follows its ending (new tracks entering
        the search index) finish before the command exits and cuts it off. The run that
        ended the job is over once its result, a final snapshot, is stored."""
        from services import search_index

        pending = await search_index.pending()
        if pending:
            click.echo(f"Adding {pending:,} tracks to the search index…", err=True)
        backend = broker.result_backend
        # (Taskiq's in-memory broker keeps its running tasks in `_running_tasks`: when none
        # is left, nothing more will come.)
        while broker._running_tasks:
            if await backend.is_result_ready(task_id):
                result = await backend.get_result(task_id)
                value = result.return_value if isinstance(result.return_value, dict) else {}
                if result.is_err or value.get("state") in jobs.FINAL_STATES:
                    return
            await asyncio.sleep(0.05)

    sys.exit(run_with_database(settings, work, redis=not in_process))


async def follow(
    broker: Any, task_id: str, *, finish: Callable[[], Awaitable[None]] | None = None
) -> int:
    """Show a job's progress until it ends, then `finish` (when given) before saying how it
    ended; return the exit code (0 only when it succeeded)."""
    from redis.exceptions import RedisError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tasks import jobs as job_tasks

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        handle = bar.add_task("queued", total=None)
        last_line = ""
        said_away = ""
        while True:
            try:
                _, snapshot = await job_tasks.read_status(broker, task_id)
            except Exception as exc:
                if isinstance(exc, RedisError):
                    away = "Redis is"
                elif db.is_unavailable(exc):
                    away = "The database is"
                else:
                    raise
                if away != said_away:
                    click.echo(f"{away} not reachable; waiting for it.", err=True)
                said_away = away
                await asyncio.sleep(1.0)
                continue
            said_away = ""
            description = snapshot.state_word
            if snapshot.phase and snapshot.state in ("running", "waiting"):
                description += f" · {snapshot.phase}"
            if snapshot.state == "waiting" and snapshot.retry_at:
                description += f" until {snapshot.retry_at.astimezone():%H:%M:%S}"
            bar.update(
                handle, description=description, completed=snapshot.done, total=snapshot.total
            )
            if not console.is_terminal and description != last_line:
                click.echo(description, err=True)
                last_line = description
            if snapshot.state in jobs.FINAL_STATES:
                break
            await asyncio.sleep(0.25)
    if finish is not None:
        await finish()
    counts = snapshot.counts_in_words
    if snapshot.state == "succeeded":
        click.echo(f"Done{f' ({counts})' if counts else ''}.")
        return 0
    if snapshot.state == "cancelled":
        click.echo(f"Cancelled{f' (kept: {counts})' if counts else ''}.", err=True)
        return 1
    words = snapshot.in_words()  # "failed on page 2 of 3: 100 tracks kept. The reason"
    click.secho(words[:1].upper() + words[1:], fg="red", err=True)
    return 1


def describe_job(row: dict[str, Any]) -> str:
    """One line for `crate jobs`: when it was asked for, its name ("Label Sonar & Licht /
    Digital"), how it stands, as its badge says it, and its id (for `crate jobs cancel`)."""
    snapshot = jobs.snapshot_of(row)
    created = row["created_at"].astimezone().strftime("%Y-%m-%d %H:%M")
    return f"{created}  {jobs.job_name(row)}: {snapshot.in_words()}  [{row['task_id']}]"
