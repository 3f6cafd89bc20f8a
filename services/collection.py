"""Collecting Beatport tracks into the library (matching them to Spotify is services.enrichment).

`CollectionService.collect` walks a Beatport source page by page and upserts what it
finds by Beatport id (services.track_store), so running the same collection twice adds
no rows. Each page is written in one transaction with its checkpoint, under the run's
claim on its job, so a job that is redelivered after a crash resumes at the next page
instead of starting over. What to collect is read by services.collect_request.

The job's name (its parameters' `label`) starts as the words of the link and becomes
Beatport's own name for the thing once a page says it, written with that page. A page
Beatport does not give fails the job in words saying where, and what was kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from services import db, jobs, search_index
from services.beatport.targets import Target
from services.beatport.tracks import TrackList
from services.beatport.wire import BeatportError
from services.bulk import Bulk
from services.collect_request import CollectRequest
from services.retry import Backoff
from services.tables import Job
from services.track_store import CollectCounts, store_tracks

# A page whose transaction lost a lock race (a deadlock, SQLite's "database is locked")
# is written again, at most PAGE_ATTEMPTS times in all, after a short wait.
PAGE_ATTEMPTS = 3
PAGE_RETRY = Backoff(first=0.05, cap=0.2)


class TrackSource(Protocol):
    """Where pages of tracks come from (the Beatport client, in web or API mode)."""

    async def fetch_page(self, target: Target, page: int) -> TrackList:
        """Page `page` (from 1) of `target`."""
        ...


@dataclass(slots=True)
class CollectionService:
    """One collection run: pages fetched from a source, stored, checkpointed and reported."""

    progress: jobs.Progress = field(default_factory=jobs.NullProgress)
    task_id: str | None = None
    job_pk: int | None = None  # the job row's key, when the caller has it already
    # The run's claim on its job (services.jobs.claim): each page is stored only while the
    # job row still holds it, so a run that lost its job stores nothing more.
    claim: int | None = None
    # The job's parameters: its name, in their `label`, is rewritten once Beatport names
    # the list (None: a run outside any job, nothing to name).
    params: dict[str, Any] | None = None

    async def collect(
        self,
        request: CollectRequest,
        *,
        source: TrackSource,
        checkpoint: dict[str, Any] | None = None,
    ) -> jobs.Snapshot:
        """Fetch every page of the request's source and upsert its tracks.

        Resumes from `checkpoint` (`{"next_page", "counts", "seen"}`) when given.
        Raises whatever the source raises for a failed page; pages already stored stay.
        """
        target = request.target
        job_pk = await self._job_pk()
        page = int((checkpoint or {}).get("next_page", 1))
        counts = CollectCounts(**(checkpoint or {}).get("counts", {}))
        seen = int((checkpoint or {}).get("seen", 0))
        snapshot = jobs.Snapshot(
            state="running", phase=f"page {page}", done=seen, counts=counts.as_dict()
        )
        await self.progress.update(snapshot)
        pending: asyncio.Future[TrackList] | None = None
        indexed_at = counts.new
        last_page: int | None = None
        named = (self.params or {}).get("label")
        try:
            while page <= request.max_pages:
                await self.progress.check_cancelled()
                try:
                    listing = await (
                        pending or asyncio.ensure_future(source.fetch_page(target, page))
                    )
                except BeatportError as exc:
                    where = replace(snapshot, phase=failed_at(page, last_page, counts))
                    raise jobs.JobFailed(str(exc), where) from exc
                pending = None
                name = target.title(listing.name) if listing.name else None
                renamed = name if name is not None and name != named else None
                more = listing.has_next and bool(listing.tracks) and page < request.max_pages
                if more:
                    # Ask for the next page while this one is written, so the waits overlap.
                    pending = asyncio.ensure_future(source.fetch_page(target, page + 1))
                counts, seen = await self._store_page(
                    listing,
                    counts,
                    seen,
                    page=page,
                    job_pk=job_pk,
                    ordered=target.ordered,
                    renamed=renamed,
                )
                named = name or named
                last_page = min(listing.total_pages or page, request.max_pages)
                total = seen if not more else _expected_total(listing, request, seen)
                snapshot = replace(
                    snapshot,
                    phase=f"page {page} of {max(last_page, page)}",
                    done=seen,
                    total=total,
                    counts=counts.as_dict(),
                )
                await self.progress.update(snapshot)
                if not more:
                    break
                page += 1
                if counts.new - indexed_at >= search_index.CATCH_UP_DURING_JOB:
                    # A long collection: keep the tracks searched by LIKE few.
                    await search_index.catch_up()
                    indexed_at = counts.new
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
        return replace(
            snapshot, state="succeeded", phase="done", total=seen, counts=counts.as_dict()
        )

    async def _store_page(
        self,
        listing: TrackList,
        counts: CollectCounts,
        seen: int,
        *,
        page: int,
        job_pk: int | None,
        ordered: bool,
        renamed: str | None = None,
    ) -> tuple[CollectCounts, int]:
        """Store one page and its checkpoint (and the job's new name) in one transaction;
        retry a lost lock race."""
        after = seen + len(listing.tracks) + listing.skipped
        named = "" if renamed is None or self.params is None else ", params = {}"
        extra = [json.dumps({**self.params, "label": renamed})] if named and self.params else []

        async def write(bulk: Bulk) -> CollectCounts:
            trial = CollectCounts(**counts.as_dict())
            await store_tracks(listing.tracks, trial, job_pk=job_pk, ordered=ordered, bulk=bulk)
            trial.skipped += listing.skipped
            if job_pk is not None:
                # In the page's own transaction: stored pages and the checkpoint always
                # agree, so a redelivered job resumes exactly after them.
                mark = {"next_page": page + 1, "counts": trial.as_dict(), "seen": after}
                update = "UPDATE job SET checkpoint = {}" + named + " WHERE id = {}"
                if self.claim is None:
                    await bulk.execute(update, json.dumps(mark), *extra, job_pk)
                elif not await bulk.fetch(
                    update + " AND claim = {} RETURNING id",
                    json.dumps(mark),
                    *extra,
                    job_pk,
                    self.claim,
                ):
                    # Rolls the page back: the run that holds the job now stores it.
                    raise jobs.LeaseLost(self.task_id or str(job_pk))
            return trial

        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                # On SQLite the whole page is written on the database's own thread while
                # this one fetches and parses the next page.
                return await db.write(write), after
            except Exception as exc:
                if attempt == PAGE_ATTEMPTS or not db.is_transient(exc):
                    raise
                await asyncio.sleep(PAGE_RETRY.wait(attempt))
        raise AssertionError("unreachable")

    async def _job_pk(self) -> int | None:
        """The job row's primary key, for recording which tracks the job saw."""
        if self.job_pk is not None or self.task_id is None:
            return self.job_pk
        row = await Job.select(Job._meta.primary_key).where(Job.task_id == self.task_id).first()
        return int(row["id"]) if row else None


def failed_at(page: int, last_page: int | None, counts: CollectCounts) -> str:
    """Where a collection failed, in words that follow "failed": "on page 2 of 3: 100 tracks
    kept" (the pages before it stay stored); "" when it failed at once (page 1, nothing)."""
    kept = counts.new + counts.updated + counts.unchanged
    if page == 1 and not kept:
        return ""
    of = f" of {last_page}" if last_page and last_page >= page else ""
    words = f"{kept:,} track{'' if kept == 1 else 's'} kept" if kept else "nothing kept"
    return f"on page {page}{of}: {words}"


def _expected_total(listing: TrackList, request: CollectRequest, seen: int) -> int | None:
    """How many tracks the whole collection will see, as far as Beatport says."""
    if listing.total_count is None:
        return None
    if listing.total_pages and listing.total_pages > request.max_pages and listing.page:
        per_page = max(1, len(listing.tracks))
        return max(seen, min(listing.total_count, request.max_pages * per_page))
    return max(seen, listing.total_count)
