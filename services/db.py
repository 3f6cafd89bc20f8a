"""Database engines: building one from DATABASE_URL, migrating it, and writing safely."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import msgspec
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from services.tables import TABLES

T = TypeVar("T")

# Long enough that a writer waits out another writer's batch instead of failing.
SQLITE_BUSY_TIMEOUT = 30


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


def activate(engine: Engine) -> None:  # type: ignore[type-arg]
    """Point every table (and Piccolo's migration bookkeeping) at `engine`."""
    tables: list[type[Table]] = [*TABLES, Migration]
    for table in tables:
        table._meta.db = engine
    # Piccolo's migration runner looks the engine up in piccolo_conf by name.
    import piccolo_conf

    piccolo_conf.DB = engine


def current() -> Engine:  # type: ignore[type-arg]
    """The engine the tables use now."""
    engine: Engine = TABLES[0]._meta.db  # type: ignore[type-arg]
    return engine


def is_sqlite(engine: Engine | None = None) -> bool:  # type: ignore[type-arg]
    """True when the (current) engine is SQLite."""
    return (engine or current()).engine_type == "sqlite"


async def prepare(engine: Engine | None = None) -> None:  # type: ignore[type-arg]
    """Per-database settings that persist: WAL mode for SQLite, so reads run beside writes."""
    engine = engine or current()
    if is_sqlite(engine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")


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


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for writes: IMMEDIATE on SQLite so concurrent writers queue, not fail."""
    engine = current()
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
    elif isinstance(engine, PostgresEngine) and engine.pool is not None:
        # asyncpg's own pool and transaction: when the connection breaks mid-transaction
        # they still give it back to the pool. (Piccolo 1.38's transaction does not: a
        # failed rollback skips its release and leaves its context variable set, so the
        # task's later queries reuse the dead connection.)
        async with engine.pool.acquire() as connection, connection.transaction():
            yield _Connection(connection)
    else:
        async with engine.transaction() as tx:
            yield tx


class _Connection:
    """What `write_transaction` yields on PostgreSQL: the transaction's connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection


Runner = Callable[[Callable[[], Any]], Awaitable[Any]]


class Bulk:
    """Raw SQL on a write transaction's own connection, for batch work.

    Piccolo builds a Python object and a query string per row, which costs more than
    the database work itself for thousands of rows; executemany on the driver does
    not. SQL is written with `?` placeholders and translated for PostgreSQL.

    On PostgreSQL the connection is asyncpg's. On SQLite it is a plain sqlite3
    connection that lives on one thread, and `run` carries each call there; inside
    `BulkSession.run` the code already is on that thread, and `run` calls straight
    through, so its coroutines never wait.
    """

    def __init__(self, connection: Any, *, postgres: bool, run: Runner | None = None) -> None:
        self._connection = connection
        self._postgres = postgres
        self._run = run

    def _sql(self, sql: str) -> str:
        if not self._postgres:
            return sql
        parts = sql.split("?")
        return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))

    async def _sqlite(self, call: Callable[[], Any]) -> Any:
        assert self._run is not None
        return await self._run(call)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for each row."""
        if not rows:
            return
        if self._postgres:
            await self._connection.executemany(self._sql(sql), rows)
        else:
            await self._sqlite(functools.partial(self._connection.executemany, sql, rows))

    async def insert(
        self,
        head: str,
        rows: list[tuple[Any, ...]],
        tail: str = "",
        *,
        returning: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """`head VALUES (…), (…) tail` for many rows, in chunks.

        One round trip per chunk on PostgreSQL. On SQLite one statement step per chunk
        instead of one per row: the thread holds Python's lock only to bind values and
        lets it go for the whole chunk's write, so parsing on the other thread goes on
        (executemany hands the lock back and forth for every row).

        With `returning`, PostgreSQL also answers those columns of the rows it wrote,
        which saves reading them back; SQLite answers nothing (its RETURNING rows come
        one step each, the slow way above), so callers look up what they miss.
        """
        written: list[dict[str, Any]] = []
        if not rows:
            return written
        width = len(rows[0])
        one = "(" + ", ".join("?" * width) + ")"
        # Far below PostgreSQL's 32,767 parameters per statement (and SQLite's, 3.32+);
        # chunks of one size share one prepared statement.
        per_chunk = max(1, min(500, 30_000 // width))
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            values = ", ".join([one] * len(chunk))
            flat = [value for row in chunk for value in row]
            statement = f"{head} VALUES {values} {tail}"
            if self._postgres and returning:
                statement += f" RETURNING {', '.join(returning)}"
                written += await self.fetch(statement, *flat)
            elif self._postgres:
                await self._connection.execute(self._sql(statement), *flat)
            else:
                await self._sqlite(functools.partial(self._connection.execute, statement, flat))
        return written

    def any_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """A `column IN (…)` condition and its arguments (one array parameter on PostgreSQL,
        so the statement is prepared once whatever the number of values). The column is a
        4-byte integer, as every id here is: against a bigint array PostgreSQL compares
        across types, one element at a time, instead of hashing the array."""
        if self._postgres:
            return f"{column} = ANY(?::int[])", [values]
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement."""
        if self._postgres:
            await self._connection.execute(self._sql(sql), *args)
        else:
            await self._sqlite(functools.partial(self._connection.execute, sql, args))

    async def select(self, columns: list[str], rest: str, *args: Any) -> list[dict[str, Any]]:
        """`SELECT columns rest` (a FROM and WHERE, no ORDER BY), rows as dicts.

        On SQLite the rows come back in one step, as one JSON array: stepping row by row
        hands Python's lock back and forth for every row, and while the loop's thread
        parses a page that wait is most of the query's time. Columns must be text,
        numbers or NULL.
        """
        if self._postgres:
            return await self.fetch(f"SELECT {', '.join(columns)} {rest}", *args)
        connection = self._connection
        sql = f"SELECT json_group_array(json_array({', '.join(columns)})) {rest}"

        def fetch() -> list[dict[str, Any]]:
            (packed,) = connection.execute(sql, args).fetchone()
            return [dict(zip(columns, row, strict=True)) for row in msgspec.json.decode(packed)]

        rows: list[dict[str, Any]] = await self._sqlite(fetch)
        return rows

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows as dicts."""
        if self._postgres:
            return [dict(row) for row in await self._connection.fetch(self._sql(sql), *args)]
        connection = self._connection

        def fetch() -> list[dict[str, Any]]:
            return [dict(row) for row in connection.execute(sql, args).fetchall()]

        rows: list[dict[str, Any]] = await self._sqlite(fetch)
        return rows


_keepers: dict[str, sqlite3.Connection] = {}


def _keep_open(engine: SQLiteEngine) -> None:
    """Hold one idle connection to the SQLite file for the life of the process.

    Piccolo opens a connection per query. When the last connection to a WAL database
    closes, SQLite checkpoints and syncs the whole WAL; without a keeper that happened
    after every page written, and cost more than the writing.
    """
    path = str(engine.path)
    if path in _keepers:
        return
    keeper = sqlite3.connect(path, check_same_thread=False)
    keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    _keepers[path] = keeper


def release_keepers() -> None:
    """Close the idle SQLite connections (at shutdown)."""
    while _keepers:
        _keepers.popitem()[1].close()


class _SQLiteWriter:
    """A sqlite3 connection and the one thread that uses it."""

    def __init__(self, engine: SQLiteEngine) -> None:
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crate-sqlite")
        self.connection: sqlite3.Connection | None = None

    async def call(self, function: Callable[[], Any]) -> Any:
        """Run `function` on the connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function)

    def _open(self) -> None:
        # Piccolo's own settings (type converters, autocommit), so values read and
        # written here are exactly what Piccolo reads and writes.
        connection = sqlite3.connect(**self._engine.connection_kwargs)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = 1")
        # The safety level can only be set outside a transaction, hence an own
        # connection. In WAL mode NORMAL keeps the database intact and loses, on power
        # loss only, the last commits (re-collected on the next run); FULL fsyncs each.
        connection.execute("PRAGMA synchronous = NORMAL")
        self.connection = connection

    def _close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    async def open(self) -> None:
        await self.call(self._open)

    async def close(self) -> None:
        try:
            await self.call(self._close)
        finally:
            self._thread.shutdown(wait=False)


