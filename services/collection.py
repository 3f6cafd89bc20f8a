"""Collecting Beatport tracks into the library (matching them to Spotify is services.enrichment).

`CollectionService.collect` walks a Beatport source page by page and upserts what it
finds by Beatport id, so running the same collection twice adds no rows. Each page
is written in one transaction and checkpointed, so a job that is redelivered after
a crash resumes at the next page instead of starting over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

import msgspec

from services import db, jobs, search_index
from services.beatport.links import parse_target as parse_beatport_target
from services.beatport.targets import MAX_BEATPORT_ID, InvalidTarget, Target
from services.beatport.targets import genre_target as make_genre_target
from services.beatport.tracks import BeatportTrack, Ref, TrackList
from services.bulk import Bulk
from services.errors import InvalidRequest
from services.forms import whole_number
from services.tables import (
    Job,
)

DEFAULT_MAX_PAGES = 100
MAX_PAGES_LIMIT = 300
# Rows per INSERT: far below PostgreSQL's 32,767 bind parameters for Track's ~45 columns.
INSERT_CHUNK = 300


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """A validated request to collect one Beatport source."""

    target: Target
    max_pages: int

    def to_params(self) -> dict[str, Any]:
        """Job parameters (JSON-safe, no secrets)."""
        return {
            "target": self.target.to_params(),
            "max_pages": self.max_pages,
            "label": self.target.describe(),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CollectRequest:
        """Read job parameters back."""
        return cls(Target.from_params(params["target"]), int(params["max_pages"]))


def parse_collect_request(
    *,
    url: str | None = None,
    genre: str | int | None = None,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    max_pages: str | int | None = None,
) -> CollectRequest:
    """Validate what a user asked to collect (form, JSON or CLI); raise InvalidRequest."""
    errors: dict[str, str] = {}
    pages = max_pages_field(errors, max_pages)
    url = (url or "").strip()
    genre_text = str(genre).strip() if genre is not None else ""
    target: Target | None = None
    if url and (genre_text or date_from or date_to):
        errors["url"] = "Give either a Beatport link or a genre with dates, not both."
    elif url:
        try:
            target = parse_beatport_target(url)
        except InvalidTarget as exc:
            errors["url"] = str(exc)
    elif genre_text or date_from or date_to:
        target = _genre_range(genre_text, date_from, date_to, errors)
    else:
        errors["url"] = "Paste a Beatport link, or pick a genre and a date range."
    if errors or target is None or pages is None:
        raise InvalidRequest(errors or {"url": "Nothing to collect."})
    return CollectRequest(target, pages)


def max_pages_field(errors: dict[str, str], value: object) -> int | None:
    """The page cap a form asks for: DEFAULT_MAX_PAGES when empty, else 1 to MAX_PAGES_LIMIT."""
    return whole_number(
        errors,
        "max_pages",
        value,
        label="Max pages",
        low=1,
        high=MAX_PAGES_LIMIT,
        default=DEFAULT_MAX_PAGES,
    )


def _genre_range(
    genre: str, date_from: str | date | None, date_to: str | date | None, errors: dict[str, str]
) -> Target | None:
    """The genre + date range half of `parse_collect_request`."""
    genre_id = whole_number(
        errors, "genre", genre, label="The genre id", low=1, high=MAX_BEATPORT_ID
    )
    if genre_id is None and "genre" not in errors:
        errors["genre"] = "Pick a genre (a Beatport genre id, a whole number like 6)."
    dates: list[date | None] = []
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if isinstance(value, date):
            dates.append(value)
            continue
        try:
            dates.append(date.fromisoformat(str(value or "").strip()))
        except ValueError:
            words = "From" if name == "date_from" else "To"
            errors[name] = f"{words} must be a date like 2026-01-31."
            dates.append(None)
    start, end = dates
    if genre_id is None or start is None or end is None:
        return None
    try:
        return make_genre_target(genre_id, start, end)
    except InvalidTarget as exc:
        errors["date_to" if start <= end else "date_from"] = str(exc)
        return None


class TrackSource(Protocol):
    """Where pages of tracks come from (the Beatport client, in web or API mode)."""

    async def fetch_page(self, target: Target, page: int) -> TrackList:
        """Page `page` (from 1) of `target`."""
        ...


@dataclass(slots=True)
class CollectCounts:
    """What a collection did to the library."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        """For progress and results."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class CollectionService:
    """The use cases behind Crate's jobs: collect from Beatport, enrich from Spotify."""

    progress: jobs.Progress = field(default_factory=jobs.NullProgress)
    task_id: str | None = None
    job_pk: int | None = None  # the job row's key, when the caller has it already
    # The run's claim on its job (services.jobs.claim): each page is stored only while the
    # job row still holds it, so a run that lost its job stores nothing more.
    claim: int | None = None

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
        try:
            while page <= request.max_pages:
                await self.progress.check_cancelled()
                listing = await (pending or asyncio.ensure_future(source.fetch_page(target, page)))
                pending = None
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
                )
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
    ) -> tuple[CollectCounts, int]:
        """Store one page and its checkpoint in one transaction; retry a lost lock race."""
        after = seen + len(listing.tracks) + listing.skipped

        async def write(bulk: Bulk) -> CollectCounts:
            trial = CollectCounts(**counts.as_dict())
            await store_tracks(listing.tracks, trial, job_pk=job_pk, ordered=ordered, bulk=bulk)
            trial.skipped += listing.skipped
            if job_pk is not None:
                # In the page's own transaction: stored pages and the checkpoint always
                # agree, so a redelivered job resumes exactly after them.
                mark = {"next_page": page + 1, "counts": trial.as_dict(), "seen": after}
                if self.claim is None:
                    await bulk.execute(
                        "UPDATE job SET checkpoint = {} WHERE id = {}", json.dumps(mark), job_pk
                    )
                elif not await bulk.fetch(
                    "UPDATE job SET checkpoint = {} WHERE id = {} AND claim = {} RETURNING id",
                    json.dumps(mark),
                    job_pk,
                    self.claim,
                ):
                    # Rolls the page back: the run that holds the job now stores it.
                    raise jobs.LeaseLost(self.task_id or str(job_pk))
            return trial

        for attempt in range(1, 4):
            try:
                # On SQLite the whole page is written on the database's own thread while
                # this one fetches and parses the next page.
                return await db.write(write), after
            except Exception as exc:
                if attempt == 3 or not db.is_transient(exc):
                    raise
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _job_pk(self) -> int | None:
        """The job row's primary key, for recording which tracks the job saw."""
        if self.job_pk is not None or self.task_id is None:
            return self.job_pk
        row = await Job.select(Job._meta.primary_key).where(Job.task_id == self.task_id).first()
        return int(row["id"]) if row else None


