"""Charts over time: every collection of a chart-like source (the Top 100, a genre's Top 100
or Hype 100, a chart) and what moved between two of them.

A source is known by its `key` (`top-100`, `genre-top-100-90`, `genre-hype-100-90`,
`chart-12`): its kind and Beatport id, whatever link, mode or schedule collected it.
Its collections are its ended Beatport collection jobs that saw tracks (`job_track` holds
each one's positions). A collection that stopped early (failed, cancelled, fewer tracks
than Beatport said, or far fewer than the source's collections usually have: a lower page
cap) is *partial*: it is shown, but compared with the last complete one, and nothing is
said to have dropped out of it.

A page is two reads: the collection jobs, then in one go the two collections compared
(with their tracks' names), per track shown its best position and collections held (from
the covering index `job_track_by_track`), and the newest collections' positions.
"""

from __future__ import annotations

import functools
import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from services import db
from services.beatport.targets import InvalidTarget, Target
from services.errors import InvalidRequest
from services.sql_dialect import number, sql
from services.track_display import shown_mix

COLLECT_KIND: Final = "collect_bp_tracks_task"
BEATPORT_WEB: Final = "https://www.beatport.com"
ENDED: Final = ("succeeded", "failed", "cancelled")
_PREFIXES: Final = {
    "top100": "top-100",
    "genre_top100": "genre-top-100-",
    "genre_hype100": "genre-hype-100-",
    "chart": "chart-",
}
# How many collections a track's history line draws (the newest ones).
LINE_COLLECTIONS: Final = 26
# A complete collection with fewer tracks than this share of the median of the last
# USUAL_OF complete ones is partial too.
SHORT_SHARE: Final = 0.9
USUAL_OF: Final = 5
LINE_WIDTH: Final = 120
LINE_HEIGHT: Final = 24


def source_key(target: Target) -> str | None:
    """The key of a chart-like source (None for a label, release, genre range…)."""
    prefix = _PREFIXES.get(target.kind)
    if prefix is None:
        return None
    return prefix if target.kind == "top100" else f"{prefix}{target.beatport_id}"


@dataclass(frozen=True, slots=True)
class Collection:
    """One ended collection of a source."""

    job_id: int
    task_id: str
    state: str
    collected_at: datetime
    tracks: int
    partial: bool


@dataclass(slots=True)
class Source:
    """A chart-like source and its collections, oldest first."""

    key: str
    name: str
    url: str
    collections: list[Collection] = field(default_factory=list)

    @property
    def latest(self) -> Collection:
        """The newest collection."""
        return self.collections[-1]

    def as_json(self) -> dict[str, Any]:
        """What `GET /charts` answers for it."""
        return {
            "key": self.key,
            "name": self.name,
            "url": self.url,
            "collections": len(self.collections),
            "last_collected_at": self.latest.collected_at.isoformat(),
        }


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _params(value: object) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


@functools.lru_cache(maxsize=4096)
def _source_of(params_text: str) -> tuple[str, str, str] | None:
    """(key, name, link) of a chart-like source's job parameters, else None (remembered:
    every page reads every collection's parameters)."""
    params = _params(params_text)
    try:
        target = Target.from_params(params.get("target") or {})
    except InvalidTarget:
        return None
    key = source_key(target)
    if key is None:
        return None
    return key, str(params.get("label") or target.title()), BEATPORT_WEB + target.web_path()


async def sources() -> list[Source]:
    """Every chart-like source collected at least once, most recently collected first."""
    [rows] = await db.database().read(
        sql(
            "SELECT id, task_id, params, state, done, total, created_at, finished_at FROM job"
            " WHERE kind = {} AND state IN ('succeeded', 'failed', 'cancelled') AND done > 0"
            " ORDER BY id",
            COLLECT_KIND,
        )
    )
    found: dict[str, Source] = {}
    for row in rows:
        known = _source_of(
            row["params"] if isinstance(row["params"], str) else json.dumps(row["params"])
        )
        if known is None:
            continue
        key, name, url = known
        done, total = int(row["done"] or 0), row["total"]
        collection = Collection(
            job_id=int(row["id"]),
            task_id=str(row["task_id"]),
            state=str(row["state"]),
            collected_at=_moment(row["finished_at"] or row["created_at"]),
            tracks=done,
            partial=row["state"] != "succeeded" or (total is not None and done < int(total)),
        )
        source = found.setdefault(key, Source(key, "", ""))
        if not collection.partial and _short(collection, source.collections):
            collection = replace(collection, partial=True)
        source.collections.append(collection)
        # The newest job names the source and gives the link (its slug may be newer).
        source.name, source.url = name, url
    return sorted(found.values(), key=lambda s: s.latest.collected_at, reverse=True)


