"""The database this process uses, and every connection to it: one `Database` object.

`use(url)` says which database the process uses (the web app, the worker, the CLI, tests
and benchmarks call it; without it, DATABASE_URL's). Piccolo finds that database's engine
as `piccolo_conf.DB` through its engine_finder, so the tables and the migration runner
use the same engine as the pages' reads and the jobs' bulk writes.

A `Database` owns its connections the way datasette's does. On PostgreSQL, Piccolo's
engine and its asyncpg pool serve everything. On SQLite, Piccolo's engine serves the
ORM, a few reader threads keep connections open for the pages' queries, and one writer
thread with one connection runs the bulk write transactions one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString
from piccolo.table import Table

from services.bulk import Bulk, PostgresBulk, SQLiteBulk
from services.settings import Settings
from services.sqlite_threads import Readers, Writer
from services.tables import TABLES

T = TypeVar("T")

# Long enough that a writer waits out another writer's batch instead of failing.
SQLITE_BUSY_TIMEOUT = 30
# SQLite: threads reading pages side by side.
SQLITE_READERS = 4
# PostgreSQL connections a process that needs few keeps: the scheduler, the commands.
# The web and worker processes pass theirs (settings.db_pool_size, worker_db_pool_size).
SMALL_POOL_SIZE = 2


class DatabaseError(RuntimeError):
    """The database could not be reached or migrated; the message says why."""


def build_engine(database_url: str) -> Engine:  # type: ignore[type-arg]
    """Build the Piccolo engine a `sqlite:///…` or `postgres://…` URL names."""
    if database_url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config={"dsn": database_url})
    path = Path(database_url.removeprefix("sqlite://").removeprefix("/") or "crate.sqlite3")
    if database_url.startswith("sqlite:////"):
        path = Path("/" + database_url.removeprefix("sqlite:////"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT)


class Database:
    """One database: its Piccolo engine, and the connections Crate keeps to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = build_engine(url)  # type: ignore[type-arg]
        self.engine_type: str = self.engine.engine_type
        self._readers: Readers | None = None
        self._writer: Writer | None = None
        if isinstance(self.engine, SQLiteEngine):
            settings = self.engine.connection_kwargs
            self._readers = Readers(settings, threads=SQLITE_READERS)
            self._writer = Writer(settings)

    @property
    def is_sqlite(self) -> bool:
        """True for an SQLite database."""
        return self.engine_type == "sqlite"

    async def start(self, pool_size: int = SMALL_POOL_SIZE) -> None:
        """Open the connection pool of `pool_size` connections, all opened now and never
        more (PostgreSQL; SQLite's threads start when first used)."""
        if isinstance(self.engine, PostgresEngine):
            await self.engine.start_connection_pool(min_size=pool_size, max_size=pool_size)

    async def close(self) -> None:
        """Close the pool (PostgreSQL) or the threads' connections (SQLite)."""
        if isinstance(self.engine, PostgresEngine):
            await self.engine.close_connection_pool()
        self.close_threads()

    def close_threads(self) -> None:
        """Close SQLite's reader and writer connections, once their work under way is
        done; they open again when next used."""
        if self._readers is not None:
            self._readers.close()
        if self._writer is not None:
            self._writer.close()

    async def read(self, *queries: QueryString) -> list[list[dict[str, Any]]]:
        """Run a page's queries and return each one's rows (as dicts), in order: in one read
        transaction on SQLite, side by side on PostgreSQL's pool."""
        if self._readers is not None:
            statements = [query.compile_string(engine_type="sqlite") for query in queries]
            return await self._readers.read(statements)
        results = await asyncio.gather(
            *(self.engine.run_querystring(query, in_pool=True) for query in queries)
        )
        return [[dict(row) for row in rows] for rows in results]

    async def read_tuples(self, query: QueryString) -> list[Sequence[Any]]:
        """One query's rows as plain tuples (cheaper by the hundred thousand)."""
        if self._readers is not None:
            statement = query.compile_string(engine_type="sqlite")
            return list((await self._readers.read([statement], tuples=True))[0])
        # asyncpg's records are tuples already.
        return list(await self.engine.run_querystring(query, in_pool=True))

    async def write(self, work: Callable[[Bulk], Awaitable[T]]) -> T:
        """`work` in one write transaction with raw bulk access (services.bulk), committed
        when it returns and rolled back when it raises.

        On SQLite the transaction runs on the writer thread, IMMEDIATE, after the ones
        asked for before it: `work` must only await the Bulk it is given. On PostgreSQL it
        runs here, on a connection from the pool.
        """
        if self._writer is not None:

            async def on_writer(connection: sqlite3.Connection) -> T:
                return await work(SQLiteBulk(connection))

            return await self._writer.transaction(on_writer)
        pool = getattr(self.engine, "pool", None)
        if pool is None:
            async with self.engine.transaction() as transaction:
                return await work(PostgresBulk(transaction.connection))
        # asyncpg's own pool and transaction: when the connection breaks mid-transaction
        # they still give it back. (Piccolo 1.38's transaction does not: a failed rollback
        # skips its release and leaves its context variable set, so the task's later
        # queries reuse the dead connection and hang.)
        async with pool.acquire() as connection, connection.transaction():
            return await work(PostgresBulk(connection))


