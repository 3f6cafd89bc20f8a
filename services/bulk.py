"""Raw SQL on a write transaction's own connection, for batch work (`Database.write`).

Piccolo builds a Python object and a query string per row, which costs more than the
database work itself for thousands of rows; the driver's executemany and multi-row
VALUES do not. SQL is written with Piccolo's `{}` placeholders and compiled for the
engine by Piccolo's QueryString, so a `?` in the SQL (PostgreSQL's jsonb operator, say)
is just SQL. QueryString has no escape for a literal brace: pass such text as a value.
Compiling a 10,000-value statement takes milliseconds, so each statement is compiled once
per shape and reused.
"""

from __future__ import annotations

import functools
import sqlite3
from abc import ABC, abstractmethod
from string import Formatter
from typing import Any

import msgspec
from piccolo.querystring import QueryString


@functools.lru_cache(maxsize=512)
def compiled(template: str, engine_type: str, count: int) -> str:
    """`template` with its `count` `{}` placeholders written as the engine's parameters."""
    parsed = list(Formatter().parse(template))
    names = [name for _, name, _, _ in parsed if name is not None]
    if len(names) != count or any(names) or any(name is None for _, name, _, _ in parsed[:-1]):
        raise ValueError(f"SQL needs exactly {count} plain {{}} placeholders and no braces")
    statement: str = QueryString(template, *([None] * count)).compile_string(
        engine_type=engine_type
    )[0]
    return statement


@functools.lru_cache(maxsize=512)
def _values_template(head: str, tail: str, width: int, rows: int, returning: str) -> str:
    one = "(" + ", ".join(["{}"] * width) + ")"
    template = f"{head} VALUES {', '.join([one] * rows)} {tail}"
    return template + (f" RETURNING {returning}" if returning else "")


class Bulk(ABC):
    """One write transaction's connection: statements with `{}` placeholders, rows as dicts."""

    engine_type: str

    def sql(self, template: str, args: tuple[Any, ...] | list[Any]) -> str:
        """`template` compiled for this engine, for `args`."""
        return compiled(template, self.engine_type, len(args))

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement."""

    @abstractmethod
    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for each row."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows as dicts."""

    @abstractmethod
    async def select(self, columns: list[str], rest: str, *args: Any) -> list[dict[str, Any]]:
        """`SELECT columns rest` (a FROM and WHERE, no ORDER BY), rows as dicts. Columns
        must be text, numbers or NULL."""

    @abstractmethod
    def any_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        """A `column IN (…)` condition and its arguments. The column is a 4-byte integer,
        as every id here is."""

    @abstractmethod
    async def _insert_chunk(
        self, head: str, tail: str, chunk: list[tuple[Any, ...]], returning: list[str] | None
    ) -> list[dict[str, Any]]:
        """One multi-row insert; the rows written, when asked for and answered."""

    async def insert(
        self,
        head: str,
        rows: list[tuple[Any, ...]],
        tail: str = "",
        *,
        returning: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """`head VALUES (…), (…) tail` for many rows, in chunks.

        With `returning`, PostgreSQL also answers those columns of the rows it wrote,
        which saves reading them back; SQLite answers nothing (see SQLiteBulk), so
        callers look up what they miss.
        """
        written: list[dict[str, Any]] = []
        if not rows:
            return written
        width = len(rows[0])
        # Far below PostgreSQL's 32,767 parameters per statement (and SQLite's, 3.32+);
        # chunks of one size share one prepared statement.
        per_chunk = max(1, min(500, 30_000 // width))
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            written += await self._insert_chunk(head, tail, chunk, returning)
        return written

    def _values(
        self, head: str, tail: str, chunk: list[tuple[Any, ...]], returning: list[str] | None
    ) -> tuple[str, list[Any]]:
        width = len(chunk[0])
        template = _values_template(head, tail, width, len(chunk), ", ".join(returning or []))
        flat = [value for row in chunk for value in row]
        return compiled(template, self.engine_type, len(flat)), flat


class PostgresBulk(Bulk):
    """On an asyncpg connection: one round trip per statement or chunk."""

    engine_type = "postgres"

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def execute(self, sql: str, *args: Any) -> None:
        await self._connection.execute(self.sql(sql, args), *args)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            await self._connection.executemany(self.sql(sql, rows[0]), rows)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in await self._connection.fetch(self.sql(sql, args), *args)]

    async def select(self, columns: list[str], rest: str, *args: Any) -> list[dict[str, Any]]:
        return await self.fetch(f"SELECT {', '.join(columns)} {rest}", *args)

    def any_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        # One array parameter, so the statement is prepared once whatever the number of
        # values. Against a bigint array PostgreSQL would compare across types, one
        # element at a time, instead of hashing the array.
        return f"{column} = ANY({{}}::int[])", [values]

    async def _insert_chunk(
        self, head: str, tail: str, chunk: list[tuple[Any, ...]], returning: list[str] | None
    ) -> list[dict[str, Any]]:
        statement, flat = self._values(head, tail, chunk, returning)
        if returning:
            return [dict(row) for row in await self._connection.fetch(statement, *flat)]
        await self._connection.execute(statement, *flat)
        return []


class SQLiteBulk(Bulk):
    """On the writer thread's sqlite3 connection (services.sqlite_threads.Writer): the
    calls run there directly, so while a transaction runs, the caller's event loop is
    free (to fetch and parse the next page, say)."""

    engine_type = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *args: Any) -> None:
        self._connection.execute(self.sql(sql, args), args)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._connection.executemany(self.sql(sql, rows[0]), rows)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in self._connection.execute(self.sql(sql, args), args)]

    async def select(self, columns: list[str], rest: str, *args: Any) -> list[dict[str, Any]]:
        # The rows come back in one step, as one JSON array: stepping row by row hands
        # Python's lock back and forth for every row, and while the loop's thread parses
        # a page that wait is most of the query's time.
        sql = self.sql(f"SELECT json_group_array(json_array({', '.join(columns)})) {rest}", args)
        (packed,) = self._connection.execute(sql, args).fetchone()
        return [dict(zip(columns, row, strict=True)) for row in msgspec.json.decode(packed)]

    def any_of(self, column: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join(['{}'] * len(values))})", list(values)

    async def _insert_chunk(
        self, head: str, tail: str, chunk: list[tuple[Any, ...]], returning: list[str] | None
    ) -> list[dict[str, Any]]:
        # One statement step per chunk instead of one per row: the thread holds Python's
        # lock only to bind values and lets it go for the whole chunk's write, so parsing
        # on the other thread goes on (executemany hands the lock back and forth for
        # every row). No RETURNING: its rows would come one step each, the slow way.
        statement, flat = self._values(head, tail, chunk, None)
        self._connection.execute(statement, flat)
        return []
