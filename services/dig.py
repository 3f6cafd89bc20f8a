"""Dig mode's reads and writes: the ordered tracks of a filter, one track's card, a decision.

A dig is built for speed. Its page reads the filter's matching tracks' Beatport ids once, in
the filter's order (at most MAX_TRACKS, tracks nobody decided on unless the filter asks for
others); after that, moving on costs one small read by Beatport id (`track_card`, the
unique index) and a decision one indexed write (`set_triage`). Both engines run the same
SQL (services.track_queries for the list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from services import crates, db
from services.errors import InvalidRequest
from services.rerelease import as_day, latest_day
from services.sql_dialect import dialect_of, number, sql
from services.tables import Track
from services.track_display import minutes_seconds, shown_mix, thumbnail
from services.track_filter import TRIAGE_STATES, TrackFilter, parse_filter
from services.track_queries import ordered_ids, outer_order

# The most tracks one dig walks through (a week of one genre is a few hundred).
MAX_TRACKS: Final = 5_000
DECISIONS: Final = ("kept", "skipped", "new")


@dataclass(frozen=True, slots=True)
class DigList:
    """A dig's filter (triage `new` unless it says otherwise) and its tracks' Beatport ids."""

    filter: TrackFilter
    beatport_ids: list[int]

    @property
    def capped(self) -> bool:
        return len(self.beatport_ids) >= MAX_TRACKS


def dig_filter(params: Mapping[str, str]) -> TrackFilter:
    """The filter of `/dig?…`: the `/tracks` one, narrowed to undecided tracks unless it
    names a decision itself (`triage=kept` digs the kept ones again). The page is ignored:
    a dig walks every match. Raises InvalidRequest like `parse_filter`."""
    values = {name: str(value) for name, value in params.items() if name != "page"}
    if not values.get("triage"):
        values["triage"] = "new"
    return parse_filter(values)


async def dig_list(params: Mapping[str, str]) -> DigList:
    """The filter's tracks (their Beatport ids) in its order, in one query."""
    track_filter = dig_filter(params)
    database = db.database()
    dialect = dialect_of(database.engine_type)
    ids = ordered_ids(track_filter, dialect, limit=MAX_TRACKS)
    query = sql(
        "SELECT t.beatport_id + 0 AS beatport_id FROM ({}) p JOIN track t ON t.id = p.id"
        f" ORDER BY {outer_order(track_filter, dialect)}",
        ids,
    )
    rows = await database.read_tuples(query)
    return DigList(track_filter, [int(row[0]) for row in rows])


_CARD_COLUMNS: Final = (
    "t.id + 0 AS id, t.beatport_id + 0 AS beatport_id, t.title, t.mix_name, t.artists_text,"
    " t.remixers_text, t.bpm + 0 AS bpm, t.key_name, t.camelot, t.length_ms + 0 AS length_ms,"
    " t.new_release_date, t.sample_url, t.artwork_url, t.spotify_url, t.spotify_album,"
    " t.spotify_release_date, t.rerelease, t.triage,"
    " (SELECT l.name FROM label l WHERE l.id = t.label) AS label,"
    " (SELECT g.name FROM genre g WHERE g.id = t.genre) AS genre"
)


async def track_card(beatport_id: int) -> dict[str, Any] | None:
    """What the dig shows and plays for one track (JSON-ready), or None if unknown."""
    rows = (
        await db.database().read(
            sql(f"SELECT {_CARD_COLUMNS} FROM track t WHERE t.beatport_id = {number(beatport_id)}")
        )
    )[0]
    if not rows:
        return None
    row = rows[0]
    released = as_day(row["new_release_date"])
    spotify_day = latest_day(row["spotify_release_date"])
    return {
        "beatport_id": int(row["beatport_id"]),
        "url": f"/tracks/{int(row['id'])}",
        "title": row["title"],
        "mix": shown_mix(row["title"], row["mix_name"] or ""),
        "artists": row["artists_text"] or "",
        "remixers": row["remixers_text"] or "",
        "label": row["label"],
        "genre": row["genre"],
        "bpm": row["bpm"],
        "key": row["key_name"],
        "camelot": row["camelot"],
        "length": minutes_seconds(row["length_ms"]),
        "released": released.isoformat() if released else None,
        "sample_url": row["sample_url"],
        "artwork_url": thumbnail(row["artwork_url"]),
        "spotify_url": row["spotify_url"],
        "rerelease": bool(row["rerelease"]),
        "spotify_album": row["spotify_album"] if row["rerelease"] else None,
        "spotify_released": row["spotify_release_date"] if spotify_day else None,
        "triage": row["triage"],
    }


def read_decision(fields: Mapping[str, str]) -> str:
    """The decision a form or JSON body names; InvalidRequest in words otherwise."""
    decision = str(fields.get("decision") or "").strip()
    if decision not in DECISIONS:
        raise InvalidRequest(
            {"decision": "The decision must be one of: " + ", ".join(DECISIONS) + "."}
        )
    return decision


async def set_triage(beatport_id: int, decision: str) -> bool:
    """Remember a dig's decision on a track ("kept", "skipped", or "new" to undo one);
    False when there is no such track."""
    if decision not in TRIAGE_STATES:
        raise InvalidRequest({"decision": "The decision must be one of: kept, skipped, new."})
    changed = (
        await Track.update(
            {
                Track.triage: decision,
                Track.triage_at: None if decision == "new" else datetime.now(UTC),
            }
        )
        .where(Track.beatport_id == beatport_id)
        .returning(Track.beatport_id)
    )
    return bool(changed)


async def decide(beatport_id: int, decision: str, crate_id: int | None) -> dict[str, Any] | None:
    """Remember a decision and, for a keep into a crate, add the track at the crate's end
    (once: `crates.add_tracks`). None when there is no such track; raises
    crates.CrateNotFound before changing anything when there is no such crate."""
    if crate_id is not None:
        await crates.get_crate(crate_id)
    if not await set_triage(beatport_id, decision):
        return None
    added: dict[str, Any] | None = None
    if crate_id is not None:
        result = await crates.add_tracks(crate_id, [beatport_id])
        added = {"id": crate_id, "added": result.added, "total": result.total}
    return {"beatport_id": beatport_id, "triage": decision, "crate": added}
