"""Storing Beatport tracks in bulk: each call (a collected page) in one transaction.

`store_tracks` upserts a page's tracks by Beatport id together with everything they
point to (genres, sub-genres, labels, releases, artists and their credits) and records
which tracks a job saw (`job_track`); `CollectCounts` says what that did to the library.
A track whose Beatport JSON is unchanged is not written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from services import db, jobs
from services.beatport.tracks import BeatportTrack, Ref
from services.bulk import Bulk
from services.folding import fold
from services.name_keys import name_key


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


def encode_raw(raw: dict[str, Any]) -> bytes:
    """Beatport's JSON for a track as stored (UTF-8); its hash tells a changed track from
    the same.

    Beatport serialises its objects in a fixed key order, so no sorting is needed (and
    at worst a reordering counts as one needless update).
    """
    return msgspec.json.encode(raw)


def search_text(track: BeatportTrack) -> str:
    """What the library's search box matches: title, mix, artists, remixers, label, folded
    (services.folding) as the searched words are."""
    parts = [track.title, track.mix_name]
    parts += [artist.name for artist in track.artists + track.remixers]
    if track.label:
        parts.append(track.label.name)
    return fold(" ".join(part for part in parts if part))


REF_TABLES = {
    "genre": ("name", "slug"),
    "sub_genre": ("name", "slug"),
    "label": ("name", "name_key", "slug", "image_url"),
    "artist": ("name", "name_key", "slug", "image_url"),
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
            "name_key": name_key(ref.name[:500]),
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
            ["id", "beatport_id", "content_hash", "track_number"],
            f"FROM track WHERE {condition}",
            *args,
        )
    }
    changed: list[BeatportTrack] = []
    rows: list[tuple[Any, ...]] = []
    numbered: list[tuple[int, int]] = []  # (number, id): unchanged tracks' new release place
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
            if track.track_number not in (None, before["track_number"]):
                numbered.append((track.track_number, int(before["id"])))
            continue
        changed.append(track)
        refs = (genre_ids, sub_genre_ids, label_ids, release_ids)
        rows.append(_track_values(track, raw_bytes.decode(), digest, moment, *refs))
    written = await bulk.insert(
        _TRACK_INSERT, rows, _TRACK_ON_CONFLICT, returning=["id", "beatport_id"]
    )
    await bulk.executemany("UPDATE track SET track_number = {} WHERE id = {}", numbered)
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
        track.track_number,
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
    "track_number",
    "beatport_json",
    "content_hash",
    "updated_at",
    "created_at",
)
_TRACK_INSERT = f"INSERT INTO track ({', '.join(_TRACK_COLUMNS)})"
# A list without track numbers (a chart) keeps the number a release page gave.
_KEPT_UNLESS_GIVEN = frozenset({"track_number"})
_TRACK_ON_CONFLICT = "ON CONFLICT (beatport_id) DO UPDATE SET " + ", ".join(
    f"{column} = COALESCE(excluded.{column}, track.{column})"
    if column in _KEPT_UNLESS_GIVEN
    else f"{column} = excluded.{column}"
    for column in _TRACK_COLUMNS[1:-1]
)