_current: Database | None = None


def use(database_url: str) -> Database:
    """From now on this process uses the database at `database_url`; return it.

    The previous database's SQLite threads are closed (a PostgreSQL pool is closed by
    whoever started it, with `close_pool`), and Piccolo's tables look their engine up
    again, through piccolo_conf.DB.
    """
    global _current
    previous, _current = _current, Database(database_url)
    tables: list[type[Table]] = [*TABLES, Migration]
    for table in tables:
        table._meta.refresh_db()
    if previous is not None:
        previous.close_threads()
    return _current


def database() -> Database:
    """The database this process uses: the one `use` named, else DATABASE_URL's."""
    if _current is None:
        return use(Settings.from_env().database_url)
    return _current


def engine() -> Engine:  # type: ignore[type-arg]
    """The Piccolo engine of the database this process uses (what piccolo_conf.DB is)."""
    return database().engine


def is_sqlite() -> bool:
    """True when this process uses an SQLite database."""
    return database().is_sqlite


async def write(work: Callable[[Bulk], Awaitable[T]]) -> T:
    """`Database.write` on the database this process uses."""
    return await database().write(work)


async def start_pool(pool_size: int = SMALL_POOL_SIZE) -> None:
    """Open the connection pool of `pool_size` connections (PostgreSQL only)."""
    await database().start(pool_size)


async def close_pool() -> None:
    """Close the connection pool (PostgreSQL) or the kept connections (SQLite)."""
    await database().close()


async def prepare() -> None:
    """Per-database settings that persist: WAL mode for SQLite, so reads run beside writes."""
    if is_sqlite():
        await engine().run_ddl("PRAGMA journal_mode=WAL")


async def migrate() -> str:
    """Apply every migration not yet applied; return Piccolo's summary, raise on failure."""
    await prepare()
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            result = await run_forwards(app_name="all")
    except Exception as exc:  # Piccolo raises whatever the driver raised
        raise DatabaseError(f"Migrations failed: {describe_error(exc)}") from exc
    if not result.success:
        raise DatabaseError(f"Migrations failed: {result.message}")
    return output.getvalue()


async def pending_migrations() -> list[str]:
    """Ids of migrations not yet applied to the current database."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    from services.piccolo_app import APP_CONFIG

    manager = BaseMigrationManager()
    known = manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    try:
        applied = await Migration.get_migrations_which_ran(app_name=APP_CONFIG.app_name)
    except Exception:  # no migration table at all: nothing applied yet
        applied = []
    return sorted(set(known) - set(applied))


async def ensure_migrated() -> None:
    """SQLite (the embedded default) is migrated on use; PostgreSQL must be migrated first."""
    if is_sqlite():
        await migrate()
        return
    pending = await pending_migrations()
    if pending:
        raise DatabaseError(
            f"The database is missing {len(pending)} migration(s): run `crate migrate` first."
        )


async def ping() -> None:
    """Run a trivial query; raise DatabaseError with the reason when that fails."""
    try:
        await engine().run_ddl("SELECT 1")
    except Exception as exc:  # any driver error means "not reachable"
        raise DatabaseError(f"Database not reachable: {describe_error(exc)}") from exc


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry of the same transaction fixes (deadlocks, lock timeouts)."""
    name = type(exc).__name__
    if name in ("DeadlockDetectedError", "SerializationError", "LockNotAvailableError"):
        return True
    return name == "OperationalError" and "locked" in str(exc)


def describe_error(exc: BaseException) -> str:
    """A one-line description of a driver error, without connection strings."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# Errors that say the database is away (down, restarting, the connection cut), as
# opposed to errors in what was asked of it.
_UNAVAILABLE_NAMES: Final = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "PostgresConnectionError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
    }
)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database could not be reached. Only the error itself and
    the causes a driver error names are read: an OSError deep inside some other error
    (a failed Beatport download, say) is not the database's."""
    if isinstance(exc, (OSError, DatabaseError)):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        name = type(current).__name__
        if name in _UNAVAILABLE_NAMES:
            return True
        if name == "InterfaceError" and ("is closed" in text or "is closing" in text):
            return True
        if isinstance(current, sqlite3.OperationalError) and (
            "unable to open" in text or "disk I/O" in text
        ):
            return True
        current = current.__cause__
    return False
