"""What the library is narrowed to and how it is ordered: the tracks list's filter.

Pure values, no database: `parse_filter` reads one from query parameters (raising
InvalidRequest with a message per field), and a `TrackFilter` writes itself back as a
query string. The SQL for a filter is in services.track_queries.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from services import folding
from services.errors import InvalidRequest
from services.forms import whole_number, yes_no

# Counting every match costs a scan of every match; past this many, pages say "10,000+".
COUNT_CAP: Final = 10_000
# A word search is checked against each matching row (trigrams only narrow it down), so its
# count stops sooner.
SEARCH_COUNT_CAP: Final = 1_000
MAX_PAGE: Final = 1_000_000
MAX_QUERY_CHARS: Final = 200
MAX_QUERY_WORDS: Final = 8
MAX_ID: Final = 2**31 - 1
SORTS: Final = {
    "newest": "Newest first",
    "bpm": "BPM, slow to fast",
    "key": "Key (Camelot)",
    "title": "Title A–Z",
    "artist": "Artist A–Z",
    "label": "Label A–Z",
}
POSITION_SORT: Final = "position"
# A release's tracks in tracklist order (the release's page, or `release=`).
TRACKLIST_SORT: Final = "tracklist"
# The filters that take a name a person types as well as an id.
NAMED: Final = ("label", "artist")
MAX_NAME_CHARS: Final = 200
SPOTIFY_STATES: Final = {
    "matched": "On Spotify",
    "unmatched": "Not on Spotify (yet)",
    "not_found": "Searched, not found",
    "unsearched": "Never searched",
}
TRIAGE_STATES: Final = {
    "new": "Not decided yet",
    "kept": "Kept",
    "skipped": "Skipped",
}
RERELEASE_CHOICES: Final = {"0": "New music only", "1": "Re-releases only"}
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
    "triage",
    "rerelease",
    "job",
    "sort",
    "page",
)
_CAMELOT_RE: Final = re.compile(r"0?(1[0-2]|[1-9])([AB])")


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
    # What a dig decided ("new", "kept", "skipped"); a re-release or not (True / False).
    triage: str | None = None
    rerelease: bool | None = None
    job: str | None = None
    sort: str = "newest"
    page: int = 1
    # A typed label or artist name (when `label` / `artist` is not an id): the ones called
    # that, or else the ones whose name starts with it (services.name_keys).
    label_name: str = ""
    artist_name: str = ""

    @property
    def default_sort(self) -> str:
        """Chart order for one job's tracks, tracklist order for a release's, newest first
        otherwise."""
        return default_sort(job=self.job, release=self.release)

    @property
    def numbered(self) -> bool:
        """True when the order is a place in a list (chart position, track number)."""
        return self.sort in (POSITION_SORT, TRACKLIST_SORT)

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
            if name in NAMED and value is None:
                value = getattr(current, f"{name}_name")
            if name in without:
                continue
            if name == "rerelease":  # False is a choice too ("0": new music only)
                if value is None:
                    continue
                value = int(value)
            elif value in (None, "", False):
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

    @property
    def words(self) -> list[str]:
        """The searched words, folded like `search_text` (services.folding: no accents, case
        or punctuation); a single character would match nearly every track (and cost a scan
        of them all), so it is left out."""
        return [word for word in folding.words(self.q)[:MAX_QUERY_WORDS] if len(word) > 1]

    @property
    def count_cap(self) -> int:
        """How far a page counts the filter's matches."""
        return SEARCH_COUNT_CAP if self.q else COUNT_CAP


def default_sort(*, job: str | None, release: int | None) -> str:
    """The order a list has unless another is asked for."""
    if job:
        return POSITION_SORT
    return TRACKLIST_SORT if release is not None else "newest"


def _typed_names(errors: dict[str, str], raw: dict[str, str]) -> dict[str, str]:
    """The label and artist given as names (anything but digits), taken out of `raw`."""
    names: dict[str, str] = {}
    for name in NAMED:
        text = " ".join(raw[name].split())
        if not text or (text.isascii() and text.isdigit()):
            continue
        raw[name] = ""
        if len(text) > MAX_NAME_CHARS:
            errors[name] = f"Type at most {MAX_NAME_CHARS} characters of the {name}'s name."
        else:
            names[name] = text
    return names


