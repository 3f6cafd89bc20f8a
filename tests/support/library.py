"""A small, known library for the browsing tests, stored the way a collection stores it.

Every track is a Beatport v4 track object parsed by `parse_track` and written with
`store_tracks`; Spotify states are then set on the rows, as enrichment would leave them.
Names are distinct enough that a search for one word finds exactly the tracks meant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from services import jobs
from services.beatport.tracks import parse_track
from services.tables import Artist, Genre, Job, Label, Release, Track
from services.track_store import CollectCounts, store_tracks

API = "https://api-internal.beatportprod.com/v4"
HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_LABEL = '"><img src=x onerror=alert(1)>'
GENRES = {5: "House", 6: "Techno (Peak Time / Driving)", 7: "Trance (Main Floor)"}
KEY_NAMES = {
    "1A": "Ab Minor", "2A": "Eb Minor", "7A": "D Minor", "8A": "A Minor", "8B": "C Major",
    "9A": "E Minor", "12A": "Db Minor", "4B": "Ab Major",
}  # fmt: skip


def person(artist_id: int, name: str) -> dict[str, Any]:
    """An artist object as Beatport sends it."""
    return {"id": artist_id, "name": name, "slug": name.lower().replace(" ", "-")}


def label(label_id: int, name: str) -> dict[str, Any]:
    """A label object as Beatport sends it."""
    return {"id": label_id, "name": name, "slug": f"label-{label_id}"}


def beatport_track(
    beatport_id: int,
    title: str,
    *,
    artists: list[dict[str, Any]],
    remixers: list[dict[str, Any]] | None = None,
    mix: str = "Original Mix",
    label_obj: dict[str, Any] | None = None,
    release_id: int | None = None,
    release_name: str | None = None,
    genre: int | None = 5,
    bpm: int | None = 124,
    camelot: str | None = "8A",
    released: str | None = "2026-01-01",
    length_ms: int | None = 360_000,
    isrc: str | None = None,
    number: int | None = None,
) -> dict[str, Any]:
    """A Beatport v4 track object with the fields the tests care about (`number`: its
    place on the release, which Beatport gives on track and release pages)."""
    key = None
    if camelot is not None:
        key = {
            "camelot_number": int(camelot[:-1]),
            "camelot_letter": camelot[-1],
            "name": KEY_NAMES.get(camelot, "C Major"),
        }
    release = None
    if release_id is not None:
        release = {
            "id": release_id,
            "name": release_name or f"{title} EP",
            "slug": f"release-{release_id}",
            "image": {
                "uri": f"https://geo-media.beatport.com/image_size/1400x1400/{release_id}.jpg"
            },
            "label": label_obj,
        }
    return {
        "id": beatport_id,
        "name": title,
        "mix_name": mix,
        "slug": title.lower().replace(" ", "-")[:40] or "track",
        "artists": artists,
        "remixers": remixers or [],
        "bpm": bpm,
        "key": key,
        "genre": {"id": genre, "name": GENRES.get(genre, f"Genre {genre}"), "slug": f"g{genre}"}
        if genre is not None
        else None,
        "label": label_obj,
        "release": release,
        "isrc": isrc or f"GBTST26{beatport_id % 100000:05d}",
        "length_ms": length_ms,
        "new_release_date": released,
        "publish_date": released,
        "catalog_number": f"CAT{beatport_id}",
        "sample_url": f"https://geo-samples.beatport.com/track/{beatport_id}.LOFI.mp3",
        "sample_start_ms": 30_000,
        "sample_end_ms": 150_000,
        "price": {"display": "$1.49"},
        "url": f"{API}/catalog/tracks/{beatport_id}/",
        **({"number": number} if number is not None else {}),
    }


ALICE = person(101, "Alice Aurora")
BOB = person(102, "Bob Basalt")
CARA = person(103, "Cara Cobalt")
DAN = person(104, "Dan Dynamo")
EVE = person(105, "Eve Ember")
MALLORY = person(106, "Mallory Mischief")
NORTH = label(201, "Northern Lights Records")
SOUTH = label(202, "Southbound Audio")
WEST = label(203, "Westward Music")
HOSTILE = label(204, HOSTILE_LABEL)


def library_tracks() -> list[dict[str, Any]]:
    """The test library: ten tracks covering every filter, sort and missing value."""
    return [
        beatport_track(1001, "Alpha Signal", artists=[ALICE], label_obj=NORTH, release_id=301,
                       release_name="Northern Signals EP", genre=5, bpm=124, camelot="8A",
                       released="2026-01-10", number=2),
        beatport_track(1002, "Bravo Pulse", artists=[ALICE, BOB], label_obj=NORTH, release_id=301,
                       release_name="Northern Signals EP", genre=5, bpm=126, camelot="9A",
                       released="2026-01-10", number=1),
        beatport_track(1003, "Charlie Drive", artists=[BOB], remixers=[CARA],
                       mix="Cara Cobalt Remix", label_obj=SOUTH, release_id=302,
                       genre=6, bpm=130, camelot="8B", released="2025-12-20"),
        beatport_track(1004, "Delta Motion", artists=[BOB], label_obj=SOUTH, release_id=303,
                       genre=6, bpm=132, camelot="7A", released="2025-11-01"),
        beatport_track(1005, "Echo Garden", artists=[DAN], label_obj=WEST, release_id=304,
                       genre=7, bpm=138, camelot="1A", released="2025-10-10"),
        beatport_track(1006, "Foxtrot Horizon", artists=[DAN], label_obj=WEST, release_id=304,
                       genre=7, bpm=140, camelot="12A", released="2025-09-01"),
        beatport_track(1007, "Golf Fever", artists=[EVE], label_obj=NORTH, release_id=305,
                       genre=5, bpm=120, camelot="2A", released="2025-08-01"),
        beatport_track(1008, "Hotel Tide", artists=[ALICE], remixers=[CARA],
                       mix="Cara Cobalt Dub", label_obj=SOUTH, release_id=306,
                       genre=5, bpm=122, camelot="8A", released="2025-07-01"),
        beatport_track(1009, HOSTILE_TITLE, artists=[MALLORY], label_obj=HOSTILE, release_id=307,
                       genre=6, bpm=128, camelot="4B", released="2025-06-01"),
        beatport_track(1010, "India Unknown", artists=[EVE], label_obj=None, genre=None,
                       bpm=None, camelot=None, released=None, length_ms=None),
    ]  # fmt: skip


@dataclass
class Library:
    """Row ids of what was stored, by Beatport id, plus the job that saw the chart."""

    tracks: dict[int, int] = field(default_factory=dict)
    artists: dict[int, int] = field(default_factory=dict)
    labels: dict[int, int] = field(default_factory=dict)
    releases: dict[int, int] = field(default_factory=dict)
    genres: dict[int, int] = field(default_factory=dict)
    job_task_id: str = ""

    def track(self, beatport_id: int) -> int:
        """The row id of a track."""
        return self.tracks[beatport_id]


async def _ids(table: Any) -> dict[int, int]:
    rows = await table.select(table._meta.primary_key, table.beatport_id)
    return {int(row["beatport_id"]): int(row["id"]) for row in rows}


async def store_library(objects: list[dict[str, Any]] | None = None) -> Library:
    """Store the test library (or `objects`), set Spotify states, record a chart job."""
    parsed = [parse_track(obj) for obj in objects or library_tracks()]
    await store_tracks(parsed, CollectCounts())
    library = Library(
        tracks=await _ids(Track),
        artists=await _ids(Artist),
        labels=await _ids(Label),
        releases=await _ids(Release),
        genres=await _ids(Genre),
    )
    searched = datetime(2026, 1, 15, 12, 30, tzinfo=UTC)
    if 1001 in library.tracks:
        await Track.update(
            {
                Track.spotify_id: "4uLU6hMCjMI75M1A2tKUQC",
                Track.spotify_url: "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
                Track.spotify_title: "Alpha Signal",
                Track.spotify_artists: "Alice Aurora",
                Track.spotify_album: "Alpha Signal EP",
                Track.spotify_release_date: "2026-01-09",
                Track.spotify_duration_ms: 362_500,
                Track.spotify_method: "isrc",
                Track.spotify_confidence: 0.97,
                Track.spotify_searched_at: searched,
                Track.audio_features: json.dumps({"danceability": 0.81, "energy": 0.66}),
            }
        ).where(Track.beatport_id == 1001)
        await Track.update(
            {
                Track.spotify_id: "7ouMYWpwJ422jRcDASZB7P",
                Track.spotify_method: "text",
                Track.spotify_confidence: 0.85,
                Track.spotify_searched_at: searched,
            }
        ).where(Track.beatport_id == 1005)
        await Track.update({Track.spotify_searched_at: searched}).where(
            Track.beatport_id.is_in([1002, 1004])
        )
    return library


async def record_chart(library: Library, beatport_ids: list[int], task_id: str) -> None:
    """A finished chart collection that saw these tracks at positions 1, 2, 3…"""
    await jobs.create(
        task_id, "collect_bp_tracks_task", {"label": "chart 'test-chart' (#77)", "max_pages": 1}
    )
    row = await Job.select(Job._meta.primary_key).where(Job.task_id == task_id).first()
    assert row is not None
    by_id = {obj["id"]: obj for obj in library_tracks()}
    positioned = [
        replace(parse_track(by_id[beatport_id]), position=number)
        for number, beatport_id in enumerate(beatport_ids, start=1)
    ]
    await store_tracks(positioned, CollectCounts(), job_pk=int(row["id"]), ordered=True)
    await jobs.save_snapshot(task_id, jobs.Snapshot(state="succeeded", phase="done"))
    library.job_task_id = task_id
