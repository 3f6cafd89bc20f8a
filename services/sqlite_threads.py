"""SQLite connections kept open on threads of their own: a few readers and one writer.

Piccolo opens a connection (and a thread) per query, parses the schema again and starts
with a cold page cache: a page then costs twice as much, and a page of tracks written
costs more in opening connections than in writing. These connections stay open for the
life of the database (`services.db.Database` owns them). While one stays open, SQLite
also does not checkpoint and sync the whole WAL each time Piccolo's last connection
closes, which cost more than the writing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

Statement = tuple[str, list[Any]]


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class Readers:
    """A few threads, each keeping its connection open from one page to the next."""

    def __init__(self, settings: Mapping[str, Any], threads: int = 4) -> None:
        # Piccolo's own settings (type converters, autocommit), so values read here are
        # exactly what Piccolo reads. Each connection is used by its own thread only;
        # `close` closes them all from the closing thread once those threads are gone.
        self._settings = {**settings, "check_same_thread": False}
        self._path = str(settings["database"])
        self._threads = threads
        self._guard = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._opened: set[sqlite3.Connection] = set()

    async def read(self, statements: list[Statement], *, tuples: bool = False) -> list[list[Any]]:
        """Each statement's rows (dicts, or tuples), all in one read transaction, so they
        all see the same library."""
        with self._guard:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self._threads, thread_name_prefix="crate-read"
                )
            executor = self._executor
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self._read, statements, tuples)

    def close(self) -> None:
        """Wait for the reads under way, then close every connection."""
        with self._guard:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._guard:
            opened, self._opened = self._opened, set()
        for connection in opened:
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        """This thread's open connection."""
        # A file replaced under the same name (a restored backup, say) needs a new one.
        inode = os.stat(self._path).st_ino
        kept: tuple[sqlite3.Connection, int] | None = getattr(self._local, "kept", None)
        if kept is not None and kept[1] != inode:
            self._forget(kept[0])
            kept = None
        if kept is None:
            connection = sqlite3.connect(**self._settings)
            connection.row_factory = _dict_row
            with self._guard:
                self._opened.add(connection)
            kept = self._local.kept = (connection, inode)
        return kept[0]

    def _forget(self, connection: sqlite3.Connection) -> None:
        self._local.kept = None
        with self._guard:
            self._opened.discard(connection)
        connection.close()

    def _read(self, statements: list[Statement], tuples: bool) -> list[list[Any]]:
        connection = self._connection()
        try:
            connection.execute("BEGIN")
            try:
                results = []
                for sql, args in statements:
                    cursor = connection.cursor()
                    if tuples:
                        cursor.row_factory = None
                    results.append(cursor.execute(sql, args).fetchall())
                return results
            finally:
                connection.execute("COMMIT")
        except sqlite3.Error:
            # Keep no connection in an unknown state; the next page opens a fresh one.
            self._forget(connection)
            raise


class Writer:
    """One connection and the one thread that uses it, running an event loop of its own.

    Each write transaction is a coroutine run on that loop, one after another (they queue
    on a lock there): its statements run on the connection directly, so the caller's event
    loop is free meanwhile (to fetch and parse the next page, say). A transaction must
    only await its own connection's work, or things of the writer's loop.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = dict(settings)
        self._guard = threading.Lock()
        self._thread: _WriterThread | None = None

    async def transaction(self, work: Callable[[sqlite3.Connection], Awaitable[T]]) -> T:
        """`work` in one write transaction (BEGIN IMMEDIATE), committed when it returns,
        rolled back when it raises."""
        with self._guard:
            if self._thread is None:
                self._thread = _WriterThread(self._settings)
            future = self._thread.submit(work)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Let the transactions already asked for finish, close the connection and stop
        the thread. A later transaction starts a new one."""
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()


class _WriterThread:
    """The writer's thread, its event loop, its connection and the queue for its turns."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._turns = asyncio.Lock()
        self._connection: sqlite3.Connection | None = None  # used on this thread only
        self._thread = threading.Thread(target=self._serve, name="crate-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(
        self, work: Callable[[sqlite3.Connection], Awaitable[T]]
    ) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(self._transaction(work), self._loop)

    def stop(self) -> None:
        async def last() -> None:
            async with self._turns:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(last(), self._loop)
        self._thread.join()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            # Piccolo's own settings (type converters, autocommit), so values read and
            # written here are exactly what Piccolo reads and writes.
            connection = sqlite3.connect(**self._settings)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA foreign_keys = 1")
            # The safety level can only be set outside a transaction, hence an own
            # connection. In WAL mode NORMAL keeps the database intact and loses, on power
            # loss only, the last commits (re-collected on the next run); FULL fsyncs each.
            connection.execute("PRAGMA synchronous = NORMAL")
            self._connection = connection
        return self._connection

    async def _transaction(self, work: Callable[[sqlite3.Connection], Awaitable[T]]) -> T:
        async with self._turns:
            connection = self._open()
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = await work(connection)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            return result
