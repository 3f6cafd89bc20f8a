"""Database engines: building one from DATABASE_URL, migrating it, and writing safely."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from services.tables import TABLES

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
    else:
        async with engine.transaction() as tx:
            yield tx


class Bulk:
    """Raw SQL on a write transaction's own connection, for batch work.

    Piccolo builds a Python object and a query string per row, which costs more than
    the database work itself for thousands of rows; executemany on the driver does
    not. SQL is written with `?` placeholders and translated for PostgreSQL.
    """

    def __init__(self, transaction: Any) -> None:
        self._connection = transaction.connection
        self._postgres = not isinstance(transaction.engine, SQLiteEngine)

    def _sql(self, sql: str) -> str:
        if not self._postgres:
            return sql
        parts = sql.split("?")
        return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for each row."""
        if rows:
            await self._connection.executemany(self._sql(sql), rows)

    async def insert(self, head: str, rows: list[tuple[Any, ...]], tail: str = "") -> None:
        """`head VALUES (…), (…) tail` for many rows: one round trip per chunk on PostgreSQL.

        SQLite runs the single-row statement for each row (in-process, that is as fast).
        """
        if not rows:
            return
        width = len(rows[0])
        one = "(" + ", ".join("?" * width) + ")"
        if not self._postgres:
            await self._connection.executemany(f"{head} VALUES {one} {tail}", rows)
            return
        # Far below PostgreSQL's 32,767 parameters per statement.
        per_chunk = max(1, 30_000 // width)
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            values = ", ".join([one] * len(chunk))
            flat = [value for row in chunk for value in row]
            await self._connection.execute(self._sql(f"{head} VALUES {values} {tail}"), *flat)

    def any_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """A `column IN (…)` condition and its arguments (one array parameter on PostgreSQL,
        so the statement is prepared once whatever the number of values)."""
        if self._postgres:
            return f"{column} = ANY(?::bigint[])", [values]
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement."""
        if self._postgres:
            await self._connection.execute(self._sql(sql), *args)
        else:
            await self._connection.execute(sql, args)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows as dicts."""
        if self._postgres:
            return [dict(row) for row in await self._connection.fetch(self._sql(sql), *args)]
        async with self._connection.execute(sql, args) as cursor:
            rows = await cursor.fetchall()
        return [dict(row) for row in rows]


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


@dataclass(frozen=True, slots=True)
class _Connected:
    """A connection and its engine, shaped like a Piccolo transaction for Bulk."""

    connection: Any
    engine: Any


@contextlib.asynccontextmanager
async def bulk_transaction() -> AsyncIterator[Bulk]:
    """A write transaction with raw bulk access to its connection."""
    engine = current()
    if not isinstance(engine, SQLiteEngine):
        async with write_transaction() as transaction:
            yield Bulk(transaction)
        return
    _keep_open(engine)
    # SQLite: our own connection, because the safety level can only be set outside a
    # transaction. In WAL mode NORMAL keeps the database intact and loses, on power loss
    # only, the last commits (re-collected on the next run); FULL fsyncs every page.
    connection = await engine.get_connection()
    try:
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute("BEGIN IMMEDIATE")
        try:
            yield Bulk(_Connected(connection, engine))
        except BaseException:
            await connection.execute("ROLLBACK")
            raise
        await connection.execute("COMMIT")
    finally:
        await connection.close()


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