def _short(collection: Collection, before: list[Collection]) -> bool:
    """True when a collection saw far fewer tracks (under SHORT_SHARE) than the source's
    last complete collections usually did: a lower page cap, a page Beatport left out."""
    usual = [c.tracks for c in before if not c.partial][-USUAL_OF:]
    return bool(usual) and collection.tracks < SHORT_SHARE * statistics.median(usual)


async def source(key: str) -> Source | None:
    """The source with this key, or None."""
    return next((s for s in await sources() if s.key == key), None)


async def new_entries(found: list[Source]) -> dict[str, int]:
    """Per source key: how many tracks its newest collection saw that none before it did."""
    parts = []
    for item in found:
        latest = item.latest.job_id
        earlier = [c.job_id for c in item.collections[:-1]]
        if not earlier:
            parts.append(
                f"SELECT {number(latest)} AS job, COUNT(*) AS n FROM job_track"
                f" WHERE job = {number(latest)}"
            )
            continue
        among = ", ".join(number(job) for job in earlier)
        parts.append(
            f"SELECT {number(latest)} AS job, COUNT(*) AS n FROM job_track jt"
            f" WHERE jt.job = {number(latest)} AND NOT EXISTS (SELECT 1 FROM job_track e"
            f" WHERE e.track = jt.track AND e.job IN ({among}))"
        )
    if not parts:
        return {}
    [rows] = await db.database().read(sql(" UNION ALL ".join(parts)))
    counts = {int(row["job"]): int(row["n"]) for row in rows}
    return {item.key: counts.get(item.latest.job_id, 0) for item in found}


@dataclass(slots=True)
class Entry:
    """A track of the collection shown, with its movement and history."""

    track_id: int
    position: int | None
    beatport_id: int
    title: str
    artists: str
    movement: str  # new, up, down, same, reentry
    change: int
    best: int | None
    weeks: int
    line: str  # the history line's points ("" when there is nothing to draw)

    def as_json(self) -> dict[str, Any]:
        """One entry of `GET /charts/{key}`."""
        return {
            "position": self.position,
            "beatport_id": self.beatport_id,
            "title": self.title,
            "movement": self.movement,
            "change": self.change,
        }


@dataclass(slots=True)
class Movement:
    """One collection of a source compared with another."""

    source: Source
    current: Collection
    previous: Collection | None
    # The collection before `current` that was skipped as partial, when there is one.
    skipped: list[Collection]
    entries: list[Entry]
    dropped: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """What `GET /charts/{key}` answers."""
        return {
            "key": self.source.key,
            "name": self.source.name,
            "url": self.source.url,
            "collected_at": self.current.collected_at.isoformat(),
            "previous_collected_at": (
                self.previous.collected_at.isoformat() if self.previous else None
            ),
            "entries": [entry.as_json() for entry in self.entries],
            "dropped": self.dropped,
        }


def _pick(found: Source, value: str | None, field_name: str) -> Collection | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    by_id = {str(c.job_id): c for c in found.collections}
    if text not in by_id:
        raise InvalidRequest(
            {
                field_name: f"{found.name} has no collection {text[:20]!r}: pick one of its "
                f"{len(found.collections)} collections from the list."
            }
        )
    return by_id[text]


def choose(
    found: Source, compare: str | None = None, against: str | None = None
) -> tuple[Collection, Collection | None, list[Collection]]:
    """The collection shown (`compare`, else the newest), the one it is compared with
    (`against`, else the last complete one before it) and the partial ones skipped."""
    current = _pick(found, compare, "compare") or found.latest
    previous = _pick(found, against, "with")
    skipped: list[Collection] = []
    if previous is None:
        for collection in reversed(found.collections):
            if collection.job_id >= current.job_id:
                continue
            if not collection.partial:
                previous = collection
                break
            skipped.append(collection)
    if previous is not None and previous.job_id == current.job_id:
        raise InvalidRequest({"with": "Pick two different collections to compare."})
    return current, previous, skipped


