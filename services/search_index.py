"""SQLite's word-search index, brought up to date after collections instead of during them.

A new track is queued in `search_pending` by a trigger (see the 2026-11-29T03:00
migration); `catch_up` moves queued tracks into the FTS5 trigram table in batches, each
in its own short write transaction so a running collection is never held up for long.
It runs when a collection job ends, every CATCH_UP_DURING_JOB new tracks of a long one,
and when a web or worker process starts.
Searches match pending tracks with LIKE (services.catalog), so a track is findable from
the moment it is stored. PostgreSQL's trigram index needs none of this.
"""

from __future__ import annotations

import asyncio
import logging

from services import db
from services.bulk import Bulk
from services.tables import Track

logger = logging.getLogger(__name__)

BATCH = 5_000
# A collection indexes what it stored so far once it has this many new tracks pending,
# so a search during a long job matches at most this many tracks with LIKE (~80 ms).
CATCH_UP_DURING_JOB = 20_000

_lock: asyncio.Lock | None = None
_lock_loop: asyncio.AbstractEventLoop | None = None


def _single_flight() -> asyncio.Lock:
    """One catch-up at a time per process (per event loop)."""
    global _lock, _lock_loop
    loop = asyncio.get_running_loop()
    if _lock is None or _lock_loop is not loop:
        _lock, _lock_loop = asyncio.Lock(), loop
    return _lock


async def pending() -> int:
    """How many tracks wait to enter the search index (0 on PostgreSQL)."""
    if not db.is_sqlite():
        return 0
    rows = await Track.raw("SELECT COUNT(*) AS n FROM search_pending")
    return int(rows[0]["n"])


async def catch_up(batch: int = BATCH) -> int:
    """Index every pending track; return how many were indexed. Safe to run anywhere,
    any time, concurrently: each batch is one transaction, and a batch another process
    took first is simply not there any more."""
    if not db.is_sqlite():
        return 0
    done = 0

    async def index_batch(bulk: Bulk) -> int:
        rows = await bulk.fetch("SELECT track FROM search_pending ORDER BY track LIMIT {}", batch)
        if rows:
            last = int(rows[-1]["track"])
            await bulk.execute(
                "INSERT INTO track_fts(rowid, search_text)"
                " SELECT t.id, t.search_text FROM search_pending p"
                " JOIN track t ON t.id = p.track WHERE p.track <= {}",
                last,
            )
            await bulk.execute("DELETE FROM search_pending WHERE track <= {}", last)
        return len(rows)

    async with _single_flight():
        while True:
            indexed = await db.write(index_batch)
            done += indexed
            if indexed < batch:
                break
    if done:
        logger.debug("search index: %d track(s) indexed", done)
    return done


async def catch_up_quietly() -> None:
    """`catch_up` for background use: a failure is logged, and retried by the next run
    (searches stay right meanwhile)."""
    try:
        await catch_up()
    except Exception:  # noqa: BLE001  never let index upkeep break a job or a start-up
        logger.warning("the search index could not be brought up to date", exc_info=True)
