"""The one place the web app is built."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from redis.exceptions import RedisError
from taskiq import AsyncBroker

from services import db, search_index
from services.redaction import install_log_redaction
from services.settings import Settings
from tasks import queue as job_queue
from tasks.broker import create_broker
from tasks.schedules import run_in_process as run_schedules_in_process
from web import (
    auth,
    chart_pages,
    collect,
    crates,
    dashboard,
    dig,
    errors,
    health,
    schedules,
    security,
    spotify,
    status,
    templating,
    tracks,
)
from web.security import BrowserCSRFMiddleware
from web.shared import build_shared

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("crate.web")


def asset_dir(name: str) -> Path:
    """`templates` or `static`: inside web/ in an installed wheel, else beside web/."""
    packaged = Path(__file__).resolve().parent / name
    return packaged if packaged.is_dir() else ROOT / name


def provide_settings(state: State) -> Settings:
    """The app's settings."""
    settings: Settings = state.settings
    return settings


def provide_broker(state: State) -> AsyncBroker:
    """The app's Taskiq broker."""
    broker: AsyncBroker = state.broker
    return broker


def provide_gate(state: State) -> auth.Gate:
    """The app's login checks."""
    gate: auth.Gate = state.gate
    return gate


def create_app(settings: Settings | None = None, *, migrate: bool = False) -> Litestar:
    """Build the web app. Tests pass their own settings; `migrate` applies migrations on start."""
    settings = (settings or Settings.from_env()).with_secret_key()
    install_log_redaction(settings.secrets())
    db.use(settings.database_url)
    broker = create_broker(settings)
    # Sessions and the login and job limits, shared by all web processes (web.shared).
    shared = build_shared(settings)
    clients = security.ClientAddresses(settings.trusted_proxies)
    gate = auth.Gate(settings, shared.login_failures, clients)

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        if migrate:
            await db.migrate()
        else:
            await db.prepare()
        await db.start_pool(settings.db_pool_size)
        await shared.start()
        try:
            yield
        finally:
            await db.close_pool()
            with contextlib.suppress(RedisError, OSError):
                await shared.close()

    @asynccontextmanager
    async def task_broker(app: Litestar) -> AsyncIterator[None]:
        # Creates the Redis consumer group too, so jobs queued before a worker starts wait.
        # Redis being down must not keep the pages down: forms then answer 503 in words.
        try:
            await broker.startup()
        except (RedisError, OSError) as exc:
            logger.warning("job queue not reachable at start (%s); jobs wait for it", exc)
        scheduler_task: asyncio.Task[None] | None = None
        # Tracks a stopped process stored but did not index for search yet (SQLite).
        upkeep = asyncio.create_task(search_index.catch_up_quietly())
        if not settings.redis_url:
            # In-process jobs die with the process: pick up what the last one left open.
            recovered = await job_queue.recover_in_process(broker)
            if recovered:
                logger.info("resuming %d unfinished job(s)", recovered)
            # Embedded mode has no scheduler process: run the schedules from here.
            scheduler_task = asyncio.create_task(run_schedules_in_process(broker, settings))
        try:
            yield
        finally:
            upkeep.cancel()
            if scheduler_task is not None:
                scheduler_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await scheduler_task
            try:
                await broker.shutdown()
            except (RedisError, OSError) as exc:
                logger.warning("job queue not reachable at shutdown (%s)", exc)

    return Litestar(
        route_handlers=[
            dashboard.DashboardController,
            collect.CollectController,
            status.StatusController,
            health.HealthController,
            auth.LoginController,
            tracks.TrackController,
            tracks.LibraryController,
            dig.DigController,
            schedules.SchedulesController,
            spotify.SpotifyController,
            spotify.CrateSpotifyController,
            crates.CrateController,
            chart_pages.ChartController,
            create_static_files_router(path="/static", directories=[asset_dir("static")]),
        ],
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "broker": Provide(provide_broker, sync_to_thread=False),
            "gate": Provide(provide_gate, sync_to_thread=False),
        },
        state=State({"settings": settings, "broker": broker, "gate": gate}),
        stores={"sessions": shared.sessions},
        lifespan=[database, task_broker],
        template_config=TemplateConfig(
            directory=asset_dir("templates"),
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure,
        ),
        middleware=[
            # Outermost first: unusable input, the session, who is asking, how often, CSRF.
            DefineMiddleware(security.InputGuardMiddleware),
            auth.SessionConfig().middleware,
            DefineMiddleware(auth.AuthMiddleware, gate=gate),
            DefineMiddleware(
                security.JobRateLimitMiddleware, limit=shared.job_posts, clients=clients
            ),
            DefineMiddleware(
                BrowserCSRFMiddleware,
                config=CSRFConfig(
                    secret=settings.secret_key,
                    cookie_httponly=True,
                    exclude=["/healthz", "/readyz"],
                ),
            ),
        ],
        before_send=[security.add_security_headers],
        request_max_body_size=security.MAX_BODY_BYTES,
        openapi_config=security.openapi_config(),
        exception_handlers={
            auth.LoginRequired: auth.login_required,
            413: security.too_large,
            429: security.too_many_requests,
            HTTPException: errors.http_error,
            Exception: errors.unexpected_error,
        },
        plugins=[HTMXPlugin()],
        logging_config=None,
    )