def _expected_total(listing: TrackList, request: CollectRequest, seen: int) -> int | None:
    """How many tracks the whole collection will see, as far as Beatport says."""
    if listing.total_count is None:
        return None
    if listing.total_pages and listing.total_pages > request.max_pages and listing.page:
        per_page = max(1, len(listing.tracks))
        return max(seen, min(listing.total_count, request.max_pages * per_page))
    return max(seen, listing.total_count)


# ---------------------------------------------------------------- storing tracks


def encode_raw(raw: dict[str, Any]) -> bytes:
    """Beatport's JSON for a track as stored (UTF-8); its hash tells a changed track from
    the same.

    Beatport serialises its objects in a fixed key order, so no sorting is needed (and
    at worst a reordering counts as one needless update).
    """
    return msgspec.json.encode(raw)


def search_text(track: BeatportTrack) -> str:
    """What the library's search box matches: title, mix, artists, remixers, label."""
    parts = [track.title, track.mix_name]
    parts += [artist.name for artist in track.artists + track.remixers]
    if track.label:
        parts.append(track.label.name)
    return " ".join(part for part in parts if part).lower()


REF_TABLES = {
    "genre": ("name", "slug"),
    "sub_genre": ("name", "slug"),
    "label": ("name", "slug", "image_url"),
    "artist": ("name", "slug", "image_url"),
    "release": ("name", "slug", "image_url", "label"),
}


