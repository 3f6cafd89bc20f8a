"""The read side: what the library holds, shaped for the pages that show it.

Browsing writes its own SQL because the pages must stay fast with 100,000 tracks on both
engines: words are looked up in a trigram index (pg_trgm on PostgreSQL, FTS5 on SQLite),
every sort walks an index that also holds the filter columns, counts stop at a cap, and a
page costs two queries (the count with the form's choices, and the rows), plus on SQLite
one that sizes a search or an artist's credits to choose between two plans. On SQLite the
reads run on connections kept open between pages (see `_read`). NULL sorts as the
smallest value on both engines, as SQLite does natively.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import sqlite3
import threading
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final, NamedTuple
from urllib.parse import urlencode

from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString

from services import db
from services.tables import Track

PER_PAGE: Final = 50
# Counting every match costs a scan of every match; past this many, pages say "10,000+".
COUNT_CAP: Final = 10_000
# A word search is checked against each matching row (trigrams only narrow it down), so its
# count stops sooner.
SEARCH_COUNT_CAP: Final = 1_000
MAX_PAGE: Final = 1_000_000
MAX_QUERY_CHARS: Final = 200
MAX_QUERY_WORDS: Final = 8
EXPORT_CHUNK: Final = 2000
BEATPORT_WEB: Final = "https://www.beatport.com"
_MAX_ID: Final = 2**31 - 1

SORTS: Final = {
    "newest": "Newest first",
    "bpm": "BPM, slow to fast",
    "key": "Key (Camelot)",
    "title": "Title A–Z",
    "artist": "Artist A–Z",
    "label": "Label A–Z",
}
POSITION_SORT: Final = "position"
SPOTIFY_STATES: Final = {
    "matched": "On Spotify",
    "unmatched": "Not on Spotify (yet)",
    "not_found": "Searched, not found",
    "unsearched": "Never searched",
}
# The Camelot wheel with Beatport's key names.
CAMELOT: Final = [
    ("1A", "Ab Minor"), ("1B", "B Major"), ("2A", "Eb Minor"), ("2B", "Gb Major"),
    ("3A", "Bb Minor"), ("3B", "Db Major"), ("4A", "F Minor"), ("4B", "Ab Major"),
    ("5A", "C Minor"), ("5B", "Eb Major"), ("6A", "G Minor"), ("6B", "Bb Major"),
    ("7A", "D Minor"), ("7B", "F Major"), ("8A", "A Minor"), ("8B", "C Major"),
    ("9A", "E Minor"), ("9B", "G Major"), ("10A", "B Minor"), ("10B", "D Major"),
    ("11A", "Gb Minor"), ("11B", "A Major"), ("12A", "Db Minor"), ("12B", "E Major"),
]  # fmt: skip
FILTER_FIELDS: Final = (
    "q",
    "genre",
    "bpm_min",
    "bpm_max",
    "key",
    "compatible",
    "label",
    "artist",
    "release",
    "released_from",
    "released_to",
    "spotify",
    "job",
    "sort",
    "page",
)
_CAMELOT_RE: Final = re.compile(r"0?(1[0-2]|[1-9])([AB])")
_TRUE: Final = frozenset({"1", "on", "true", "yes"})
_FALSE: Final = frozenset({"", "0", "off", "false", "no"})


# ---------------------------------------------------------------- filters


class InvalidFilter(ValueError):
    """Filter values that make no sense; `errors` maps each field to a message in words."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class TrackFilter:
    """What the library is narrowed to and how it is ordered; every field optional."""

    q: str = ""
    genre: int | None = None
    bpm_min: int | None = None
    bpm_max: int | None = None
    key: str | None = None
    compatible: bool = False
    label: int | None = None
    artist: int | None = None
    release: int | None = None
    released_from: date | None = None
    released_to: date | None = None
    spotify: str | None = None
    job: str | None = None
    sort: str = "newest"
    page: int = 1

    @property
    def default_sort(self) -> str:
        """Chart order for one job's tracks, newest first otherwise."""
        return POSITION_SORT if self.job else "newest"

    @property
    def keys(self) -> list[str]:
        """The Camelot keys asked for: the key, plus its neighbours when `compatible`."""
        if self.key is None:
            return []
        return compatible_keys(self.key) if self.compatible else [self.key]

    def params(self, *, without: Collection[str] = (), **changes: Any) -> list[tuple[str, str]]:
        """The non-default values as query parameters, in a stable order."""
        current = replace(self, **changes) if changes else self
        out: list[tuple[str, str]] = []
        for name in FILTER_FIELDS:
            value = getattr(current, name)
            if name in without or value in (None, "", False):
                continue
            if (name == "sort" and value == current.default_sort) or (
                name == "page" and value == 1
            ):
                continue
            if name == "compatible":
                value = 1
            out.append((name, value.isoformat() if isinstance(value, date) else str(value)))
        return out

    def query(self, *, without: Collection[str] = (), **changes: Any) -> str:
        """`params` as a URL query string (no leading "?")."""
        return urlencode(self.params(without=without, **changes))

    @property
    def narrowed(self) -> bool:
        """True when anything but the order and the page is set."""
        return bool(self.params(without=("sort", "page")))