def is_camelot_key(text: str) -> bool:
    """True for a Camelot key as `parse_filter` writes one (8A, 12B)."""
    return _CAMELOT_RE.fullmatch(text) is not None


def compatible_keys(key: str) -> list[str]:
    """A Camelot key and its harmonic neighbours: other letter, one up, one down (12 ↔ 1)."""
    number, letter = int(key[:-1]), key[-1]
    other = "B" if letter == "A" else "A"
    down = 12 if number == 1 else number - 1
    up = 1 if number == 12 else number + 1
    return [key, f"{number}{other}", f"{down}{letter}", f"{up}{letter}"]


def _whole(
    errors: dict[str, str], name: str, text: str, message: str, high: int = MAX_ID
) -> int | None:
    """A positive whole number up to `high` (ids, pages, BPM), or None when left empty."""
    return whole_number(errors, name, text, low=1, high=high, message=message)


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
    """Read a filter from query parameters; raise InvalidRequest saying what is wrong.

    `fixed` holds what the page's path decides (an artist's page: `{"artist": 7}`); it
    wins over the query.
    """
    raw = {name: str(params.get(name) or "").strip() for name in FILTER_FIELDS}
    errors: dict[str, str] = {}
    q = " ".join(raw["q"].split())
    if len(q) > MAX_QUERY_CHARS:
        errors["q"] = f"Search at most {MAX_QUERY_CHARS} characters."
    names = _typed_names(errors, raw)
    ids = {
        name: _whole(
            errors,
            name,
            raw[name],
            f"The {name} must be {'a name or ' if name in NAMED else ''}an id: a whole number.",
        )
        for name in ("genre", "label", "artist", "release")
    }
    for name, number in (fixed or {}).items():
        ids[name] = number
        names.pop(name, None)
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
    compatible = yes_no(raw["compatible"])
    if compatible is None:
        errors["compatible"] = "Compatible keys is either on (1) or off (0)."
    released_from = _day(errors, "released_from", raw["released_from"], "Released from")
    released_to = _day(errors, "released_to", raw["released_to"], "Released to")
    if released_from and released_to and released_from > released_to:
        errors["released_to"] = f"Released to ({released_to}) is before released from."
    spotify = raw["spotify"] or None
    if spotify is not None and spotify not in SPOTIFY_STATES:
        errors["spotify"] = "Spotify must be one of: " + ", ".join(SPOTIFY_STATES) + "."
    triage = raw["triage"] or None
    if triage is not None and triage not in TRIAGE_STATES:
        errors["triage"] = "Decision must be one of: " + ", ".join(TRIAGE_STATES) + "."
    rerelease = yes_no(raw["rerelease"]) if raw["rerelease"] else None
    if raw["rerelease"] and rerelease is None:
        errors["rerelease"] = "Re-release is either yes (1) or no (0)."
    job = raw["job"] or None
    if job is not None and len(job) > 64:
        errors["job"] = "That is not a job id."
    sort = raw["sort"] or default_sort(job=job, release=ids["release"])
    special = [POSITION_SORT] if job else []
    special += [TRACKLIST_SORT] if ids["release"] is not None else []
    if sort not in SORTS and sort not in special:
        errors["sort"] = f"Sort by one of: {', '.join([*SORTS, *special])}."
    page = _whole(
        errors, "page", raw["page"], f"The page must be a whole number from 1 to {MAX_PAGE:,}.",
        high=MAX_PAGE,
    )  # fmt: skip
    if errors:
        raise InvalidRequest(errors)
    return TrackFilter(
        q=q,
        genre=ids["genre"],
        bpm_min=bpm_min,
        bpm_max=bpm_max,
        key=key,
        compatible=bool(compatible) and key is not None,
        label=ids["label"],
        artist=ids["artist"],
        release=ids["release"],
        released_from=released_from,
        released_to=released_to,
        spotify=spotify,
        triage=triage,
        rerelease=None if rerelease is None else bool(rerelease),
        job=job,
        sort=sort,
        page=page or 1,
        label_name=names.get("label", ""),
        artist_name=names.get("artist", ""),
    )