async def movement(
    found: Source, compare: str | None = None, against: str | None = None
) -> Movement:
    """`found`'s collection `compare` (else its newest) with each track's movement since
    `against` (else the last complete collection before it), its best position and weeks
    up to then, its history line, and what dropped out; raises InvalidRequest."""
    current, previous, skipped = choose(found, compare, against)
    upto = [c.job_id for c in found.collections if c.job_id <= current.job_id]
    recent = upto[-LINE_COLLECTIONS:]
    now, was = number(current.job_id), number(previous.job_id if previous else 0)
    # The two collections with their tracks' names; per track shown, its best position,
    # collections held and those before the previous one; the newest collections' positions.
    pair, held, lines = await db.database().read(
        sql(
            "SELECT jt.job, jt.track, jt.position, t.beatport_id, t.title, t.mix_name,"
            " t.artists_text FROM job_track jt JOIN track t ON t.id = jt.track"
            f" WHERE jt.job IN ({now}, {was})"
        ),
        sql(
            "SELECT jt.track, MIN(jt.position) AS best, COUNT(*) AS weeks,"
            f" SUM(CASE WHEN jt.job < {was} THEN 1 ELSE 0 END) AS earlier"
            # `+job`: read each track's own rows (index by track) and keep this source's,
            # rather than probe every (track, collection) pair.
            f" FROM job_track jt WHERE +jt.job IN ({_among(upto)}) AND jt.track IN"
            f" (SELECT track FROM job_track WHERE job = {now}) GROUP BY jt.track"
        ),
        sql(
            "SELECT job, track, position FROM job_track"
            f" WHERE +job IN ({_among(recent)}) AND track IN"
            f" (SELECT track FROM job_track WHERE job = {now})"
        ),
    )
    shown = {int(r["track"]): r for r in pair if int(r["job"]) == current.job_id}
    before = {int(r["track"]): r for r in pair if int(r["job"]) != current.job_id}
    stats = {int(r["track"]): r for r in held}
    history: dict[int, dict[int, int | None]] = {}
    deepest = max([2, *(int(r["position"] or 0) for r in lines)])
    for r in lines:
        history.setdefault(int(r["track"]), {})[int(r["job"])] = r["position"]
    entries = []
    for track, row in shown.items():
        position = row["position"]
        if track in before:
            was_at = before[track]["position"]
            change = was_at - position if was_at is not None and position is not None else 0
            kind = "up" if change > 0 else "down" if change < 0 else "same"
        else:
            change = 0
            kind = "reentry" if previous and int(stats[track]["earlier"] or 0) else "new"
        mine = history.get(track, {})
        entries.append(
            Entry(
                track_id=track,
                position=position,
                beatport_id=int(row["beatport_id"]),
                title=_title(row),
                artists=str(row["artists_text"] or ""),
                movement=kind,
                change=change,
                best=stats[track]["best"],
                weeks=int(stats[track]["weeks"]),
                line=history_line([mine.get(job) for job in recent], deepest=deepest),
            )
        )
    entries.sort(key=lambda e: (e.position is None, e.position or 0, e.title))
    gone = [] if current.partial or previous is None else [t for t in before if t not in shown]
    dropped = sorted(
        (
            {
                "beatport_id": int(before[t]["beatport_id"]),
                "title": _title(before[t]),
                "last_position": before[t]["position"],
            }
            for t in gone
        ),
        key=lambda d: (d["last_position"] is None, d["last_position"] or 0),
    )
    return Movement(found, current, previous, skipped, entries, dropped)


def _among(job_ids: list[int]) -> str:
    return ", ".join(number(job) for job in job_ids) or "0"


def _title(row: Mapping[str, Any]) -> str:
    """A track's title with its mix, as lists show it."""
    mix = shown_mix(row["title"], row["mix_name"] or "")
    return f"{row['title']} ({mix})" if mix else str(row["title"])


def history_line(history: list[int | None], *, deepest: int = 100) -> str:
    """A polyline's points for positions over collections: left to right oldest to newest,
    position 1 at the top, `deepest` (or a deeper one held) at the bottom. A collection
    without the track is skipped (the line joins the ones around it)."""
    if len(history) < 2:
        return ""
    step = LINE_WIDTH / (len(history) - 1)
    span = max(deepest, *(p for p in history if p is not None), 2) - 1
    points = [
        f"{index * step:.1f},{1 + (p - 1) * (LINE_HEIGHT - 2) / span:.1f}"
        for index, p in enumerate(history)
        if p is not None
    ]
    return " ".join(points) if len(points) >= 2 else ""
