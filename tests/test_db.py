"""The database layer on real databases: which database the process uses, and bulk writes
(placeholders compiled by Piccolo, one transaction at a time on SQLite's writer thread)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

from services import db
from services.bulk import Bulk, compiled
from services.tables import TABLES, Genre


async def genres(bulk: Bulk) -> int:
    rows = await bulk.fetch("SELECT COUNT(*) AS n FROM genre")
    return int(rows[0]["n"])


async def test_bulk_work_that_fails_is_rolled_back(database_url: str) -> None:
    async def fails(bulk: Bulk) -> None:
        await bulk.execute(
            "INSERT INTO genre (beatport_id, name, slug) VALUES ({}, {}, {})", 9, "x", "x"
        )
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError, match="half way"):
        await db.write(fails)
    assert await db.write(genres) == 0  # the insert was rolled back
    assert await Genre.count() == 0


async def test_sqlite_write_transactions_never_interleave(sqlite_url: str) -> None:
    """Work may wait (on the writer's own loop); the next transaction waits for it."""

    async def add_then_count(bulk: Bulk) -> int:
        number = await genres(bulk) + 1
        await bulk.execute(
            "INSERT INTO genre (beatport_id, name, slug) VALUES ({}, {}, {})",
            number,
            f"g{number}",
            f"g{number}",
        )
        await asyncio.sleep(0)  # another transaction's turn, if turns were not kept
        return await genres(bulk)

    seen = await asyncio.gather(*(db.write(add_then_count) for _ in range(5)))
    assert sorted(seen) == [1, 2, 3, 4, 5]
    assert await Genre.count() == 5


async def test_bulk_placeholders_leave_question_marks_alone(database_url: str) -> None:
    async def marks(bulk: Bulk) -> list[dict[str, object]]:
        return await bulk.fetch("SELECT '?' AS mark, CAST({} AS INTEGER) AS n", 7)

    assert await db.write(marks) == [{"mark": "?", "n": 7}]
    if db.is_sqlite():
        return

    async def has_key(bulk: Bulk) -> list[dict[str, object]]:
        # PostgreSQL's jsonb `?` operator between two parameters.
        return await bulk.fetch("SELECT CAST({} AS jsonb) ? {} AS has", '{"a": 1}', "a")

    assert await db.write(has_key) == [{"has": True}]


def test_bulk_sql_must_match_its_values() -> None:
    assert compiled("SELECT {}, {}", "postgres", 2) == "SELECT $1, $2"
    assert compiled("SELECT {}, {}", "sqlite", 2) == "SELECT ?, ?"
    for template, count in (("SELECT {}", 2), ("SELECT '{{}}', {}", 1), ("SELECT {x}", 1)):
        with pytest.raises(ValueError, match="placeholders"):
            compiled(template, "postgres", count)


async def test_use_moves_piccolo_and_the_migration_runner_along(
    sqlite_template: Path, tmp_path: Path
) -> None:
    urls = []
    for name in ("one", "two"):
        shutil.copyfile(sqlite_template, tmp_path / f"{name}.sqlite3")
        urls.append(f"sqlite:///{tmp_path / name}.sqlite3")
    first = db.use(urls[0])
    await Genre.insert(Genre(beatport_id=1, name="Techno", slug="techno"))
    second = db.use(urls[1])
    assert db.database() is second and db.engine() is second.engine
    assert engine_finder() is second.engine  # piccolo_conf.DB, as Piccolo finds it
    tables: list[type[Table]] = [*TABLES, Migration]
    assert all(table._meta.db is second.engine for table in tables)
    assert await Genre.count() == 0
    assert await db.pending_migrations() == []
    db.use(urls[0])
    assert await Genre.count() == 1
    assert first.engine is not db.engine()  # each `use` opens the database afresh
