"""Crates: named, ordered track lists a DJ keeps (tables `crate` and `crate_track`).

Every change runs in one write transaction (`db.write`) that first takes the crate's
row (`FOR UPDATE` on PostgreSQL; SQLite's writer runs one transaction at a time), so two
adds at once append one after the other and positions stay 0, 1, 2… with no gap and no
duplicate; the unique index on (crate, track) keeps a track in a crate at most once.
Positions are stored from 0; everything shown or answered counts from 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from services import db, jobs
from services.bulk import Bulk
from services.errors import InvalidRequest
from services.sql_dialect import dialect_of, number, sql
from services.track_filter import FILTER_FIELDS, MAX_ID, parse_filter
from services.track_queries import ordered_ids

MAX_NAME_CHARS: Final = 200
# "Add all matching": at most this many tracks in one request.
MAX_ADD: Final = 5_000
# Unknown ids named in an error, at most.
NAMED_IDS: Final = 10


class CrateNotFound(LookupError):
    """No crate has that id; the message says so in words."""

    def __init__(self, crate_id: int) -> None:
        super().__init__(f"There is no crate {crate_id}.")
        self.crate_id = crate_id


class NotInCrate(LookupError):
    """The track asked for is not in the crate."""


@dataclass(frozen=True, slots=True)
class AddResult:
    """What an add did: tracks added, tracks that were in the crate already, the crate's
    size after; `capped` when a filter matched more than MAX_ADD and only the first
    MAX_ADD were taken."""

    added: int
    already: int
    total: int
    capped: bool = False

    @property
    def words(self) -> str:
        """The result in a sentence."""
        text = f"Added {self.added:,}"
        text += f", {self.already:,} already there" if self.already else ""
        text += f"; the crate holds {self.total:,}."
        if self.capped:
            text += f" Only the first {MAX_ADD:,} matching tracks were taken."
        return text


@dataclass(frozen=True, slots=True)
class CrateSummary:
    """A crate with its figures: tracks, total length, BPM range."""

    id: int
    name: str
    count: int = 0
    length_ms: int = 0
    bpm_low: int | None = None
    bpm_high: int | None = None
    spotify_playlist_id: str | None = None
    spotify_playlist_url: str | None = None

    @property
    def url(self) -> str:
        """The crate's page."""
        return f"/crates/{self.id}"

    @property
    def length(self) -> str:
        """The total length as h:mm:ss (m:ss under an hour)."""
        minutes, seconds = divmod(round(self.length_ms / 1000), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def clean_name(value: object) -> str:
    """A crate name as typed, spaces tidied; raise InvalidRequest saying what is wrong."""
    name = " ".join(str(value or "").split())
    if not name:
        raise InvalidRequest({"name": "Give the crate a name."})
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(
            {"name": f"A crate name has at most {MAX_NAME_CHARS} characters ({len(name)} given)."}
        )
    return name


def beatport_id_list(value: object, field: str = "beatport_ids") -> list[int]:
    """Beatport ids (or, for `field` "track", the library's track ids) from a JSON list or
    a form's values; raise InvalidRequest in words."""
    words = "Beatport ids" if field == "beatport_ids" else "Track ids"
    values = value if isinstance(value, list | tuple) else [value]
    ids: list[int] = []
    for item in values:
        text = str(item).strip() if isinstance(item, int | str) else ""
        if not text.isdigit() or not 1 <= int(text) <= MAX_ID or isinstance(item, bool):
            raise InvalidRequest({field: f"{words} are whole numbers from 1; {item!r} is not one."})
        ids.append(int(text))
    if not ids:
        raise InvalidRequest({field: "Choose at least one track to add."})
    if len(ids) > MAX_ADD:
        raise InvalidRequest({field: f"Add at most {MAX_ADD:,} tracks at a time."})
    return ids


# ---------------------------------------------------------------- reading


_SUMMARY_SQL: Final = (
    "SELECT c.id + 0 AS id, c.name, c.spotify_playlist_id, c.spotify_playlist_url,"
    " COUNT(ct.id) AS count, COALESCE(SUM(t.length_ms), 0) AS length_ms,"
    " MIN(t.bpm) AS bpm_low, MAX(t.bpm) AS bpm_high"
    " FROM crate c LEFT JOIN crate_track ct ON ct.crate = c.id"
    " LEFT JOIN track t ON t.id = ct.track{}"
    " GROUP BY c.id, c.name, c.spotify_playlist_id, c.spotify_playlist_url ORDER BY c.id"
)


def _summary(row: Mapping[str, Any]) -> CrateSummary:
    return CrateSummary(
        id=int(row["id"]),
        name=str(row["name"]),
        count=int(row["count"] or 0),
        length_ms=int(row["length_ms"] or 0),
        bpm_low=None if row["bpm_low"] is None else int(row["bpm_low"]),
        bpm_high=None if row["bpm_high"] is None else int(row["bpm_high"]),
        spotify_playlist_id=row["spotify_playlist_id"],
        spotify_playlist_url=row["spotify_playlist_url"],
    )


async def list_crates() -> list[CrateSummary]:
    """Every crate, oldest first, with its count, total length and BPM range."""
    (rows,) = await db.database().read(sql(_SUMMARY_SQL, sql("")))
    return [_summary(row) for row in rows]


async def get_crate(crate_id: int) -> CrateSummary:
    """One crate with its figures; raise CrateNotFound."""
    if not 1 <= crate_id <= MAX_ID:
        raise CrateNotFound(crate_id)
    query = sql(_SUMMARY_SQL, sql(f" WHERE c.id = {number(crate_id)}"))
    (rows,) = await db.database().read(query)
    if not rows:
        raise CrateNotFound(crate_id)
    return _summary(rows[0])


# ---------------------------------------------------------------- writing


async def _lock(bulk: Bulk, crate_id: int) -> None:
    """Take the crate's row for this transaction; raise CrateNotFound."""
    if not 1 <= crate_id <= MAX_ID:
        raise CrateNotFound(crate_id)
    lock = " FOR UPDATE" if bulk.engine_type == "postgres" else ""
    if not await bulk.fetch(f"SELECT id FROM crate WHERE id = {{}}{lock}", crate_id):
        raise CrateNotFound(crate_id)


async def _touch(bulk: Bulk, crate_id: int) -> None:
    await bulk.execute("UPDATE crate SET updated_at = {} WHERE id = {}", jobs.now(), crate_id)


async def _count(bulk: Bulk, crate_id: int) -> int:
    rows = await bulk.fetch("SELECT COUNT(*) AS n FROM crate_track WHERE crate = {}", crate_id)
    return int(rows[0]["n"])


async def create_crate(name: object) -> CrateSummary:
    """A new, empty crate; raise InvalidRequest for a missing or too long name."""
    clean = clean_name(name)
    moment = jobs.now()

    async def work(bulk: Bulk) -> int:
        rows = await bulk.fetch(
            "INSERT INTO crate (name, created_at, updated_at) VALUES ({}, {}, {}) RETURNING id",
            clean,
            moment,
            moment,
        )
        return int(rows[0]["id"])

    return CrateSummary(id=await db.write(work), name=clean)


async def rename_crate(crate_id: int, name: object) -> CrateSummary:
    """Give a crate a new name; raise InvalidRequest or CrateNotFound."""
    clean = clean_name(name)

    async def work(bulk: Bulk) -> None:
        await _lock(bulk, crate_id)
        await bulk.execute(
            "UPDATE crate SET name = {}, updated_at = {} WHERE id = {}",
            clean,
            jobs.now(),
            crate_id,
        )

    await db.write(work)
    return await get_crate(crate_id)


async def delete_crate(crate_id: int) -> None:
    """Delete a crate and its list (not the tracks); raise CrateNotFound."""

    async def work(bulk: Bulk) -> None:
        await _lock(bulk, crate_id)
        await bulk.execute("DELETE FROM crate_track WHERE crate = {}", crate_id)
        await bulk.execute("DELETE FROM crate WHERE id = {}", crate_id)

    await db.write(work)


async def _append(bulk: Bulk, crate_id: int, track_ids: list[int]) -> AddResult:
    """Append the tracks (ids of `track`) not yet in the crate, in the given order."""
    wanted = list(dict.fromkeys(track_ids))
    present: set[int] = set()
    for start in range(0, len(wanted), 1000):
        condition, args = bulk.any_of("track", wanted[start : start + 1000])
        rows = await bulk.fetch(
            f"SELECT track FROM crate_track WHERE crate = {{}} AND {condition}", crate_id, *args
        )
        present.update(int(row["track"]) for row in rows)
    top = await bulk.fetch(
        "SELECT COALESCE(MAX(position), -1) AS top FROM crate_track WHERE crate = {}", crate_id
    )
    first = int(top[0]["top"]) + 1
    new = [track for track in wanted if track not in present]
    moment = jobs.now()
    await bulk.insert(
        "INSERT INTO crate_track (crate, track, position, added_at)",
        [(crate_id, track, first + i, moment) for i, track in enumerate(new)],
    )
    if new:
        await _touch(bulk, crate_id)
    return AddResult(
        added=len(new), already=len(track_ids) - len(new), total=await _count(bulk, crate_id)
    )


async def _track_ids(bulk: Bulk, beatport_ids: list[int]) -> list[int]:
    """The library's ids of these Beatport tracks, in the same order; raise
    InvalidRequest naming the ones the library does not hold."""
    found: dict[int, int] = {}
    unique = list(dict.fromkeys(beatport_ids))
    for start in range(0, len(unique), 1000):
        condition, args = bulk.any_of("beatport_id", unique[start : start + 1000])
        rows = await bulk.fetch(f"SELECT id, beatport_id FROM track WHERE {condition}", *args)
        found.update((int(row["beatport_id"]), int(row["id"])) for row in rows)
    missing = [beatport_id for beatport_id in unique if beatport_id not in found]
    if missing:
        shown = ", ".join(str(beatport_id) for beatport_id in missing[:NAMED_IDS])
        more = f" and {len(missing) - NAMED_IDS:,} more" if len(missing) > NAMED_IDS else ""
        which = "track" if len(missing) == 1 else "tracks"
        raise InvalidRequest(
            {"beatport_ids": f"The library holds no {which} with Beatport id {shown}{more}."}
        )
    return [found[beatport_id] for beatport_id in beatport_ids]


async def add_tracks(crate_id: int, beatport_ids: list[int]) -> AddResult:
    """Append these Beatport tracks to the crate in the given order; a track already in
    it adds nothing (counted in `already`). Raise CrateNotFound, or InvalidRequest when
    the library does not hold one of them (then nothing is added)."""
    ids = beatport_id_list(beatport_ids)

    async def work(bulk: Bulk) -> AddResult:
        await _lock(bulk, crate_id)
        return await _append(bulk, crate_id, await _track_ids(bulk, ids))

    return await db.write(work)


async def add_rows(crate_id: int, track_ids: list[Any]) -> AddResult:
    """`add_tracks` for the library's own track ids (the forms' checkboxes and buttons);
    ids the library does not hold are refused in words."""
    ids = beatport_id_list(track_ids, "track")

    async def work(bulk: Bulk) -> AddResult:
        await _lock(bulk, crate_id)
        condition, args = bulk.any_of("id", list(dict.fromkeys(ids)))
        known = {
            int(row["id"])
            for row in await bulk.fetch(f"SELECT id FROM track WHERE {condition}", *args)
        }
        if missing := [track for track in ids if track not in known]:
            raise InvalidRequest({"track": f"The library holds no track {missing[0]}."})
        return await _append(bulk, crate_id, ids)

    return await db.write(work)


async def add_matching(crate_id: int, params: Mapping[str, object]) -> AddResult:
    """Append every track matching a /tracks filter (its query parameters), in the
    filter's order, up to MAX_ADD (then the first MAX_ADD, and `capped`). Raise
    InvalidRequest for a filter the tracks list would refuse, CrateNotFound."""
    values = {name: str(params.get(name) or "") for name in FILTER_FIELDS if name != "page"}
    track_filter = parse_filter(values)
    await get_crate(crate_id)
    database = db.database()
    query = ordered_ids(track_filter, dialect_of(database.engine_type), limit=MAX_ADD + 1)
    (rows,) = await database.read(query)
    track_ids = [int(row["id"]) for row in rows]
    capped = len(track_ids) > MAX_ADD

    async def work(bulk: Bulk) -> AddResult:
        await _lock(bulk, crate_id)
        return await _append(bulk, crate_id, track_ids[:MAX_ADD])

    result = await db.write(work)
    return AddResult(result.added, result.already, result.total, capped)


async def _position(bulk: Bulk, crate_id: int, beatport_id: int) -> tuple[int, int]:
    """The track's id and 0-based position in the crate; raise NotInCrate."""
    rows = await bulk.fetch(
        "SELECT ct.track, ct.position FROM crate_track ct JOIN track t ON t.id = ct.track"
        " WHERE ct.crate = {} AND t.beatport_id = {}",
        crate_id,
        beatport_id,
    )
    if not rows:
        raise NotInCrate(f"Track {beatport_id} is not in this crate.")
    return int(rows[0]["track"]), int(rows[0]["position"])


async def remove_track(crate_id: int, beatport_id: int) -> int:
    """Take a track out, closing up the positions after it; return the crate's size.
    Raise CrateNotFound or NotInCrate."""

    async def work(bulk: Bulk) -> int:
        await _lock(bulk, crate_id)
        track, position = await _position(bulk, crate_id, min(beatport_id, MAX_ID))
        await bulk.execute(
            "DELETE FROM crate_track WHERE crate = {} AND track = {}", crate_id, track
        )
        await bulk.execute(
            "UPDATE crate_track SET position = position - 1 WHERE crate = {} AND position > {}",
            crate_id,
            position,
        )
        await _touch(bulk, crate_id)
        return await _count(bulk, crate_id)

    return await db.write(work)


async def move_track(crate_id: int, beatport_id: int, *, to: int | None = None, by: int = 0) -> int:
    """Move a track to position `to` (from 1; past the end = last) or `by` places (−1 up,
    +1 down); the tracks between shift over. Return its new position (from 1). Raise
    CrateNotFound or NotInCrate."""

    async def work(bulk: Bulk) -> int:
        await _lock(bulk, crate_id)
        track, old = await _position(bulk, crate_id, min(beatport_id, MAX_ID))
        last = await _count(bulk, crate_id) - 1
        new = max(0, min(last, (to - 1) if to is not None else old + by))
        if new < old:
            await bulk.execute(
                "UPDATE crate_track SET position = position + 1"
                " WHERE crate = {} AND position >= {} AND position < {}",
                crate_id,
                new,
                old,
            )
        elif new > old:
            await bulk.execute(
                "UPDATE crate_track SET position = position - 1"
                " WHERE crate = {} AND position > {} AND position <= {}",
                crate_id,
                old,
                new,
            )
        if new != old:
            await bulk.execute(
                "UPDATE crate_track SET position = {} WHERE crate = {} AND track = {}",
                new,
                crate_id,
                track,
            )
            await _touch(bulk, crate_id)
        return new + 1

    return await db.write(work)