class BulkSession:
    """One connection for a run of bulk write transactions (a job's pages, say).

    On SQLite the connection is opened once, on a thread of its own: opening one per
    transaction cost as much as writing a page. On PostgreSQL each transaction takes a
    connection from the pool, as usual.
    """

    def __init__(self, writer: _SQLiteWriter | None = None) -> None:
        self._writer = writer

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Bulk]:
        """A write transaction (IMMEDIATE on SQLite) with raw bulk access."""
        writer = self._writer
        if writer is None:
            async with write_transaction() as transaction:
                yield Bulk(transaction.connection, postgres=True)
            return
        connection = writer.connection
        assert connection is not None
        await writer.call(functools.partial(connection.execute, "BEGIN IMMEDIATE"))
        try:
            yield Bulk(connection, postgres=False, run=writer.call)
        except BaseException:
            await writer.call(connection.rollback)
            raise
        await writer.call(connection.commit)

    async def run(self, work: Callable[[Bulk], Coroutine[Any, Any, T]]) -> T:
        """`work` in one write transaction. On SQLite all of it runs on the connection's
        thread in one go, so the event loop's thread is free meanwhile (to fetch and
        parse the next page, say); `work` must only await the Bulk it is given."""
        writer = self._writer
        if writer is None:
            async with self.transaction() as bulk:
                return await work(bulk)
        connection = writer.connection
        assert connection is not None

        async def direct(call: Callable[[], Any]) -> Any:
            return call()

        def whole() -> T:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result: T = _complete(work(Bulk(connection, postgres=False, run=direct)))
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            return result

        outcome: T = await writer.call(whole)
        return outcome


def _complete(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits (see `BulkSession.run`)."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    coroutine.close()
    raise RuntimeError("bulk work on SQLite waited for something other than its Bulk")


@contextlib.asynccontextmanager
async def bulk_session() -> AsyncIterator[BulkSession]:
    """A `BulkSession` on the current database."""
    engine = current()
    if not isinstance(engine, SQLiteEngine):
        yield BulkSession()
        return
    _keep_open(engine)
    writer = _SQLiteWriter(engine)
    try:
        await writer.open()
        yield BulkSession(writer)
    finally:
        await writer.close()


@contextlib.asynccontextmanager
async def bulk_transaction() -> AsyncIterator[Bulk]:
    """One write transaction with raw bulk access to its connection."""
    async with bulk_session() as session, session.transaction() as bulk:
        yield bulk


async def start_pool() -> None:
    """Open the connection pool (PostgreSQL only)."""
    engine = current()
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool()


async def close_pool() -> None:
    """Close the connection pool (PostgreSQL) and any idle SQLite keeper connections."""
    release_keepers()
    engine = current()
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


async def ping() -> None:
    """Run a trivial query; raise DatabaseError with the reason when that fails."""
    try:
        await current().run_ddl("SELECT 1")
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
        "ConnectionResetError",
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
