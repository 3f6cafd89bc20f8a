"""The read side: what the library holds, shaped for the pages that show it.

A page of the tracks list is the filter (services.track_filter) turned into SQL
(services.track_queries, with the engine's services.sql_dialect) and read in one go
from the database this process uses (services.db): at most three queries, the count and
the rows together (in one read transaction on SQLite, side by side on PostgreSQL), plus
on SQLite one that sizes a search or an artist's credits to choose between two plans.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final, NamedTuple

from services import db, name_keys
from services.errors import InvalidRequest
from services.sql_dialect import Plan, dialect_of, number, sql
from services.track_display import shown_mix, thumbnail
from services.track_filter import COUNT_CAP, FILTER_FIELDS, TrackFilter, parse_filter
from services.track_queries import rows_query, summary_query

PER_PAGE: Final = 50
SUGGESTIONS: Final = 12
BEATPORT_WEB: Final = "https://www.beatport.com"
# The Camelot wheel with Beatport's key names.
CAMELOT: Final = [
    ("1A", "Ab Minor"), ("1B", "B Major"), ("2A", "Eb Minor"), ("2B", "Gb Major"),
    ("3A", "Bb Minor"), ("3B", "Db Major"), ("4A", "F Minor"), ("4B", "Ab Major"),
    ("5A", "C Minor"), ("5B", "Eb Major"), ("6A", "G Minor"), ("6B", "Bb Major"),
    ("7A", "D Minor"), ("7B", "F Major"), ("8A", "A Minor"), ("8B", "C Major"),
    ("9A", "E Minor"), ("9B", "G Major"), ("10A", "B Minor"), ("10B", "D Major"),
    ("11A", "Gb Minor"), ("11B", "A Major"), ("12A", "Db Minor"), ("12B", "E Major"),
]  # fmt: skip


# ---------------------------------------------------------------- the tracks list


class Ref(NamedTuple):
    """Something a track links to: an artist, label, release or genre."""

    id: int
    name: str


@dataclass(slots=True)
class TrackRow:
    """One line of the tracks list."""

    id: int
    title: str
    mix_name: str
    bpm: int | None
    key_name: str | None
    camelot: str | None
    length_ms: int | None
    released: date | None
    genre: Ref | None
    label: Ref | None
    release: Ref | None
    spotify: str
    sample_url: str | None
    artwork_url: str | None
    artists: list[Ref] = field(default_factory=list)
    remixers: list[Ref] = field(default_factory=list)
    position: int | None = None  # chart position or track number, in those orders
    beatport_id: int = 0
    triage: str = "new"  # what a dig decided (services.dig)
    rerelease: bool = False  # services.rerelease

    @property
    def mix(self) -> str:
        """The mix name to show after the title (see `shown_mix`)."""
        return shown_mix(self.title, self.mix_name)

    @property
    def thumbnail_url(self) -> str | None:
        """The release artwork, small."""
        return thumbnail(self.artwork_url)


@dataclass(frozen=True, slots=True)
class ArtistStats:
    """An artist's tracks in the library, in figures."""

    tracks: int
    releases: int
    labels: int
    bpm_low: int | None
    bpm_high: int | None


@dataclass(frozen=True, slots=True)
class Entity:
    """The artist, label, release or job a list is about."""

    kind: str
    id: int
    name: str
    image_url: str | None = None
    parent: Ref | None = None  # a release's label
    params: dict[str, Any] = field(default_factory=dict)  # a job's parameters
    beatport_url: str | None = None
    stats: ArtistStats | None = None  # an artist's page


@dataclass(slots=True)
class TrackPage:
    """One page of the library under a filter, or the reasons the filter was refused."""

    filter: TrackFilter | None
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    rows: list[TrackRow] = field(default_factory=list)
    total: int = 0
    per_page: int = PER_PAGE
    has_next: bool = False
    genres: list[Ref] = field(default_factory=list)
    entities: dict[str, Entity] = field(default_factory=dict)
    cap: int = COUNT_CAP

    @property
    def capped(self) -> bool:
        """True when there are more matches than were counted."""
        return self.total > self.cap

    @property
    def page(self) -> int:
        """The page number shown."""
        return self.filter.page if self.filter else 1

    @property
    def pages(self) -> int | None:
        """How many pages there are, when every match was counted."""
        return None if self.capped else max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """The number of the first track on this page (from 1)."""
        return (self.page - 1) * self.per_page + 1


def _spotify_state(spotify_id: object, searched_at: object) -> str:
    if spotify_id:
        return "matched"
    return "not_found" if searched_at else "unsearched"


