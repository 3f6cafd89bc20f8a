"""The `crate` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from services import db, jobs
from services.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error in words and exit non-zero."""
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def load_settings() -> Settings:
    """Settings from the environment, or a clear error."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        fail(str(exc), 2)


def run_with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the configured database open; database errors become messages."""

    async def main() -> T:
        db.activate(db.build_engine(settings.database_url))
        await db.start_pool()
        try:
            return await work()
        finally:
            await db.close_pool()

    try:
        return asyncio.run(main())
    except db.DatabaseError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"Database not reachable: {db.describe_error(exc)}")


@click.group()
def main() -> None:
    """Crate: collect Beatport tracks, match them to Spotify, dig through them fast."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default CRATE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default CRATE_PORT).")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, help="Web processes.")
def serve(host: str | None, port: int | None, reload: bool, workers: int) -> None:
    """Serve the web UI (and run jobs in-process when REDIS_URL is unset)."""
    import uvicorn

    settings = load_settings()
    if workers > 1 and not settings.redis_url:
        fail("Several web processes need REDIS_URL: in-process jobs live in one process.")
    output = run_with_database(settings, db.migrate)
    if "Running" in output:
        click.echo("Database migrated.")
    host = host or settings.host
    port = port or settings.port
    click.echo(
        f"Crate on http://{host}:{port}/ (database: {settings.engine}, "
        f"jobs: {'Redis' if settings.redis_url else 'in-process'})"
    )
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(ROOT / d) for d in ("web", "services", "tasks", "templates")]
        if reload
        else None,
        workers=None if reload else workers,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )


@main.command()
@click.argument("modules", nargs=-1)
@click.option("--processes", type=click.IntRange(1, 64), default=1, help="Worker processes.")
@click.option("--concurrency", type=click.IntRange(1, 100), default=2, help="Jobs per process.")
def worker(modules: tuple[str, ...], processes: int, concurrency: int) -> None:
    """Run a Taskiq worker for the Redis queue (needs REDIS_URL).

    MODULES are extra modules to import, for jobs defined outside Crate.
    """
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker

    settings = load_settings()
    if not settings.redis_url:
        fail("crate worker needs REDIS_URL. Without it, jobs run inside `crate serve`.")
    args = WorkerArgs.from_cli(
        [
            "tasks.worker:broker",
            *modules,
            "--app-dir",
            str(ROOT),
            "--workers",
            str(processes),
            "--max-async-tasks",
            str(concurrency),
            "--shutdown-timeout",
            "30",
            "--wait-tasks-timeout",
            "30",
        ]
    )
    sys.exit(run_worker(args) or 0)


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = load_settings()
    output = run_with_database(settings, db.migrate)
    click.echo(output.strip() or "Migrations applied.")


@main.group(invoke_without_command=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, help="How many to list.")
@click.pass_context
def jobs_command(ctx: click.Context, limit: int) -> None:
    """List recent jobs (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    rows = run_with_database(settings, lambda: jobs.recent(limit))
    if not rows:
        click.echo("No jobs yet.")
        return
    for row in rows:
        click.echo(describe_job(row))


main.add_command(jobs_command, name="jobs")


@jobs_command.command()
@click.argument("task_id")
def cancel(task_id: str) -> None:
    """Ask a queued or running job to stop."""
    settings = load_settings()

    async def work() -> bool:
        return await jobs.request_cancel(task_id)

    try:
        changed = run_with_database(settings, work)
    except jobs.JobNotFound:
        fail(f"No job has the id {task_id!r}. `crate jobs` lists them.")
    if changed:
        click.echo(f"Asked job {task_id} to stop; it ends after the current page.")
    else:
        click.echo(f"Job {task_id} had already ended; nothing to cancel.")


def describe_job(row: dict[str, Any]) -> str:
    """One line for `crate jobs`."""
    snapshot = jobs.snapshot_of(row)
    created = row["created_at"].astimezone().strftime("%Y-%m-%d %H:%M")
    text = f"{row['task_id']}  {created}  {row['kind']:<12} {snapshot.state}"
    if snapshot.total:
        text += f" {snapshot.done}/{snapshot.total}"
    if snapshot.counts:
        text += " (" + ", ".join(f"{v} {k}" for k, v in snapshot.counts.items()) + ")"
    if snapshot.error:
        text += f": {snapshot.error}"
    return text
