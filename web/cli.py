"""The `crate` command line."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import sys
from pathlib import Path
from typing import TypeVar

import click

from services import db, jobs
from services.redaction import install_log_redaction
from services.settings import Settings
from web.cli_follow import describe_job, run_job
from web.cli_support import fail, in_words, load_settings, run_with_database

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


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

    from web.listening import accepts, when_accepting

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    check_exposure(host, settings)
    if workers > 1 and not settings.redis_url:
        fail("Several web processes need REDIS_URL: in-process jobs live in one process.")
    if accepts(host, port):
        fail(
            f"Another program already listens on port {port} of {host}: stop it, or choose "
            "another port with --port or CRATE_PORT."
        )

    async def migrate() -> None:
        if await db.pending_migrations():
            click.echo("Migrating the database…")
        await db.migrate()

    run_with_database(settings, migrate, migrated=False)
    click.echo("Database up to date.")
    # Said only once the server accepts connections: a script may connect when it reads it.
    address = (
        f"Crate on http://{host}:{port}/ (database: {settings.engine}, "
        f"jobs: {'Redis' if settings.redis_url else 'in-process'})"
    )
    when_accepting(host, port, lambda: click.echo(address))
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
        # Crate reads X-Forwarded-For itself, from CRATE_TRUSTED_PROXIES only.
        proxy_headers=False,
        timeout_graceful_shutdown=30,
    )


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, settings: Settings) -> None:
    """Refuse (exit 2) to serve other machines without a password."""
    if not is_loopback(host) and not settings.password:
        fail(
            f"Crate would listen on {host!r}, which other machines can reach, but "
            "CRATE_PASSWORD is not set, so anyone who can reach it could use Crate. "
            "Set CRATE_PASSWORD (in the environment or in .env) to require a login, and "
            "CRATE_API_TOKEN too if scripts use the JSON API; or listen on this machine only "
            "with --host 127.0.0.1.",
            2,
        )
    if settings.api_token and not settings.password:
        click.secho(
            "Note: CRATE_API_TOKEN is set but CRATE_PASSWORD is not, so Crate is open to "
            "anyone who can reach it and the token is not needed.",
            fg="yellow",
            err=True,
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
    wait_for_database_and_redis(settings)
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


def wait_for_database_and_redis(settings: Settings) -> None:
    """Before the worker starts: wait until the database and Redis answer, one line per try
    (each worker process waits again when it starts, so a restart finds them too)."""
    from tasks.broker import quiet_engine_warnings, wait_for_services

    async def wait() -> None:
        install_log_redaction(settings.secrets())
        quiet_engine_warnings()
        db.use(settings.database_url)
        await wait_for_services(settings, lambda line: click.echo(line, err=True))

    try:
        asyncio.run(wait())
    except KeyboardInterrupt:
        sys.exit(130)


@main.command()
def scheduler() -> None:
    """Run recurring collections from the Schedules page (exactly one, needs REDIS_URL)."""
    from taskiq.cli.scheduler.args import SchedulerArgs
    from taskiq.cli.scheduler.run import run_scheduler

    from tasks.broker import create_broker
    from tasks.schedules import build_scheduler

    settings = load_settings()
    if not settings.redis_url:
        fail("crate scheduler needs REDIS_URL. Without it, `crate serve` runs schedules itself.")

    async def nothing() -> None:
        return None

    # The database (migrated) and Redis answer, or one line says which does not.
    run_with_database(settings, nothing, redis=True)
    scheduler = build_scheduler(settings, create_broker(settings))
    args = SchedulerArgs(scheduler=scheduler, modules=[], update_interval=30, app_dir=str(ROOT))
    with contextlib.suppress(KeyboardInterrupt):
        in_words(settings, run_scheduler(args))


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = load_settings()
    output = run_with_database(settings, db.migrate, migrated=False)
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


@main.command()
@click.argument("url", required=False)
@click.option("--genre", help="A Beatport genre id, with --from and --to (API mode only).")
@click.option("--from", "date_from", help="First publish date, YYYY-MM-DD.")
@click.option("--to", "date_to", help="Last publish date, YYYY-MM-DD.")
@click.option("--max-pages", help="Stop after this many pages (default 100, at most 300).")
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar until it ends.")
def collect(
    url: str | None,
    genre: str | None,
    date_from: str | None,
    date_to: str | None,
    max_pages: str | None,
    wait: bool,
) -> None:
    """Collect a Beatport link (chart, top 100, release, track, label or artist tracks),
    or a genre's releases between two dates."""
    from services import genres
    from services.collect_request import parse_collect_request
    from services.errors import InvalidRequest
    from tasks.collection import COLLECT_KIND

    settings = load_settings()
    mode = settings.effective_beatport_mode
    known = None
    if genre and mode == "api" and not url:  # the genres Beatport has, from the library too

        async def read_genres() -> dict[int, str]:
            return genres.names(await genres.choices())

        known = run_with_database(settings, read_genres)
    try:
        request = parse_collect_request(
            url=url,
            genre=genre,
            date_from=date_from,
            date_to=date_to,
            max_pages=max_pages,
            mode=mode,
            genres=known,
        )
    except InvalidRequest as exc:
        words = " ".join(exc.errors.values())
        if known and "genre" in exc.errors:  # the list the form would show
            words += "\nGenres: " + ", ".join(f"{n} {name}" for n, name in sorted(known.items()))
        fail(words, 2)
    run_job(settings, COLLECT_KIND, request.to_params(), wait=wait)


@main.command()
@click.option("--limit", help="Match at most this many tracks.")
@click.option("--retry-not-found", is_flag=True, help="Also search tracks not found before.")
@click.option("--job", "job_task_id", help="Only the tracks this collection job saw.")
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar until it ends.")
def enrich(limit: str | None, retry_not_found: bool, job_task_id: str | None, wait: bool) -> None:
    """Match collected tracks to Spotify (needs SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET)."""
    from services.enrich_request import parse_enrich_request
    from services.errors import InvalidRequest
    from tasks.enrichment import ENRICH_KIND

    settings = load_settings()
    if not settings.spotify_configured:
        fail("Spotify is not configured: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET.", 2)
    try:
        request = parse_enrich_request(
            limit=limit, retry_not_found=retry_not_found, job_task_id=job_task_id
        )
    except InvalidRequest as exc:
        fail(" ".join(exc.errors.values()), 2)
    run_job(settings, ENRICH_KIND, request.to_params(), wait=wait)