def compatible_keys(key: str) -> list[str]:
    """A Camelot key and its harmonic neighbours: other letter, one up, one down (12 ↔ 1)."""
    number, letter = int(key[:-1]), key[-1]
    other = "B" if letter == "A" else "A"
    down = 12 if number == 1 else number - 1
    up = 1 if number == 12 else number + 1
    return [key, f"{number}{other}", f"{down}{letter}", f"{up}{letter}"]


def _whole(
    errors: dict[str, str], name: str, text: str, message: str, low: int = 1, high: int = _MAX_ID
) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        errors[name] = message
        return None
    return value


def _day(errors: dict[str, str], name: str, text: str, words: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = f"{words} must be a date like 2026-01-31."
        return None


def parse_filter(
    params: Mapping[str, str], *, fixed: Mapping[str, int] | None = None
) -> TrackFilter:
    """Read a filter from query parameters; raise InvalidFilter saying what is wrong.

    `fixed` holds what the page's path decides (an artist's page: `{"artist": 7}`); it
    wins over the query.
    """
    raw = {name: str(params.get(name) or "").strip() for name in FILTER_FIELDS}
    errors: dict[str, str] = {}
    q = " ".join(raw["q"].split())
    if len(q) > MAX_QUERY_CHARS:
        errors["q"] = f"Search at most {MAX_QUERY_CHARS} characters."
    ids = {
        name: _whole(errors, name, raw[name], f"The {name} must be an id: a whole number.")
        for name in ("genre", "label", "artist", "release")
    }
    for name, number in (fixed or {}).items():
        ids[name] = number
        errors.pop(name, None)
    bpm_message = "BPM {} must be a whole number from 1 to 999."
    bpm_min = _whole(errors, "bpm_min", raw["bpm_min"], bpm_message.format("from"), high=999)
    bpm_max = _whole(errors, "bpm_max", raw["bpm_max"], bpm_message.format("to"), high=999)
    if bpm_min is not None and bpm_max is not None and bpm_min > bpm_max:
        errors["bpm_max"] = f"BPM to ({bpm_max}) is below BPM from ({bpm_min})."
    key: str | None = None
    if raw["key"]:
        match = _CAMELOT_RE.fullmatch(raw["key"].upper())
        if match is None:
            errors["key"] = "The key must be a Camelot key like 8A: 1 to 12, then A or B."
        else:
            key = f"{int(match.group(1))}{match.group(2)}"
    compatible = raw["compatible"].lower() in _TRUE
    if raw["compatible"].lower() not in _TRUE | _FALSE:
        errors["compatible"] = "Compatible keys is either on (1) or off (0)."
    released_from = _day(errors, "released_from", raw["released_from"], "Released from")
    released_to = _day(errors, "released_to", raw["released_to"], "Released to")
    if released_from and released_to and released_from > released_to:
        errors["released_to"] = f"Released to ({released_to}) is before released from."
    spotify = raw["spotify"] or None
    if spotify is not None and spotify not in SPOTIFY_STATES:
        errors["spotify"] = "Spotify must be one of: " + ", ".join(SPOTIFY_STATES) + "."
    job = raw["job"] or None
    if job is not None and len(job) > 64:
        errors["job"] = "That is not a job id."
    sort = raw["sort"] or (POSITION_SORT if job else "newest")
    if sort not in SORTS and not (sort == POSITION_SORT and job):
        choices = ", ".join(SORTS) + (f", {POSITION_SORT}" if job else "")
        errors["sort"] = f"Sort by one of: {choices}."
    page = _whole(
        errors, "page", raw["page"], f"The page must be a whole number from 1 to {MAX_PAGE:,}.",
        high=MAX_PAGE,
    )  # fmt: skip
    if errors:
        raise InvalidFilter(errors)
    return TrackFilter(
        q=q,
        genre=ids["genre"],
        bpm_min=bpm_min,
        bpm_max=bpm_max,
        key=key,
        compatible=compatible and key is not None,
        label=ids["label"],
        artist=ids["artist"],
        release=ids["release"],
        released_from=released_from,
        released_to=released_to,
        spotify=spotify,
        job=job,
        sort=sort,
        page=page or 1,
    )


# ---------------------------------------------------------------- SQL pieces


def _sql(text: str, *args: Any) -> QueryString:
    return QueryString(text, *args)


def _number(value: int) -> str:
    """A whole number written into the SQL itself (see `_conditions`)."""
    return str(int(value))


def _day_literal(value: date, *, sqlite: bool) -> str:
    """A date written into the SQL itself; SQLite keeps dates as ISO text."""
    text = date.fromisoformat(value.isoformat()).isoformat()  # digits and dashes only
    return f"'{text}'" if sqlite else f"DATE '{text}'"


def _joined(separator: str, parts: list[QueryString]) -> QueryString:
    return QueryString(separator.join("{}" for _ in parts), *parts)


def _like(word: str) -> str:
    """A LIKE pattern matching `word` anywhere, with LIKE's own wildcards escaped."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Columns the broad filters read; every browse index carries them (see the migration).
_BROAD: Final = frozenset(
    {"bpm", "camelot", "new_release_date", "spotify_id", "spotify_searched_at"}
)
# Past this many tracks in a set filter (search matches, an artist's credits, a job's
# tracks), SQLite finds a page faster by walking the sort's covering index and checking
# each track against the set than by reading every track of the set.
_WALK_FROM: Final = 500


def _words(track_filter: TrackFilter) -> list[str]:
    """The searched words, lowercased like `search_text`; a single character would match
    nearly every track (and cost a scan of them all), so it is left out."""
    return [word for word in track_filter.q.lower().split()[:MAX_QUERY_WORDS] if len(word) > 1]


def _fts_match(track_filter: TrackFilter) -> str | None:
    """The FTS5 query for the search words FTS5 can look up (three characters or more)."""
    words = [word for word in _words(track_filter) if len(word) >= 3]
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in words) or None


def _fts_ids(track_filter: TrackFilter, match: str) -> QueryString:
    """The ids of tracks holding every word FTS5 can look up: those in the index, and
    those still waiting to enter it (services.search_index), matched with LIKE."""
    words = [word for word in _words(track_filter) if len(word) >= 3]
    likes = _joined(
        " AND ", [_sql("s.search_text LIKE {} ESCAPE '\\'", _like(word)) for word in words]
    )
    return _sql(
        "SELECT rowid FROM track_fts WHERE track_fts MATCH {} UNION ALL"
        # CROSS JOIN keeps the (short) queue as the outer loop: SQLite has no statistics
        # for it and would otherwise scan every track and probe the queue.
        " SELECT p.track FROM search_pending p CROSS JOIN track s ON s.id = p.track"
        " WHERE {}",
        match,
        likes,
    )


def _conditions(
    track_filter: TrackFilter,
    *,
    sqlite: bool,
    plain: Collection[str] = (),
    walk_sets: bool = False,
) -> list[QueryString]:
    """The WHERE terms for a filter, over `track t` (a job's chart order is a join instead).

    On SQLite the columns in `plain` are written `+t.column`, which keeps the planner from
    using that column's own index: the query then walks the covering index it was steered
    to (the sort's) and reads the filter off each entry. `walk_sets` does the same for
    the sets of track ids (search matches, an artist's credits, a job's tracks).

    Numbers, dates and keys (all validated by `parse_filter`) are written into the SQL,
    not passed as parameters: PostgreSQL switches a statement run five times to a generic
    plan, made without the values, and for these queries that plan is three times slower.
    Searched words and job ids stay parameters.
    """
    f = track_filter
    terms: list[QueryString] = []

    def column(name: str) -> str:
        return f"+t.{name}" if sqlite and name in plain else f"t.{name}"

    def among(subquery: str, *args: Any) -> QueryString:
        """Tracks whose id a subquery lists."""
        if not sqlite:
            # ANY(ARRAY(...)) runs the subquery first; PostgreSQL then reads just those
            # tracks, where an IN often made it walk the whole sort index probing each.
            return _sql(f"t.id = ANY(ARRAY({subquery}))", *args)
        return _sql(f"{'+t.id' if walk_sets else 't.id'} IN ({subquery})", *args)

    words = _words(f)
    if sqlite:
        match = _fts_match(f)
        if match is not None:
            terms.append(among("{}", _fts_ids(f, match)))
        # FTS5's trigram index needs three characters; shorter words are matched with LIKE.
        words = [word for word in words if len(word) < 3]
    terms += [_sql("t.search_text LIKE {} ESCAPE '\\'", _like(word)) for word in words]
    if f.genre is not None:
        terms.append(_sql(f"t.genre = {_number(f.genre)}"))
    if f.bpm_min is not None:
        terms.append(_sql(f"{column('bpm')} >= {_number(f.bpm_min)}"))
    if f.bpm_max is not None:
        terms.append(_sql(f"{column('bpm')} <= {_number(f.bpm_max)}"))
    if f.keys:
        keys = ", ".join(f"'{key}'" for key in f.keys if _CAMELOT_RE.fullmatch(key))
        terms.append(_sql(f"{column('camelot')} IN ({keys})"))
    if f.label is not None:
        terms.append(_sql(f"t.label = {_number(f.label)}"))
    if f.release is not None:
        terms.append(_sql(f"t.release = {_number(f.release)}"))
    if f.artist is not None:
        terms.append(
            among(f"SELECT ta.track FROM track_artist ta WHERE ta.artist = {_number(f.artist)}")
        )
    if f.released_from is not None:
        day = _day_literal(f.released_from, sqlite=sqlite)
        terms.append(_sql(f"{column('new_release_date')} >= {day}"))
    if f.released_to is not None:
        day = _day_literal(f.released_to, sqlite=sqlite)
        terms.append(_sql(f"{column('new_release_date')} <= {day}"))
    found, searched = column("spotify_id"), column("spotify_searched_at")
    if f.spotify == "matched":
        terms.append(_sql(f"{found} IS NOT NULL"))
    elif f.spotify == "unmatched":
        terms.append(_sql(f"{found} IS NULL"))
    elif f.spotify == "not_found":
        terms.append(_sql(f"{found} IS NULL AND {searched} IS NOT NULL"))
    elif f.spotify == "unsearched":
        terms.append(_sql(f"{searched} IS NULL"))
    if f.job is not None and f.sort != POSITION_SORT:
        terms.append(
            among(
                "SELECT jt.track FROM job_track jt JOIN job j ON j.id = jt.job"
                " WHERE j.task_id = {}",
                f.job,
            )
        )
    return terms


def _where(terms: list[QueryString]) -> QueryString:
    return _sql(" WHERE {}", _joined(" AND ", terms)) if terms else _sql("")


@dataclass(frozen=True, slots=True)
class _Order:
    """How one sort orders tracks: key expressions, then the id, all in one direction."""

    keys: tuple[str, ...]
    descending: bool = False
    # The column that is NULL for tracks without a sort value; they sort as the smallest.
    nullable: str | None = None
    # False when the keys themselves are never NULL (the label sort reads them off label).
    null_keys: bool = True
    # A filter column that leads the sort's index, so a range on it narrows the walk.
    leading: str | None = None


_ORDERS: Final = {
    "newest": _Order(("t.new_release_date",), True, "t.new_release_date", True, "new_release_date"),
    "bpm": _Order(("t.bpm",), False, "t.bpm", True, "bpm"),
    "key": _Order(("length(t.camelot)", "t.camelot"), False, "t.camelot"),
    "title": _Order(("lower(t.title)",)),
    "artist": _Order(("lower(t.artists_text)",)),
    "label": _Order(("lower(l.name)", "l.id"), False, "t.label", null_keys=False),
    POSITION_SORT: _Order(("jt.position",), False, "jt.position"),
}


def _order_by(order: _Order, keys: Collection[str], id_column: str, *, sqlite: bool) -> str:
    """ORDER BY terms: PostgreSQL is told where NULLs go, matching the indexes and SQLite."""
    direction = " DESC" if order.descending else " ASC"
    nulls = ""
    if not sqlite and order.nullable is not None and order.null_keys:
        nulls = " NULLS LAST" if order.descending else " NULLS FIRST"
    return ", ".join([*(key + direction + nulls for key in keys), id_column + direction])


def _sort_columns(order: _Order) -> list[str]:
    return [f"s{number}" for number in range(len(order.keys))]


def _ordered_ids(
    track_filter: TrackFilter,
    *,
    sqlite: bool,
    limit: int,
    offset: int = 0,
    after: tuple[Any, ...] | None = None,
    phase: str | None = None,
    walk_sets: bool = False,
) -> QueryString:
    """The ids (and sort keys s0, s1…) of one page of matching tracks, in order.

    Pages use `offset`. The export walks with `after` (the last row's keys and id) within
    a `phase`: "null" is the tracks without a sort value, "value" the rest.
    """
    order = _ORDERS[track_filter.sort]
    terms = _conditions(
        track_filter,
        sqlite=sqlite,
        plain=_BROAD - {order.leading or ""},
        walk_sets=walk_sets,
    )
    columns = _sort_columns(order)
    compare = "<" if order.descending else ">"
    page = _sql(f" LIMIT {_number(limit)} OFFSET {_number(offset)}")
    if track_filter.sort == "label":
        return _label_ordered_ids(terms, sqlite=sqlite, page=page, after=after, phase=phase)
    source = "track t"
    if track_filter.sort == POSITION_SORT:
        source = "job_track jt JOIN track t ON t.id = jt.track"
        terms.insert(0, _job_term(track_filter))
    if phase == "null" and order.nullable:
        terms.append(_sql(f"{order.nullable} IS NULL"))
        if after is not None:
            terms.append(_sql(f"t.id {compare} {{}}", after[-1]))
    elif phase == "value":
        if order.nullable:
            terms.append(_sql(f"{order.nullable} IS NOT NULL"))
        if after is not None:
            marks = ", ".join("{}" for _ in after)
            terms.append(_sql(f"({', '.join(order.keys)}, t.id) {compare} ({marks})", *after))
    selected = ", ".join(f"{key} AS {name}" for key, name in zip(order.keys, columns, strict=True))
    return _sql(
        f"SELECT t.id AS id, {selected} FROM {source}{{}} ORDER BY "
        + _order_by(order, order.keys, "t.id", sqlite=sqlite)
        + "{}",
        _where(terms),
        page,
    )


def _job_term(track_filter: TrackFilter) -> QueryString:
    return _sql("jt.job = (SELECT j.id FROM job j WHERE j.task_id = {})", track_filter.job)


def _label_ordered_ids(
    terms: list[QueryString],
    *,
    sqlite: bool,
    page: QueryString,
    after: tuple[Any, ...] | None,
    phase: str | None,
) -> QueryString:
    """Label order as two ordered halves merged: tracks without a label, then label by label.

    The second half walks the label-name index into each label's tracks, so no query ever
    sorts the whole library by a column of another table.
    """
    no_label = [_sql("t.label IS NULL"), *terms]
    labelled = list(terms)
    if after is not None and phase == "null":
        no_label.append(_sql("t.id > {}", after[-1]))
    elif after is not None:
        labelled.append(_sql("(lower(l.name), l.id, t.id) > ({}, {}, {})", *after))
    halves = []
    # PostgreSQL merges two halves in order when each is ordered in parentheses; SQLite
    # merges them by itself and does not accept the parentheses.
    merge = not sqlite and phase is None
    if phase in (None, "null"):
        half = "SELECT t.id AS id, '' AS s0, 0 AS s1 FROM track t{}"
        halves.append(_sql(f"({half} ORDER BY t.id)" if merge else half, _where(no_label)))
    if phase in (None, "value"):
        half = (
            "SELECT t.id AS id, lower(l.name) AS s0, l.id AS s1"
            " FROM label l JOIN track t ON t.label = l.id{}"
        )
        ordered = f"({half} ORDER BY lower(l.name), l.id, t.id)"
        halves.append(_sql(ordered if merge else half, _where(labelled)))
    return _sql("{} ORDER BY s0, s1, id{}", _joined(" UNION ALL ", halves), page)


def _outer_order(track_filter: TrackFilter, *, sqlite: bool) -> str:
    order = _ORDERS[track_filter.sort]
    names = [f"p.{name}" for name in _sort_columns(order)]
    return _order_by(order, names, "p.id", sqlite=sqlite)


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


def count_cap(track_filter: TrackFilter) -> int:
    """How far a page counts the filter's matches."""
    return SEARCH_COUNT_CAP if track_filter.q else COUNT_CAP


def _spotify_state(spotify_id: object, searched_at: object) -> str:
    if spotify_id:
        return "matched"
    return "not_found" if searched_at else "unsearched"


def _ref(row: Mapping[str, Any], prefix: str) -> Ref | None:
    ref_id = row.get(f"{prefix}_id")
    return Ref(int(ref_id), str(row.get(f"{prefix}_name") or "")) if ref_id is not None else None


@dataclass(frozen=True, slots=True)
class _Plan:
    """How SQLite should use the filter's sets of track ids (see `_WALK_FROM`)."""

    total: int | None = None  # the count, when the search is the whole filter
    walk_rows: bool = False
    walk_count: bool = False


def _plan_query(track_filter: TrackFilter) -> QueryString | None:
    """SQLite: the size of the smallest set of track ids the filter names (search matches,
    an artist's credits, a job's tracks), read off their indexes alone; None without sets."""
    f = track_filter
    sizes = _set_sizes(f)
    if not sizes:
        return None
    # SQLite's MIN with several arguments is the smallest of them.
    smallest = next(iter(sizes.values()))
    if len(sizes) > 1:
        smallest = _sql("MIN({})", _joined(", ", list(sizes.values())))
    return _sql("SELECT {} AS smallest", smallest)


def _set_sizes(f: TrackFilter) -> dict[str, QueryString]:
    sizes: dict[str, QueryString] = {}
    cap = _number(COUNT_CAP + 1)
    match = _fts_match(f)
    if match is not None:
        sizes["q"] = _sql(f"(SELECT COUNT(*) FROM ({{}} LIMIT {cap}) capped)", _fts_ids(f, match))
    if f.artist is not None:
        # DISTINCT: an artist can be credited twice on one track (as artist and remixer).
        sizes["artist"] = _sql(
            "(SELECT COUNT(*) FROM (SELECT DISTINCT track FROM track_artist"
            f" WHERE artist = {_number(f.artist)} LIMIT {cap}) capped)"
        )
    if f.job is not None and f.sort != POSITION_SORT:
        sizes["job"] = _sql(
            "(SELECT COUNT(*) FROM (SELECT jt.track FROM job_track jt JOIN job j"
            f" ON j.id = jt.job WHERE j.task_id = {{}} LIMIT {cap}) capped)",
            f.job,
        )
    return sizes


def _read_plan(f: TrackFilter, rows: list[dict[str, Any]]) -> _Plan:
    """The plan for the smallest set's size; when that set is the whole filter, its size
    is the page's count, and no count query runs."""
    smallest = int(rows[0]["smallest"])
    narrowing = [name for name, _ in f.params(without=("sort", "page"))]
    # Words under three letters are matched outside FTS5, so then FTS5's count is not it.
    words_only = all(len(word) >= 3 for word in _words(f))
    alone = narrowing == list(_set_sizes(f)) and len(narrowing) == 1 and (not f.q or words_only)
    return _Plan(
        total=min(smallest, count_cap(f) + 1) if alone else None,
        walk_rows=smallest > _WALK_FROM,
        # Reading a track's row costs about as much as walking ten index entries.
        walk_count=smallest > 8 * _WALK_FROM,
    )


async def browse_tracks(
    params: Mapping[str, str],
    *,
    fixed: Mapping[str, int] | None = None,
    choices: bool = True,
    per_page: int = PER_PAGE,
) -> TrackPage | None:
    """One page of tracks under the filter in `params`, with its (capped) count.

    `fixed` is what the path decides (`{"label": 5}` on a label's page); None is returned
    when that artist, label or release does not exist. Invalid values come back as
    `errors`, with no rows. `choices` adds the genres the filter form offers. At most
    three queries; the count and the rows run together (in one read transaction on
    SQLite, side by side on PostgreSQL).
    """
    values = {name: str(params.get(name) or "") for name in FILTER_FIELDS}
    sqlite = db.is_sqlite()
    try:
        track_filter = parse_filter(params, fixed=fixed)
    except InvalidFilter as exc:
        summary = _summary_query(None, fixed or {}, choices=choices, sqlite=sqlite)
        found = (await _read(summary))[0] if summary else []
        _, genres, entities = _read_summary(found, 0)
        if any(name not in entities for name in fixed or {}):
            return None
        return TrackPage(None, values, exc.errors, genres=genres, entities=entities)
    named = {
        name: value
        for name in ("label", "artist", "release")
        if (value := getattr(track_filter, name)) is not None
    }
    plan = _Plan()
    plan_query = _plan_query(track_filter) if sqlite else None
    if plan_query is not None:
        plan = _read_plan(track_filter, (await _read(plan_query))[0])
    rows_query = _rows_query(
        track_filter,
        sqlite=sqlite,
        limit=per_page + 1,
        offset=(track_filter.page - 1) * per_page,
        walk_sets=plan.walk_rows,
    )
    summary = _summary_query(track_filter, named, choices=choices, sqlite=sqlite, plan=plan)
    if summary is None:
        summary_rows, found_rows = [], (await _read(rows_query))[0]
    else:
        summary_rows, found_rows = await _read(summary, rows_query)
    total, genres, entities = _read_summary(summary_rows, plan.total or 0)
    rows = _read_rows(found_rows)
    if any(name not in entities for name in fixed or {}):
        return None
    page = TrackPage(
        track_filter,
        values,
        rows=rows[:per_page],
        total=total,
        per_page=per_page,
        has_next=len(rows) > per_page,
        genres=genres,
        entities=entities,
        cap=count_cap(track_filter),
    )
    asked = [*named, *(["job"] if track_filter.job is not None else [])]
    page.errors = {
        name: f"There is no {name} {getattr(track_filter, name)} in the library."
        for name in asked
        if name not in entities
    }
    if page.errors:
        page.filter, page.rows, page.total = None, [], 0
    return page


_SUMMARY_COLUMNS: Final = (
    "kind",
    "id",
    "name",
    "image",
    "parent_id",
    "parent_name",
    "beatport_id",
    "slug",
)
_INTEGERS: Final = frozenset({"id", "parent_id", "beatport_id"})


def _summary_part(tail: str, *args: Any, **columns: str) -> QueryString:
    """One branch of the summary UNION; the columns not given are NULLs of the right type
    (PostgreSQL matches a UNION's column types branch by branch)."""
    select = ", ".join(
        columns.get(name, "CAST(NULL AS INTEGER)" if name in _INTEGERS else "CAST(NULL AS TEXT)")
        + f" AS {name}"
        for name in _SUMMARY_COLUMNS
    )
    return _sql(f"SELECT {select}{tail}", *args)


def _summary_query(
    track_filter: TrackFilter | None,
    named: Mapping[str, int],
    *,
    choices: bool,
    sqlite: bool,
    plan: _Plan = _Plan(),
) -> QueryString | None:
    """One query for the capped count, the genre choices and the named things (a label's,
    artist's or release's name and picture, a job's parameters); None if none is wanted."""
    parts: list[QueryString] = []
    if track_filter is not None and plan.total is None:
        # On SQLite, spotify_id's own index holds no other column: the state index covers both.
        terms = _conditions(
            track_filter, sqlite=sqlite, plain=("spotify_id",), walk_sets=plan.walk_count
        )
        source = "track t"
        if track_filter.sort == POSITION_SORT:
            source = "job_track jt JOIN track t ON t.id = jt.track"
            terms.insert(0, _job_term(track_filter))
        cap = _number(count_cap(track_filter) + 1)
        count = f"(SELECT COUNT(*) FROM (SELECT 1 AS one FROM {source}{{}} LIMIT {cap}) capped)"
        parts.append(_summary_part("", _where(terms), kind="'total'", id=count))
    if track_filter is not None and track_filter.job is not None:
        parts.append(
            _summary_part(
                " FROM job j WHERE j.task_id = {}",
                track_filter.job,
                kind="'job'",
                id="j.id",
                name="j.task_id",
                image="CAST(j.params AS TEXT)",
                parent_name="j.kind",
            )
        )
    if choices:
        parts.append(_summary_part(" FROM genre g", kind="'genre'", id="g.id", name="g.name"))
    for name, number in named.items():
        columns = {
            "kind": f"'{name}'",
            "id": "x.id",
            "name": "x.name",
            "image": "x.image_url",
            "beatport_id": "x.beatport_id",
            "slug": "x.slug",
        }
        if name == "release":
            parts.append(
                _summary_part(
                    " FROM release x LEFT JOIN label rl ON rl.id = x.label"
                    f" WHERE x.id = {_number(number)}",
                    **columns,
                    parent_id="rl.id",
                    parent_name="rl.name",
                )
            )
        else:
            where = f" FROM {name} x WHERE x.id = {_number(number)}"
            parts.append(_summary_part(where, **columns))
    return _joined(" UNION ALL ", parts) if parts else None


def _read_summary(
    rows: list[dict[str, Any]], total: int
) -> tuple[int, list[Ref], dict[str, Entity]]:
    """The count (`total` unless the rows hold one), genres and named things."""
    genres: list[Ref] = []
    entities: dict[str, Entity] = {}
    for row in rows:
        kind = row["kind"]
        if kind == "total":
            total = int(row["id"])
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
    return total, genres, entities


# Names come from scalar subqueries, not joins: PostgreSQL then plans a join of four
# relations instead of seven, which took longer to plan than to run. Integers are read
# as `x + 0` so that SQLite hands them over as they are (see `_EXPORT_COLUMNS`).
_ROW_COLUMNS: Final = (
    "t.id + 0 AS id, t.title, t.mix_name, t.bpm + 0 AS bpm, t.key_name, t.camelot,"
    " t.length_ms + 0 AS length_ms, t.new_release_date, t.sample_url, t.artwork_url,"
    " t.spotify_id, t.spotify_searched_at IS NOT NULL AS searched,"
    " t.genre + 0 AS genre_id, (SELECT g.name FROM genre g WHERE g.id = t.genre) AS genre_name,"
    " t.label + 0 AS label_id, (SELECT l.name FROM label l WHERE l.id = t.label) AS label_name,"
    " t.release + 0 AS release_id,"
    " (SELECT r.name FROM release r WHERE r.id = t.release) AS release_name"
)


def _rows_query(
    track_filter: TrackFilter, *, sqlite: bool, limit: int, offset: int, walk_sets: bool
) -> QueryString:
    """The page's tracks with their genre, label, release and credits, in one query."""
    ids = _ordered_ids(track_filter, sqlite=sqlite, limit=limit, offset=offset, walk_sets=walk_sets)
    return _sql(
        f"SELECT {_ROW_COLUMNS}, ta.role AS credit_role, a.id + 0 AS credit_id,"
        " a.name AS credit_name FROM ({}) p JOIN track t ON t.id = p.id"
        " LEFT JOIN track_artist ta ON ta.track = t.id LEFT JOIN artist a ON a.id = ta.artist"
        f" ORDER BY {_outer_order(track_filter, sqlite=sqlite)}, ta.role, ta.position",
        ids,
    )


def _read_rows(rows: list[dict[str, Any]]) -> list[TrackRow]:
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
            )
        if row["credit_id"] is not None:
            credit = Ref(int(row["credit_id"]), str(row["credit_name"]))
            (track.remixers if row["credit_role"] == "remixer" else track.artists).append(credit)
    return list(tracks.values())


# ---------------------------------------------------------------- one track


async def get_track(track_id: int) -> dict[str, Any] | None:
    """Everything about one track (names of what it links to, credits, jobs), or None."""
    found, credits, sightings = await _read(
        _sql(
            "SELECT t.*, g.name AS genre_name, sg.name AS sub_genre_name, l.name AS label_name,"
            " r.name AS release_name FROM track t LEFT JOIN genre g ON g.id = t.genre"
            " LEFT JOIN sub_genre sg ON sg.id = t.sub_genre LEFT JOIN label l ON l.id = t.label"
            f" LEFT JOIN release r ON r.id = t.release WHERE t.id = {_number(track_id)}"
        ),
        _sql(
            "SELECT ta.role, a.id, a.name FROM track_artist ta"
            f" JOIN artist a ON a.id = ta.artist WHERE ta.track = {_number(track_id)}"
            " ORDER BY ta.role, ta.position"
        ),
        _sql(
            "SELECT j.task_id, j.kind, j.state, j.params, j.created_at, jt.position"
            f" FROM job_track jt JOIN job j ON j.id = jt.job WHERE jt.track = {_number(track_id)}"
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
    return track


# ---------------------------------------------------------------- running queries

# SQLite: a few threads of our own, each keeping its connections open from one page to
# the next. Piccolo would open a connection (and a thread) per query, parse the schema
# again and start with a cold page cache: a page then costs twice as much. PostgreSQL
# has its connection pool, and there the queries of a page run side by side.
_SQLITE_THREADS: Final = 4
_SQLITE_PER_THREAD: Final = 2
_sqlite_executor = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix="crate-read")
_sqlite_local = threading.local()


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _sqlite_connection(settings: Mapping[str, Any]) -> sqlite3.Connection:
    """This thread's open connection to the database in `settings` (Piccolo's settings)."""
    cached: OrderedDict[str, tuple[sqlite3.Connection, int]] = _sqlite_local.__dict__.setdefault(
        "connections", OrderedDict()
    )
    path = str(settings["database"])
    # A file replaced under the same name (a restored backup, say) needs a new connection.
    inode = os.stat(path).st_ino
    connection, opened_on = cached.pop(path, (None, inode))
    if connection is not None and opened_on != inode:
        connection.close()
        connection = None
    if connection is None:
        connection = sqlite3.connect(**settings)
        connection.row_factory = _dict_row
    cached[path] = (connection, inode)
    while len(cached) > _SQLITE_PER_THREAD:
        cached.popitem(last=False)[1][0].close()
    return connection


def _sqlite_read(
    settings: Mapping[str, Any], statements: list[tuple[str, list[Any]]], tuples: bool
) -> list[list[Any]]:
    """Run statements in one read transaction, so they all see the same library."""
    connection = _sqlite_connection(settings)
    try:
        connection.execute("BEGIN")
        try:
            results = []
            for sql, args in statements:
                cursor = connection.cursor()
                if tuples:
                    cursor.row_factory = None
                results.append(cursor.execute(sql, args).fetchall())
            return results
        finally:
            connection.execute("COMMIT")
    except sqlite3.Error:
        # Keep no connection in an unknown state; the next page opens a fresh one.
        _sqlite_local.connections.pop(str(settings["database"]), None)
        connection.close()
        raise


async def _read(*queries: QueryString) -> list[list[dict[str, Any]]]:
    """Run a page's queries and return each one's rows (as dicts), in order."""
    engine = db.current()
    if isinstance(engine, SQLiteEngine):
        statements = [query.compile_string(engine_type="sqlite") for query in queries]
        settings = dict(engine.connection_kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            _sqlite_executor, _sqlite_read, settings, statements, False
        )
    results = await asyncio.gather(*(Track.raw("{}", query).run() for query in queries))
    return [list(rows) for rows in results]


async def _read_tuples(query: QueryString) -> list[Sequence[Any]]:
    """One query's rows as plain tuples (cheaper by the hundred thousand)."""
    engine = db.current()
    if isinstance(engine, SQLiteEngine):
        statement = query.compile_string(engine_type="sqlite")
        settings = dict(engine.connection_kwargs)
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(
            _sqlite_executor, _sqlite_read, settings, [statement], True
        )
        return list(found[0])
    pool = getattr(engine, "pool", None)
    if pool is None:
        return [tuple(row.values()) for row in await Track.raw("{}", query)]
    # asyncpg's records are tuples already; Piccolo would turn each into a dict.
    sql, args = query.compile_string(engine_type="postgres")
    async with pool.acquire() as connection:
        return list(await connection.fetch(sql, *args))


def beatport_url(slug: str | None, beatport_id: int) -> str:
    """The track's public page on Beatport."""
    return f"{BEATPORT_WEB}/track/{slug or 'track'}/{beatport_id}"


# ---------------------------------------------------------------- walking a whole list


async def ordered_chunks(
    track_filter: TrackFilter, columns: str, *, chunk: int = EXPORT_CHUNK, ahead: int = 2
) -> AsyncIterator[list[Sequence[Any]]]:
    """Every track under the filter, in the list's order, `chunk` rows at a time.

    Each row holds `columns` (SQL over the track as `t` and its release as `r`), then
    the track's id (and its chart position when the list is in a job's chart order).
    A keyset walk: each chunk starts after the last sort key of the one before, found
    with a cheap index-only query, so no chunk re-reads earlier rows. The chunks' rows
    (the costly part) are fetched up to `ahead` at a time and handed out in order;
    memory holds those few chunks, however large the library.
    """
    sqlite = db.is_sqlite()
    order = _ORDERS[track_filter.sort]
    sort_keys = _sort_columns(order)
    phases = ["value"] if order.nullable is None else ["null", "value"]
    if order.descending and order.nullable is not None:
        phases.reverse()
    position = ", p.s0 AS position" if track_filter.sort == POSITION_SORT else ""
    outer = _outer_order(track_filter, sqlite=sqlite)
    pending: deque[asyncio.Future[list[Sequence[Any]]]] = deque()

    async def fetch(phase: str, after: tuple[Any, ...] | None) -> list[Sequence[Any]]:
        ids = _ordered_ids(track_filter, sqlite=sqlite, limit=chunk, after=after, phase=phase)
        return await _read_tuples(
            _sql(
                f"SELECT {columns}, p.id + 0 AS id{position}"
                " FROM ({}) p JOIN track t ON t.id = p.id"
                f" LEFT JOIN release r ON r.id = t.release ORDER BY {outer}",
                ids,
            )
        )

    async def next_start(phase: str, after: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """Where the chunk after the one starting at `after` starts; None if none does."""
        ids = _ordered_ids(
            track_filter, sqlite=sqlite, limit=1, offset=chunk - 1, after=after, phase=phase
        )
        rows = await _read_tuples(_sql(f"SELECT id, {', '.join(sort_keys)} FROM ({{}}) k", ids))
        if not rows:
            return None
        found_id, *keys = rows[0]
        return (*keys, found_id)

    try:
        for phase in phases:
            after: tuple[Any, ...] | None = None
            while True:
                pending.append(asyncio.ensure_future(fetch(phase, after)))
                after = await next_start(phase, after)
                while pending and (len(pending) >= ahead or after is None):
                    rows = await pending.popleft()
                    if rows:
                        yield rows
                if after is None:
                    break
    finally:
        # A client that stops reading must not leave queries running on their own.
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
