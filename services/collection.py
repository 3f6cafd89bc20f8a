"""Collecting Beatport tracks into the library (and, later, enriching them from Spotify).

`CollectionService.collect` walks a Beatport source page by page and upserts what it
finds by Beatport id, so running the same collection twice adds no rows. Each page
is written in one transaction and checkpointed, so a job that is redelivered after
a crash resumes at the next page instead of starting over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

from piccolo.table import Table

from services import db, jobs
from services.beatport import BeatportTrack, InvalidTarget, Ref, Target, TrackList
from services.beatport import genre_target as make_genre_target
from services.beatport import parse_target as parse_beatport_target
from services.tables import (
    Artist,
    Genre,
    Job,
    JobTrack,
    Label,
    Release,
    SubGenre,
    Track,
    TrackArtist,
)

DEFAULT_MAX_PAGES = 100
MAX_PAGES_LIMIT = 300
# Rows per INSERT: far below PostgreSQL's 32,767 bind parameters for Track's ~45 columns.
INSERT_CHUNK = 300


class InvalidRequest(ValueError):
    """A collect or enrich request that cannot be run; `errors` maps field to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


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
    pages = DEFAULT_MAX_PAGES
    if max_pages not in (None, ""):
        try:
            pages = int(str(max_pages).strip())
        except ValueError:
            errors["max_pages"] = "Max pages must be a whole number."
        else:
            if not 1 <= pages <= MAX_PAGES_LIMIT:
                errors["max_pages"] = f"Max pages must be from 1 to {MAX_PAGES_LIMIT}."
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
    if errors or target is None:
        raise InvalidRequest(errors or {"url": "Nothing to collect."})
    return CollectRequest(target, pages)


def _genre_range(
    genre: str, date_from: str | date | None, date_to: str | date | None, errors: dict[str, str]
) -> Target | None:
    """The genre + date range half of `parse_collect_request`."""
    genre_id: int | None = None
    try:
        genre_id = int(genre)
        if genre_id < 1:
            raise ValueError
    except ValueError:
        errors["genre"] = "The genre must be a Beatport genre id, a whole number like 6."
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
        while page <= request.max_pages:
            await self.progress.check_cancelled()
            listing = await source.fetch_page(target, page)
            if listing.tracks:
                await store_tracks(listing.tracks, counts, job_pk=job_pk, ordered=target.ordered)
            counts.skipped += listing.skipped
            seen += len(listing.tracks) + listing.skipped
            last_page = min(listing.total_pages or page, request.max_pages)
            total = seen if not listing.has_next else _expected_total(listing, request, seen)
            snapshot = replace(
                snapshot,
                phase=f"page {page} of {max(last_page, page)}",
                done=seen,
                total=total,
                counts=counts.as_dict(),
            )
            await self.progress.update(snapshot)
            more = listing.has_next and bool(listing.tracks)
            if self.task_id is not None:
                await self._checkpoint(
                    {"next_page": page + 1, "counts": counts.as_dict(), "seen": seen}
                )
            if not more:
                break
            page += 1
        return replace(
            snapshot, state="succeeded", phase="done", total=seen, counts=counts.as_dict()
        )

    async def _job_pk(self) -> int | None:
        """The job row's primary key, for recording which tracks the job saw."""
        if self.task_id is None:
            return None
        row = await Job.select(Job._meta.primary_key).where(Job.task_id == self.task_id).first()
        return int(row["id"]) if row else None

    async def _checkpoint(self, value: dict[str, Any]) -> None:
        if self.task_id is not None:
            await jobs.save_checkpoint(self.task_id, value)


def _expected_total(listing: TrackList, request: CollectRequest, seen: int) -> int | None:
    """How many tracks the whole collection will see, as far as Beatport says."""
    if listing.total_count is None:
        return None
    if listing.total_pages and listing.total_pages > request.max_pages and listing.page:
        per_page = max(1, len(listing.tracks))
        return max(seen, min(listing.total_count, request.max_pages * per_page))
    return max(seen, listing.total_count)


# ---------------------------------------------------------------- storing tracks