async def _upsert_refs(
    bulk: Bulk, table: str, refs: Iterable[Ref], labels: dict[int, int | None] | None = None
) -> dict[int, int]:
    """Insert or refresh named things by Beatport id; return Beatport id -> row id."""
    unique: dict[int, Ref] = {}
    for ref in refs:
        unique[ref.beatport_id] = ref
    if not unique:
        return {}
    columns = REF_TABLES[table]
    rows = []
    # Always in Beatport id order: concurrent jobs then lock shared rows in the same
    # order, which rules out deadlocks between them on PostgreSQL.
    for ref in sorted(unique.values(), key=lambda r: r.beatport_id):
        values: dict[str, Any] = {
            "name": ref.name[:500],
            "slug": ref.slug[:500],
            "image_url": ref.image_url,
            "label": (labels or {}).get(ref.beatport_id),
        }
        rows.append((ref.beatport_id, *(values[column] for column in columns)))
    names = ", ".join(columns)
    condition, args = bulk.any_of("beatport_id", [row[0] for row in rows])
    found = await bulk.select(
        ["id", "beatport_id", *columns], f"FROM {table} WHERE {condition}", *args
    )
    known = {int(row["beatport_id"]): row for row in found}
    # Only new rows are inserted and only changed rows updated: rows that are already
    # right are not even locked, so concurrent jobs sharing artists never wait on each other.
    missing = [row for row in rows if row[0] not in known]
    changed = [
        row
        for row in rows
        if row[0] in known and tuple(known[row[0]][c] for c in columns) != row[1:]
    ]
    inserted = await bulk.insert(
        f"INSERT INTO {table} (beatport_id, {names})",
        missing,
        "ON CONFLICT (beatport_id) DO NOTHING",
        returning=["id", "beatport_id"],
    )
    found += inserted
    await bulk.executemany(
        f"UPDATE {table} SET {', '.join(f'{c} = {{}}' for c in columns)} WHERE beatport_id = {{}}",
        [(*row[1:], row[0]) for row in changed],
    )
    # What another job inserted meanwhile (or all new rows, on SQLite): read their ids.
    got = {int(row["beatport_id"]) for row in inserted}
    unread = [row[0] for row in missing if row[0] not in got]
    if unread:
        condition, args = bulk.any_of("beatport_id", unread)
        found += await bulk.select(["id", "beatport_id"], f"FROM {table} WHERE {condition}", *args)
    return {int(row["beatport_id"]): int(row["id"]) for row in found}


def _dedupe(tracks: Sequence[BeatportTrack]) -> list[BeatportTrack]:
    """One entry per Beatport id (the first position wins), in Beatport id order (see
    `_upsert_refs` for why the order matters)."""
    unique: dict[int, BeatportTrack] = {}
    for track in tracks:
        unique.setdefault(track.beatport_id, track)
    return sorted(unique.values(), key=lambda t: t.beatport_id)


async def store_tracks(
    tracks: Sequence[BeatportTrack],
    counts: CollectCounts,
    *,
    job_pk: int | None = None,
    ordered: bool = False,
    bulk: Bulk | None = None,
) -> None:
    """Upsert one page of tracks and everything they point to, in one transaction
    (`bulk`'s, when given)."""
    batch = _dedupe(tracks)
    if not batch:
        return
    if bulk is None:

        async def store(own: Bulk) -> None:
            await store_tracks(tracks, counts, job_pk=job_pk, ordered=ordered, bulk=own)

        await db.write(store)
        return
    genre_ids = await _upsert_refs(bulk, "genre", (t.genre for t in batch if t.genre))
    sub_genre_ids = await _upsert_refs(
        bulk, "sub_genre", (t.sub_genre for t in batch if t.sub_genre)
    )
    label_ids = await _upsert_refs(bulk, "label", (t.label for t in batch if t.label))
    release_labels = {
        t.release.beatport_id: label_ids.get(t.label.beatport_id) if t.label else None
        for t in batch
        if t.release
    }
    release_ids = await _upsert_refs(
        bulk, "release", (t.release for t in batch if t.release), release_labels
    )
    artist_ids = await _upsert_refs(
        bulk, "artist", (a for t in batch for a in t.artists + t.remixers)
    )
    condition, args = bulk.any_of("beatport_id", [t.beatport_id for t in batch])
    existing = {
        int(row["beatport_id"]): row
        for row in await bulk.select(
            ["id", "beatport_id", "content_hash"], f"FROM track WHERE {condition}", *args
        )
    }
    changed: list[BeatportTrack] = []
    rows: list[tuple[Any, ...]] = []
    moment = jobs.now()
    for track in batch:
        raw_bytes = encode_raw(track.raw)
        digest = hashlib.sha1(raw_bytes).hexdigest()
        before = existing.get(track.beatport_id)
        if before is None:
            counts.new += 1
        elif before["content_hash"] != digest:
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        changed.append(track)
        refs = (genre_ids, sub_genre_ids, label_ids, release_ids)
        rows.append(_track_values(track, raw_bytes.decode(), digest, moment, *refs))
    written = await bulk.insert(
        _TRACK_INSERT, rows, _TRACK_ON_CONFLICT, returning=["id", "beatport_id"]
    )
    track_ids = {int(k): int(v["id"]) for k, v in existing.items()}
    track_ids.update({int(row["beatport_id"]): int(row["id"]) for row in written})
    new_ids = [t.beatport_id for t in changed if t.beatport_id not in track_ids]
    if new_ids:
        condition, args = bulk.any_of("beatport_id", new_ids)
        for row in await bulk.select(["id", "beatport_id"], f"FROM track WHERE {condition}", *args):
            track_ids[int(row["beatport_id"])] = int(row["id"])
    if changed:
        # Only tracks stored before can have credits to replace.
        updated_ids = [track_ids[t.beatport_id] for t in changed if t.beatport_id in existing]
        if updated_ids:
            condition, args = bulk.any_of("track", updated_ids)
            await bulk.execute(f"DELETE FROM track_artist WHERE {condition}", *args)
        await bulk.insert(
            "INSERT INTO track_artist (track, artist, role, position)",
            [
                (track_ids[t.beatport_id], artist_ids[ref.beatport_id], role, position)
                for t in changed
                for role, refs in (("artist", t.artists), ("remixer", t.remixers))
                for position, ref in enumerate(_unique_refs(refs))
            ],
        )
    if job_pk is not None:
        await bulk.insert(
            "INSERT INTO job_track (job, track, position)",
            [(job_pk, track_ids[t.beatport_id], t.position if ordered else None) for t in batch],
            "ON CONFLICT (job, track) DO NOTHING",
        )