def _ref(row: Mapping[str, Any], prefix: str) -> Ref | None:
    ref_id = row.get(f"{prefix}_id")
    return Ref(int(ref_id), str(row.get(f"{prefix}_name") or "")) if ref_id is not None else None


async def browse_tracks(
    params: Mapping[str, str],
    *,
    fixed: Mapping[str, int] | None = None,
    choices: bool = True,
    per_page: int = PER_PAGE,
) -> TrackPage | None:
    """One page of tracks under the filter in `params`, with its (capped) count.

    `fixed` is what the path decides (`{"label": 5}` on a label's page); None is returned
    when that artist, label or release does not exist; an artist's page (a full one, with
    `choices`) also reads the artist's figures. Invalid values come back as
    `errors`, with no rows. `choices` adds the genres the filter form offers. At most
    three queries; the count and the rows run together (in one read transaction on
    SQLite, side by side on PostgreSQL).
    """
    values = {name: str(params.get(name) or "") for name in FILTER_FIELDS}
    database = db.database()
    dialect = dialect_of(database.engine_type)
    try:
        track_filter = parse_filter(params, fixed=fixed)
    except InvalidRequest as exc:
        summary = summary_query(None, fixed or {}, dialect, choices=choices)
        found = (await database.read(summary))[0] if summary else []
        _, genres, entities = _read_summary(found, 0)
        if any(name not in entities for name in fixed or {}):
            return None
        return TrackPage(None, values, exc.errors, genres=genres, entities=entities)
    named: dict[str, int | str] = {
        name: value
        for name in ("label", "artist", "release")
        if (value := getattr(track_filter, name)) is not None
    }
    named.update(
        (name, text)
        for name in ("label", "artist")
        if name not in named and (text := getattr(track_filter, f"{name}_name"))
    )
    stats = (fixed or {}).get("artist") if choices else None
    plan = Plan()
    plan_query = dialect.plan_query(track_filter)
    if plan_query is not None:
        plan = dialect.read_plan(track_filter, (await database.read(plan_query))[0])
    rows = rows_query(
        track_filter,
        dialect,
        limit=per_page + 1,
        offset=(track_filter.page - 1) * per_page,
        walk_sets=plan.walk_rows,
    )
    summary = summary_query(track_filter, named, dialect, choices=choices, plan=plan, stats=stats)
    if summary is None:
        summary_rows, found_rows = [], (await database.read(rows))[0]
    else:
        summary_rows, found_rows = await database.read(summary, rows)
    total, genres, entities = _read_summary(summary_rows, plan.total or 0)
    tracks = read_rows(found_rows)
    if any(name not in entities for name in fixed or {}):
        return None
    page = TrackPage(
        track_filter,
        values,
        rows=tracks[:per_page],
        total=total,
        per_page=per_page,
        has_next=len(tracks) > per_page,
        genres=genres,
        entities=entities,
        cap=track_filter.count_cap,
    )
    asked = [*named, *(["job"] if track_filter.job is not None else [])]
    page.errors = {
        name: _missing(name, named.get(name, track_filter.job))
        for name in asked
        if name not in entities
    }
    if page.errors:
        page.filter, page.rows, page.total = None, [], 0
    return page


def _missing(kind: str, value: object) -> str:
    """Why a filter naming a label, artist, release or job shows nothing, in words."""
    if isinstance(value, str) and kind in ("label", "artist"):
        return f"No {kind} in the library is called “{value}”, nor has a name starting so."
    return f"There is no {kind} {value} in the library."


def _read_summary(
    rows: list[dict[str, Any]], total: int
) -> tuple[int, list[Ref], dict[str, Entity]]:
    """The count (`total` unless the rows hold one), genres and named things."""
    genres: list[Ref] = []
    entities: dict[str, Entity] = {}
    stats: ArtistStats | None = None
    for row in rows:
        kind = row["kind"]
        if kind == "total":
            total = int(row["id"])
        elif kind == "stats":
            stats = ArtistStats(
                int(row["id"]),
                int(row["releases"]),
                int(row["labels"]),
                row["bpm_low"],
                row["bpm_high"],
            )
        elif kind == "genre":
            genres.append(Ref(int(row["id"]), str(row["name"])))
        elif kind == "job":
            params = json.loads(row["image"]) if isinstance(row["image"], str) else {}
            entities["job"] = Entity(
                "job",
                int(row["id"]),
                str(row["name"]),
                parent=Ref(0, str(row["parent_name"] or "")),
                params=params if isinstance(params, dict) else {},
            )
        else:
            entities[kind] = Entity(
                kind,
                int(row["id"]),
                str(row["name"]),
                row["image"],
                _ref(row, "parent"),
                beatport_url=f"{BEATPORT_WEB}/{kind}/{row['slug'] or kind}/{row['beatport_id']}",
            )
    genres.sort(key=lambda genre: genre.name.lower())
    if stats is not None and "artist" in entities:
        entities["artist"] = replace(entities["artist"], stats=stats)
    return total, genres, entities


