"""Claims on rows of a walk, so that two jobs walking the same rows split them.

A job that walks the library (enrichment searching tracks on Spotify, say) claims the
next rows of its walk in the database before it works on them: it writes its job row's
id and an expiry time (Unix seconds) into the rows' claim columns. Another job's walk
skips rows someone else holds, so the two split the work instead of each doing all of it.

A claim can be taken over when it expired (its job stalled or died) or when it is held
by the same job (a redelivered run of that job). A job releases the claims of the rows
it finished and, when it ends or hands itself back to wait, all it still holds.

The claim is one statement: on PostgreSQL an UPDATE of the rows a
`FOR UPDATE SKIP LOCKED` subquery picks, so two claimers at the same moment pass each
other's rows by; on SQLite the same UPDATE (without the locking clause, which SQLite
lacks) inside an immediate transaction, which takes the database's one write lock first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from services import db, jobs
from services.tables import Track


@dataclass(frozen=True, slots=True)
class ClaimColumns:
    """Where one kind of work keeps its claims: a table and its claimer and expiry columns.

    Names come from code, never from input: they are written into SQL as they are.
    """

    table: str
    job: str
    until: str


# Spotify searches of tracks (services.enrichment).
SPOTIFY_SEARCH: Final = ClaimColumns("track", "spotify_claim_job", "spotify_claim_until")


@dataclass(frozen=True, slots=True)
class Walk:
    """The rows a job walks in id order: SQL conditions on the table (as alias `t`),
    with `{}` placeholders for Piccolo raw queries, and their values."""

    where: str = "TRUE"
    values: tuple[Any, ...] = ()


def _free_for(columns: ClaimColumns) -> str:
    """Conditions (placeholders: the job, the time now) for rows the job may claim:
    nobody's, its own, or held by a claim that expired."""
    return (
        f"(t.{columns.job} IS NULL OR t.{columns.job} = {{}}"
        f" OR t.{columns.until} IS NULL OR t.{columns.until} < {{}})"
    )


async def _raw(sql: str, *values: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await Track.raw(sql, *values)
    return rows


async def claim_next(
    columns: ClaimColumns, walk: Walk, *, job: int, after_id: int, limit: int, ttl: float
) -> list[int]:
    """Claim for `job`, until `ttl` seconds from now, the next (at most) `limit` rows of
    `walk` after `after_id` that nobody else holds; their ids, in order (none: nothing
    left this job may take)."""
    if limit <= 0:
        return []
    moment = jobs.clock()
    postgres = not db.is_sqlite()
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    sql = (
        f"UPDATE {columns.table} SET {columns.job} = {{}}, {columns.until} = {{}} "
        f"WHERE id IN (SELECT t.id FROM {columns.table} t "
        f"WHERE t.id > {{}} AND ({walk.where}) AND {_free_for(columns)} "
        f"ORDER BY t.id LIMIT {int(limit)}{lock}) RETURNING id"
    )
    values = (job, moment + ttl, after_id, *walk.values, job, moment)
    # One statement is its own transaction on both engines: on PostgreSQL the row locks
    # it takes end with it; on SQLite an UPDATE takes the write lock before it reads, so
    # two claims queue one after the other (each waiting up to the busy timeout).
    rows = await _raw(sql, *values)
    return sorted(int(row["id"]) for row in rows)


async def renew(columns: ClaimColumns, *, job: int, ids: list[int], ttl: float) -> list[int]:
    """Extend to `ttl` seconds from now the claims `job` still holds on `ids`; the ids it
    still holds (a claim that expired and was taken by another job is gone)."""
    if not ids:
        return []
    marks = ", ".join("{}" for _ in ids)
    rows = await _raw(
        f"UPDATE {columns.table} SET {columns.until} = {{}} "
        f"WHERE id IN ({marks}) AND {columns.job} = {{}} RETURNING id",
        jobs.clock() + ttl,
        *ids,
        job,
    )
    return sorted(int(row["id"]) for row in rows)


async def release(columns: ClaimColumns, *, job: int, ids: list[int]) -> None:
    """Give up the claims `job` holds on `ids` (rows it finished, or will not do now)."""
    if not ids:
        return
    marks = ", ".join("{}" for _ in ids)
    await _raw(
        f"UPDATE {columns.table} SET {columns.job} = NULL, {columns.until} = NULL "
        f"WHERE id IN ({marks}) AND {columns.job} = {{}}",
        *ids,
        job,
    )


async def count_free(columns: ClaimColumns, walk: Walk, *, job: int, after_id: int) -> int:
    """How many rows of `walk` after `after_id` `job` could still claim."""
    rows = await _raw(
        f"SELECT COUNT(*) AS n FROM {columns.table} t "
        f"WHERE t.id > {{}} AND ({walk.where}) AND {_free_for(columns)}",
        after_id,
        *walk.values,
        job,
        jobs.clock(),
    )
    return int(rows[0]["n"])


async def count_held_by_others(columns: ClaimColumns, walk: Walk, *, job: int) -> int:
    """How many rows of `walk` (wherever they are in it) other jobs hold now."""
    rows = await _raw(
        f"SELECT COUNT(*) AS n FROM {columns.table} t WHERE ({walk.where}) "
        f"AND t.{columns.job} IS NOT NULL AND t.{columns.job} <> {{}} "
        f"AND t.{columns.until} >= {{}}",
        *walk.values,
        job,
        jobs.clock(),
    )
    return int(rows[0]["n"])