def _unique_refs(refs: Iterable[Ref]) -> list[Ref]:
    """Credits in order, each artist once (Beatport sometimes repeats one)."""
    seen: set[int] = set()
    unique = []
    for ref in refs:
        if ref.beatport_id not in seen:
            seen.add(ref.beatport_id)
            unique.append(ref)
    return unique


def _track_values(
    track: BeatportTrack,
    raw_json: str,
    digest: str,
    moment: datetime,
    genre_ids: dict[int, int],
    sub_genre_ids: dict[int, int],
    label_ids: dict[int, int],
    release_ids: dict[int, int],
) -> tuple[Any, ...]:
    """The values of a track row, in `_TRACK_COLUMNS` order."""
    return (
        track.beatport_id,
        track.title[:500],
        track.mix_name[:500],
        track.slug[:500],
        ", ".join(a.name for a in _unique_refs(track.artists)),
        ", ".join(a.name for a in _unique_refs(track.remixers)),
        search_text(track),
        track.isrc,
        track.bpm,
        track.key_name,
        track.camelot,
        genre_ids.get(track.genre.beatport_id) if track.genre else None,
        sub_genre_ids.get(track.sub_genre.beatport_id) if track.sub_genre else None,
        label_ids.get(track.label.beatport_id) if track.label else None,
        release_ids.get(track.release.beatport_id) if track.release else None,
        track.catalog_number,
        track.length_ms,
        track.publish_date,
        track.new_release_date,
        track.pre_order,
        track.exclusive,
        track.is_hype,
        track.sample_url,
        track.sample_start_ms,
        track.sample_end_ms,
        track.waveform_url,
        track.artwork_url,
        track.price_display,
        raw_json,
        digest,
        moment,
        moment,
    )


# Everything Beatport owns, in `_track_values` order. On conflict all but the first and the
# last (created_at) are refreshed; the Spotify columns are never touched here.
_TRACK_COLUMNS = (
    "beatport_id",
    "title",
    "mix_name",
    "slug",
    "artists_text",
    "remixers_text",
    "search_text",
    "isrc",
    "bpm",
    "key_name",
    "camelot",
    "genre",
    "sub_genre",
    "label",
    "release",
    "catalog_number",
    "length_ms",
    "publish_date",
    "new_release_date",
    "pre_order",
    "exclusive",
    "is_hype",
    "sample_url",
    "sample_start_ms",
    "sample_end_ms",
    "waveform_url",
    "artwork_url",
    "price_display",
    "beatport_json",
    "content_hash",
    "updated_at",
    "created_at",
)
_TRACK_INSERT = f"INSERT INTO track ({', '.join(_TRACK_COLUMNS)})"
_TRACK_ON_CONFLICT = "ON CONFLICT (beatport_id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in _TRACK_COLUMNS[1:-1]
)