def read_rows(rows: list[dict[str, Any]]) -> list[TrackRow]:
    """Tracks from the rows query: one row per credit, grouped back into tracks, in order."""
    tracks: dict[int, TrackRow] = {}
    for row in rows:
        track = tracks.get(row["id"])
        if track is None:
            track = tracks[row["id"]] = TrackRow(
                id=int(row["id"]),
                title=row["title"],
                mix_name=row["mix_name"] or "",
                bpm=row["bpm"],
                key_name=row["key_name"],
                camelot=row["camelot"],
                length_ms=row["length_ms"],
                released=row["new_release_date"],
                genre=_ref(row, "genre"),
                label=_ref(row, "label"),
                release=_ref(row, "release"),
                spotify=_spotify_state(row["spotify_id"], row["searched"]),
                sample_url=row["sample_url"],
                artwork_url=row["artwork_url"],
                position=row["position"],
                beatport_id=int(row["beatport_id"]),
                triage=str(row["triage"] or "new"),
                rerelease=bool(row["rerelease"]),
            )
        if row["credit_id"] is not None:
            credit = Ref(int(row["credit_id"]), str(row["credit_name"]))
            (track.remixers if row["credit_role"] == "remixer" else track.artists).append(credit)
    return list(tracks.values())


async def suggest_names(kind: str, text: str) -> list[str]:
    """Up to SUGGESTIONS names of labels or artists (`kind`) starting with what was typed."""
    query = name_keys.suggestions(kind, text, SUGGESTIONS * 2)
    if query is None:
        return []
    found = (await db.database().read(query))[0]
    return list(dict.fromkeys(str(row["name"]) for row in found))[:SUGGESTIONS]


# ---------------------------------------------------------------- one track


async def get_track(track_id: int) -> dict[str, Any] | None:
    """Everything about one track (names of what it links to, credits, jobs), or None."""
    found, credits, sightings = await db.database().read(
        sql(
            "SELECT t.*, g.name AS genre_name, sg.name AS sub_genre_name, l.name AS label_name,"
            " r.name AS release_name FROM track t LEFT JOIN genre g ON g.id = t.genre"
            " LEFT JOIN sub_genre sg ON sg.id = t.sub_genre LEFT JOIN label l ON l.id = t.label"
            f" LEFT JOIN release r ON r.id = t.release WHERE t.id = {number(track_id)}"
        ),
        sql(
            "SELECT ta.role, a.id, a.name FROM track_artist ta"
            f" JOIN artist a ON a.id = ta.artist WHERE ta.track = {number(track_id)}"
            " ORDER BY ta.role, ta.position"
        ),
        sql(
            "SELECT j.task_id, j.kind, j.state, j.params, j.created_at, jt.position"
            f" FROM job_track jt JOIN job j ON j.id = jt.job WHERE jt.track = {number(track_id)}"
            " ORDER BY j.created_at DESC, j.id DESC LIMIT 50"
        ),
    )
    if not found:
        return None
    track: dict[str, Any] = dict(found[0])
    for name in ("beatport_json", "audio_features"):
        value = track.get(name)
        if isinstance(value, str):
            try:
                track[name] = json.loads(value)
            except ValueError:
                track[name] = None
    track["artists"] = [Ref(row["id"], row["name"]) for row in credits if row["role"] != "remixer"]
    track["remixers"] = [Ref(row["id"], row["name"]) for row in credits if row["role"] == "remixer"]
    track["jobs"] = [
        {**row, "params": json.loads(row["params"]) if isinstance(row["params"], str) else {}}
        for row in sightings
    ]
    track["spotify_state"] = _spotify_state(track["spotify_id"], track["spotify_searched_at"])
    track["beatport_url"] = beatport_url(track["slug"], track["beatport_id"])
    track["mix"] = shown_mix(track["title"], track["mix_name"] or "", original=True)
    return track


def beatport_url(slug: str | None, beatport_id: int) -> str:
    """The track's public page on Beatport."""
    return f"{BEATPORT_WEB}/track/{slug or 'track'}/{beatport_id}"