def content_hash(raw: dict[str, Any]) -> str:
    """A stable fingerprint of Beatport's JSON for a track: same JSON, same hash."""
    encoded = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def search_text(track: BeatportTrack) -> str:
    """What the library's search box matches: title, mix, artists, remixers, label."""
    parts = [track.title, track.mix_name]
    parts += [artist.name for artist in track.artists + track.remixers]
    if track.label:
        parts.append(track.label.name)
    return " ".join(part for part in parts if part).lower()


async def _upsert_refs(
    table: type[Table], refs: Iterable[Ref], extra: dict[int, Any] | None = None
) -> dict[int, int]:
    """Insert or refresh named things by Beatport id; return Beatport id -> row id."""
    unique: dict[int, Ref] = {}
    for ref in refs:
        unique[ref.beatport_id] = ref
    if not unique:
        return {}
    columns = table._meta.columns
    has_image = any(column._meta.name == "image_url" for column in columns)
    rows = []
    for ref in unique.values():
        values: dict[str, Any] = {
            "beatport_id": ref.beatport_id,
            "name": ref.name[:500],
            "slug": ref.slug[:500],
        }
        if has_image:
            values["image_url"] = ref.image_url
        if extra and ref.beatport_id in extra:
            values["label"] = extra[ref.beatport_id]
        rows.append(table(**values))
    update_columns = [
        column
        for column in columns
        if column._meta.name in ("name", "slug", "image_url", "label")
        and (column._meta.name != "label" or extra is not None)
    ]
    beatport_id_column = table._meta.get_column_by_name("beatport_id")
    primary_key = table._meta.primary_key
    mapping: dict[int, int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        returned = (
            await table.insert(*chunk)
            .on_conflict(target=beatport_id_column, action="DO UPDATE", values=update_columns)
            .returning(primary_key, beatport_id_column)
        )
        for row in returned:
            mapping[int(row["beatport_id"])] = int(row["id"])
    return mapping


def _dedupe(tracks: Sequence[BeatportTrack]) -> list[BeatportTrack]:
    """One entry per Beatport id (the first position wins)."""
    unique: dict[int, BeatportTrack] = {}
    for track in tracks:
        unique.setdefault(track.beatport_id, track)
    return list(unique.values())


async def store_tracks(
    tracks: Sequence[BeatportTrack],
    counts: CollectCounts,
    *,
    job_pk: int | None = None,
    ordered: bool = False,
) -> None:
    """Upsert one page of tracks and everything they point to, in one transaction."""
    batch = _dedupe(tracks)
    async with db.write_transaction():
        genre_ids = await _upsert_refs(Genre, (t.genre for t in batch if t.genre))
        sub_genre_ids = await _upsert_refs(SubGenre, (t.sub_genre for t in batch if t.sub_genre))
        label_ids = await _upsert_refs(Label, (t.label for t in batch if t.label))
        release_labels = {
            t.release.beatport_id: label_ids.get(t.label.beatport_id) if t.label else None
            for t in batch
            if t.release
        }
        release_ids = await _upsert_refs(
            Release, (t.release for t in batch if t.release), extra=release_labels
        )
        artist_ids = await _upsert_refs(Artist, (a for t in batch for a in t.artists + t.remixers))
        existing = {
            int(row["beatport_id"]): row
            for row in await Track.select(
                Track._meta.primary_key, Track.beatport_id, Track.content_hash
            ).where(Track.beatport_id.is_in([t.beatport_id for t in batch]))
        }
        changed: list[Track] = []
        for track in batch:
            digest = content_hash(track.raw)
            before = existing.get(track.beatport_id)
            if before is None:
                counts.new += 1
            elif before["content_hash"] != digest:
                counts.updated += 1
            else:
                counts.unchanged += 1
                continue
            changed.append(
                _track_row(track, digest, genre_ids, sub_genre_ids, label_ids, release_ids)
            )
        track_ids = {int(k): int(v["id"]) for k, v in existing.items()}
        for start in range(0, len(changed), INSERT_CHUNK):
            chunk = changed[start : start + INSERT_CHUNK]
            returned = (
                await Track.insert(*chunk)
                .on_conflict(
                    target=Track.beatport_id, action="DO UPDATE", values=_TRACK_UPDATE_COLUMNS
                )
                .returning(Track._meta.primary_key, Track.beatport_id)
            )
            for row in returned:
                track_ids[int(row["beatport_id"])] = int(row["id"])
        changed_ids = [track_ids[row.beatport_id] for row in changed]
        if changed_ids:
            await TrackArtist.delete().where(TrackArtist.track.is_in(changed_ids))
            links = [
                TrackArtist(
                    track=track_ids[track.beatport_id],
                    artist=artist_ids[ref.beatport_id],
                    role=role,
                    position=position,
                )
                for track in batch
                if track_ids[track.beatport_id] in set(changed_ids)
                for role, refs in (("artist", track.artists), ("remixer", track.remixers))
                for position, ref in enumerate(_unique_refs(refs))
            ]
            for start in range(0, len(links), INSERT_CHUNK * 3):
                await TrackArtist.insert(*links[start : start + INSERT_CHUNK * 3])
        if job_pk is not None:
            sightings = [
                JobTrack(
                    job=job_pk,
                    track=track_ids[track.beatport_id],
                    position=track.position if ordered else None,
                )
                for track in batch
            ]
            for start in range(0, len(sightings), INSERT_CHUNK * 3):
                await JobTrack.insert(*sightings[start : start + INSERT_CHUNK * 3]).on_conflict(
                    target=(JobTrack.job, JobTrack.track), action="DO NOTHING"
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


def _track_row(
    track: BeatportTrack,
    digest: str,
    genre_ids: dict[int, int],
    sub_genre_ids: dict[int, int],
    label_ids: dict[int, int],
    release_ids: dict[int, int],
) -> Track:
    """The Track row for a parsed Beatport track."""
    return Track(
        beatport_id=track.beatport_id,
        title=track.title[:500],
        mix_name=track.mix_name[:500],
        slug=track.slug[:500],
        artists_text=", ".join(a.name for a in _unique_refs(track.artists)),
        remixers_text=", ".join(a.name for a in _unique_refs(track.remixers)),
        search_text=search_text(track),
        isrc=track.isrc,
        bpm=track.bpm,
        key_name=track.key_name,
        camelot=track.camelot,
        genre=genre_ids.get(track.genre.beatport_id) if track.genre else None,
        sub_genre=sub_genre_ids.get(track.sub_genre.beatport_id) if track.sub_genre else None,
        label=label_ids.get(track.label.beatport_id) if track.label else None,
        release=release_ids.get(track.release.beatport_id) if track.release else None,
        catalog_number=track.catalog_number,
        length_ms=track.length_ms,
        publish_date=track.publish_date,
        new_release_date=track.new_release_date,
        pre_order=track.pre_order,
        exclusive=track.exclusive,
        is_hype=track.is_hype,
        sample_url=track.sample_url,
        sample_start_ms=track.sample_start_ms,
        sample_end_ms=track.sample_end_ms,
        waveform_url=track.waveform_url,
        artwork_url=track.artwork_url,
        price_display=track.price_display,
        beatport_json=json.dumps(track.raw, ensure_ascii=False),
        content_hash=digest,
        updated_at=jobs.now(),
    )


# Everything Beatport owns; the Spotify columns and created_at are never overwritten here.
_TRACK_UPDATE_COLUMNS = [
    Track.title,
    Track.mix_name,
    Track.slug,
    Track.artists_text,
    Track.remixers_text,
    Track.search_text,
    Track.isrc,
    Track.bpm,
    Track.key_name,
    Track.camelot,
    Track.genre,
    Track.sub_genre,
    Track.label,
    Track.release,
    Track.catalog_number,
    Track.length_ms,
    Track.publish_date,
    Track.new_release_date,
    Track.pre_order,
    Track.exclusive,
    Track.is_hype,
    Track.sample_url,
    Track.sample_start_ms,
    Track.sample_end_ms,
    Track.waveform_url,
    Track.artwork_url,
    Track.price_display,
    Track.beatport_json,
    Track.content_hash,
    Track.updated_at,
]
