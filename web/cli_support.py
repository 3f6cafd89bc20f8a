"""What every `crate` command shares: errors in words, settings, the database opened
(its absence, or Redis's, said in one line instead of a traceback)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, NoReturn, TypeVar

import click

from services import db
from services.redaction import install_log_redaction
from services.settings import Settings, SettingsError

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


class Unreachable(Exception):
    """The database or Redis did not answer; the message says which, and why."""


def in_words(settings: Settings, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; the database or Redis being away ends the command with one line saying
    which (never a traceback, never a password), exit code 1."""
    from redis.exceptions import RedisError

    from tasks.broker import database_unreachable, redis_unreachable

    try:
        return asyncio.run(work)
    except Unreachable as exc:
        fail(str(exc))
    except RedisError as exc:
        fail(redis_unreachable(settings, exc))
    except db.DatabaseError as exc:
        fail(str(exc))  # migrations missing or failed: the message says what to do
    except Exception as exc:
        if db.is_unavailable(exc):
            fail(database_unreachable(settings, exc))
        raise


def run_with_database(
    settings: Settings,
    work: Callable[[], Awaitable[T]],
    *,
    migrated: bool = True,
    redis: bool = False,
) -> T:
    """Run `work` with the configured database open (and, with `redis`, once Redis has
    answered); their absence becomes one line of words."""
    from tasks.broker import quiet_engine_warnings, unreachable

    async def main() -> T:
        install_log_redaction(settings.secrets())
        quiet_engine_warnings()
        db.use(settings.database_url)
        problem = await unreachable(
            replace(settings, redis_url=settings.redis_url if redis else None),
            pool_size=db.SMALL_POOL_SIZE,
        )
        if problem is not None:
            raise Unreachable(problem)
        try:
            if migrated:
                await db.ensure_migrated()
            return await work()
        finally:
            with contextlib.suppress(Exception):  # the database may have gone meanwhile
                await db.close_pool()

    return in_words(settings, main())
