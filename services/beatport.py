"""Beatport: what a user may ask Crate to collect, and Beatport's track data turned into values.

Two sources carry the same v4 track objects: the public pages' embedded `__NEXT_DATA__`
JSON (web mode) and the v4 catalog API (API mode). Everything in this module is pure:
no network, no files, no clock except where a date is passed in. Fetching lives in
`services.beatport_client`, which builds every URL from a `Target` and the configured
base URLs, never from what a user typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

import msgspec

# Beatport ids are stored in 32-bit integer columns.
MAX_BEATPORT_ID: Final = 2**31 - 1
MAX_TARGET_CHARS: Final = 2000
MAX_RANGE_DAYS: Final = 366

KINDS: Final = (
    "top100",
    "genre_top100",
    "genre_hype100",
    "chart",
    "release",
    "track",
    "label",
    "artist",
    "genre_dates",
)
ORDERED_KINDS: Final = frozenset({"top100", "genre_top100", "genre_hype100", "chart", "release"})

ACCEPTED_LINKS: Final = (
    "Crate accepts links on www.beatport.com of these kinds: /top-100, "
    "/genre/{slug}/{id}/top-100, /genre/{slug}/{id}/hype-100, /chart/{slug}/{id}, "
    "/release/{slug}/{id}, /track/{slug}/{id}, /label/{slug}/{id}/tracks, "
    "/artist/{slug}/{id}/tracks (for example https://www.beatport.com/chart/peak-time/12345)."
)
ACCEPTED_GENRE_RANGE: Final = (
    "Crate accepts a genre id (a positive whole number) with a publish-date range of at "
    f"most {MAX_RANGE_DAYS} days that ends no later than a year from today."
)

_HOSTS: Final = frozenset({"www.beatport.com", "beatport.com"})
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_SLUG_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")
_ID_RE: Final = re.compile(r"[0-9]{1,10}")
_LOCALE_RE: Final = re.compile(r"[A-Za-z]{2}")
_IPV4ISH_RE: Final = re.compile(r"[0-9.]+|0x[0-9a-f.x]*|[0-9]+")
_LIST_WORDS: Final = {"top-100": "genre_top100", "hype-100": "genre_hype100"}
_KIND_WORDS: Final = {
    "genre_top100": "Top 100",
    "genre_hype100": "Hype 100",
}


class InvalidTarget(ValueError):
    """What the user asked to collect is not something Crate will fetch; the message says why."""

    def __init__(self, problem: str, *, accepted: str = ACCEPTED_LINKS) -> None:
        self.problem = problem
        self.accepted = accepted
        super().__init__(f"{problem} {accepted}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the two-part message intact through pickling (job results, subprocesses).
        return (_rebuild_invalid_target, (self.problem, self.accepted))


def _rebuild_invalid_target(problem: str, accepted: str) -> InvalidTarget:
    return InvalidTarget(problem, accepted=accepted)


class ParseError(ValueError):
    """Beatport data did not have the shape Crate needs; the message says what was missing."""


# ---------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to collect: a Beatport list or track, or a genre's releases in a date range."""

    kind: str
    beatport_id: int | None = None
    slug: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidTarget(f"{self.kind!r} is not a kind of Beatport source Crate knows.")
        if self.kind == "top100":
            if self.beatport_id is not None:
                raise InvalidTarget("The Beatport Top 100 has no id.")
        elif not _valid_id(self.beatport_id):
            raise InvalidTarget(
                f"A {self.kind.replace('_', ' ')} needs a Beatport id from 1 to {MAX_BEATPORT_ID}."
            )
        if self.slug is not None and not _SLUG_RE.fullmatch(self.slug):
            raise InvalidTarget("A Beatport slug is made of letters, digits, '-' and '_' only.")
        if self.kind == "genre_dates":
            if not isinstance(self.date_from, date) or not isinstance(self.date_to, date):
                raise InvalidTarget(
                    "A genre date range needs both dates.", accepted=ACCEPTED_GENRE_RANGE
                )
            _check_range(self.date_from, self.date_to)
        elif self.date_from is not None or self.date_to is not None:
            raise InvalidTarget("Only a genre date range takes dates.")

    @property
    def ordered(self) -> bool:
        """True when a track's place in the list means something (charts, top lists, releases)."""
        return self.kind in ORDERED_KINDS

    def describe(self) -> str:
        """Say what this target is in words, for job lists and messages."""
        name = f"'{self.slug}' " if self.slug else ""
        number = f"(#{self.beatport_id})"
        match self.kind:
            case "top100":
                return "Beatport Top 100"
            case "genre_top100" | "genre_hype100":
                return f"genre {name}{_KIND_WORDS[self.kind]} {number}"
            case "label" | "artist":
                return f"{self.kind} {name}{number} tracks"
            case "genre_dates":
                return (
                    f"genre #{self.beatport_id} releases published "
                    f"{self.date_from} to {self.date_to}"
                )
            case _:
                return f"{self.kind} {name}{number}"

    def short(self) -> str:
        """A few words naming the target, e.g. "chart #123", for error messages."""
        match self.kind:
            case "top100":
                return "the Beatport Top 100"
            case "genre_top100" | "genre_hype100":
                return f"the {_KIND_WORDS[self.kind]} of genre #{self.beatport_id}"
            case "genre_dates":
                return f"genre #{self.beatport_id} ({self.date_from} to {self.date_to})"
            case _:
                return f"{self.kind} #{self.beatport_id}"

    def web_path(self) -> str:
        """The path of this target's public Beatport page, built from the fields only."""
        slug = self.slug or self.kind.split("_")[0]
        match self.kind:
            case "top100":
                return "/top-100"
            case "genre_top100":
                return f"/genre/{slug}/{self.beatport_id}/top-100"
            case "genre_hype100":
                return f"/genre/{slug}/{self.beatport_id}/hype-100"
            case "label" | "artist" | "genre_dates":
                return f"/{self.kind.split('_')[0]}/{slug}/{self.beatport_id}/tracks"
            case _:
                return f"/{self.kind}/{slug}/{self.beatport_id}"

    def to_params(self) -> dict[str, Any]:
        """JSON-safe job parameters; `from_params` reads them back."""
        return {
            "kind": self.kind,
            "beatport_id": self.beatport_id,
            "slug": self.slug,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Target:
        """Rebuild a target from `to_params` output; raises InvalidTarget when it does not fit."""
        if not isinstance(params, Mapping):
            raise InvalidTarget("Stored collection parameters are not a mapping.")
        kind = params.get("kind")
        if not isinstance(kind, str):
            raise InvalidTarget("Stored collection parameters have no kind.")
        beatport_id = params.get("beatport_id")
        if beatport_id is not None and not _valid_id(beatport_id):
            raise InvalidTarget("Stored collection parameters have a bad Beatport id.")
        slug = params.get("slug")
        if slug is not None and not isinstance(slug, str):
            raise InvalidTarget("Stored collection parameters have a bad slug.")
        return cls(
            kind=kind,
            beatport_id=beatport_id,
            slug=slug,
            date_from=_param_date(params.get("date_from")),
            date_to=_param_date(params.get("date_to")),
        )


def _valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_BEATPORT_ID


def _param_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidTarget("Stored collection parameters have a date that is not YYYY-MM-DD.")


def _check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InvalidTarget(
            f"The start date {date_from} is after the end date {date_to}.",
            accepted=ACCEPTED_GENRE_RANGE,
        )
    days = (date_to - date_from).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidTarget(
            f"The date range covers {days} days; split it into ranges of at most "
            f"{MAX_RANGE_DAYS} days.",
            accepted=ACCEPTED_GENRE_RANGE,
        )


def genre_target(
    genre_id: int, date_from: date, date_to: date, *, today: date | None = None
) -> Target:
    """A genre's tracks published in a date range, checked for sense (ids, order, length)."""
    if not _valid_id(genre_id):
        raise InvalidTarget(
            f"The genre id must be a whole number from 1 to {MAX_BEATPORT_ID}.",
            accepted=ACCEPTED_GENRE_RANGE,
        )
    _check_range(date_from, date_to)
    latest = (today or date.today()) + timedelta(days=366)
    if date_to > latest:
        raise InvalidTarget(
            f"The end date {date_to} is more than a year in the future.",
            accepted=ACCEPTED_GENRE_RANGE,
        )
    return Target("genre_dates", genre_id, None, date_from, date_to)


def _show(text: str, limit: int = 60) -> str:
    """A user's text quoted for a message, shortened."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _char_name(ch: str) -> str:
    return f"{ch!r} (U+{ord(ch):04X})"


def parse_target(text: str) -> Target:
    """Turn a pasted Beatport link into a Target, refusing anything else with InvalidTarget."""
    if not isinstance(text, str):
        raise InvalidTarget("Paste a Beatport link as text.")
    if len(text) > MAX_TARGET_CHARS:
        raise InvalidTarget(
            f"That link is {len(text)} characters long; a Beatport link has at most "
            f"{MAX_TARGET_CHARS}."
        )
    url = text.strip()
    if not url:
        raise InvalidTarget("Paste a Beatport link; the field is empty.")
    for ch in url:
        if ch.isspace() or unicodedata.category(ch)[0] in "CZ":
            raise InvalidTarget(
                f"The link contains a space or an invisible control character {_char_name(ch)}."
            )
    if not url.isascii():
        bad = next(ch for ch in url if not ch.isascii())
        raise InvalidTarget(
            f"The link contains the non-ASCII character {_char_name(bad)}; Beatport links are "
            "plain ASCII, and look-alike letters are a common trick."
        )
    if "\\" in url:
        raise InvalidTarget("The link contains a backslash, which Beatport links never have.")

    scheme_match = _SCHEME_RE.match(url)
    if scheme_match is None:
        raise InvalidTarget(
            "The link must start with https:// (for example https://www.beatport.com/top-100)."
        )
    scheme = scheme_match.group(1).lower()
    if scheme not in ("https", "http"):
        raise InvalidTarget(f"Only https:// links are accepted, not {scheme}: links.")
    rest = url[scheme_match.end() :]
    if not rest.startswith("//"):
        raise InvalidTarget("The link must start with https:// followed by the host name.")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    _check_host(authority)

    cut = min((i for i in (remainder.find(c) for c in "?#") if i >= 0), default=len(remainder))
    # The query string and fragment are ignored: nothing from them is ever used.
    path = remainder[:cut]
    if "%" in path:
        raise InvalidTarget(
            "The link's path contains percent-encoded characters, which Beatport links never need."
        )
    return _target_from_path(path)


def _check_host(authority: str) -> None:
    if not authority:
        raise InvalidTarget("The link has no host name after https://.")
    if "@" in authority:
        raise InvalidTarget(
            "The link carries a user name or password before the host (the '@' part); "
            "Beatport links never do."
        )
    if "%" in authority:
        raise InvalidTarget("The link's host name is percent-encoded; write it plainly.")
    if authority.startswith("["):
        raise InvalidTarget("IP addresses are not accepted; use www.beatport.com.")
    if ":" in authority:
        raise InvalidTarget("The link names a port (':' after the host); Beatport links never do.")
    host = authority.lower()
    if host in _HOSTS:
        return
    if _IPV4ISH_RE.fullmatch(host):
        raise InvalidTarget(f"IP addresses ({_show(host)}) are not accepted; use www.beatport.com.")
    if "xn--" in host:
        raise InvalidTarget(
            f"The host {_show(host)} is an encoded international name (xn--), often used to "
            "imitate a real site; only www.beatport.com is accepted."
        )
    if host.rstrip(".") in _HOSTS:
        raise InvalidTarget("Write the host as www.beatport.com, without a trailing dot.")
    raise InvalidTarget(
        f"Only links on www.beatport.com are accepted; this one is on {_show(host)}."
    )


def _target_from_path(path: str) -> Target:
    if path in ("", "/"):
        raise InvalidTarget("That is Beatport's home page, not a list of tracks.")
    parts = path[1:].split("/")
    if parts[-1] == "":
        parts.pop()
    if any(part == "" for part in parts):
        raise InvalidTarget("The link's path has an empty part ('//').")
    if len(parts) >= 2 and _LOCALE_RE.fullmatch(parts[0]):
        parts = parts[1:]  # a language prefix such as /en/ or /de/
    words = [part.lower() for part in parts]
    head = words[0]
    shown = "/" + "/".join(parts)
    if head == "top-100" and len(words) == 1:
        return Target("top100")
    if head == "genre":
        if len(words) == 4 and words[3] in _LIST_WORDS:
            return _slug_target(_LIST_WORDS[words[3]], parts[1], parts[2])
        raise InvalidTarget(
            "A genre page itself is not a list Crate collects: paste its Top 100 or Hype 100 "
            "link (ending in /top-100 or /hype-100), or pick the genre and a date range."
        )
    if head in ("chart", "release", "track"):
        if len(words) == 3:
            return _slug_target(head, parts[1], parts[2])
        raise InvalidTarget(
            f"A {head} link looks like /{head}/{{slug}}/{{id}}; this one is {_show(shown)}."
        )
    if head in ("label", "artist"):
        if len(words) == 4 and words[3] == "tracks":
            return _slug_target(head, parts[1], parts[2])
        raise InvalidTarget(
            f"For an {head} paste the link of their tracks page, ending in /tracks "
            f"(/{head}/{{slug}}/{{id}}/tracks)."
            if head == "artist"
            else f"For a {head} paste the link of its tracks page, ending in /tracks "
            f"(/{head}/{{slug}}/{{id}}/tracks)."
        )
    if head == "search":
        raise InvalidTarget(
            "Search pages are not collected: open the chart, release, label or artist and "
            "paste that link."
        )
    raise InvalidTarget(f"Crate cannot collect this kind of Beatport page ({_show(shown)}).")


def _slug_target(kind: str, slug: str, raw_id: str) -> Target:
    if not _SLUG_RE.fullmatch(slug):
        raise InvalidTarget(
            f"The name part of the link ({_show(slug)}) has characters Beatport links do not use."
        )
    if not _ID_RE.fullmatch(raw_id):
        raise InvalidTarget(
            f"The {kind.split('_')[0]} id in the link ({_show(raw_id)}) must be a whole number "
            "of at most 10 digits."
        )
    beatport_id = int(raw_id)
    if not 0 < beatport_id <= MAX_BEATPORT_ID:
        raise InvalidTarget(
            f"The id {beatport_id} in the link is not a Beatport id (1 to {MAX_BEATPORT_ID})."
        )
    return Target(kind, beatport_id, slug)


# ---------------------------------------------------------------- tracks


@dataclass(frozen=True, slots=True)
class Ref:
    """Something a track points to by Beatport id: an artist, label, release or genre."""

    beatport_id: int
    name: str
    slug: str = ""
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class BeatportTrack:
    """One Beatport track, with the fields Crate stores and the original JSON."""

    beatport_id: int
    title: str
    mix_name: str
    slug: str
    artists: tuple[Ref, ...]
    remixers: tuple[Ref, ...]
    isrc: str | None
    bpm: int | None
    key_name: str | None
    camelot: str | None
    genre: Ref | None
    sub_genre: Ref | None
    label: Ref | None
    release: Ref | None
    catalog_number: str | None
    length_ms: int | None
    publish_date: date | None
    new_release_date: date | None
    pre_order: bool
    exclusive: bool
    is_hype: bool
    sample_url: str | None
    sample_start_ms: int | None
    sample_end_ms: int | None
    waveform_url: str | None
    artwork_url: str | None
    price_display: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    position: int | None = None


@dataclass(frozen=True, slots=True)
class TrackList:
    """One page of tracks, with what Beatport said about the pages around it."""

    tracks: list[BeatportTrack]
    skipped: int = 0
    total_count: int | None = None
    page: int | None = None
    total_pages: int | None = None
    has_next: bool = False


def _mapping(value: object) -> Mapping[str, Any] | None:
    if type(value) is dict:  # the common case, without the slower ABC check
        return value
    return value if isinstance(value, Mapping) else None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _whole(value: object, *, minimum: int = 0, maximum: int = 2**63) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12
    ):
        number = int(value)
    else:
        return None
    return number if minimum <= number <= maximum else None


def _beatport_id(value: object) -> int | None:
    return _whole(value, minimum=1, maximum=MAX_BEATPORT_ID)


def _image_uri(obj: Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    image = _mapping(obj.get("image"))
    return _text(image.get("uri")) if image is not None else None


def _ref(value: object) -> Ref | None:
    obj = _mapping(value)
    if obj is None:
        return None
    beatport_id = _beatport_id(obj.get("id"))
    name = _text(obj.get("name"))
    if beatport_id is None or name is None:
        return None
    return Ref(beatport_id, name, _text(obj.get("slug")) or "", _image_uri(obj))


def _refs(value: object) -> tuple[Ref, ...]:
    if not isinstance(value, list):
        return ()
    refs = (_ref(item) for item in value)
    return tuple(ref for ref in refs if ref is not None)


def _iso_date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _length_ms(obj: Mapping[str, Any]) -> int | None:
    length = _whole(obj.get("length_ms"), maximum=10**9)
    if length is not None:
        return length
    # Older objects only carry "m:ss" (or "h:mm:ss").
    text = obj.get("length")
    if isinstance(text, str) and re.fullmatch(r"\d{1,3}(:[0-5]\d){1,2}", text):
        seconds = 0
        for part in text.split(":"):
            seconds = seconds * 60 + int(part)
        return seconds * 1000
    return None


def _camelot(key: Mapping[str, Any] | None) -> str | None:
    if key is None:
        return None
    number = _whole(key.get("camelot_number"), minimum=1, maximum=12)
    letter = key.get("camelot_letter")
    if number is None or not isinstance(letter, str) or letter.upper() not in ("A", "B"):
        return None
    return f"{number}{letter.upper()}"


def parse_track(obj: Mapping[str, Any]) -> BeatportTrack:
    """Read one v4 track object: null or missing fields become None; no id or name: ParseError."""
    return _read_track(obj)


def _read_track(obj: object, position: int | None = None) -> BeatportTrack:
    track = _mapping(obj)
    if track is None:
        raise ParseError("A track entry is not a JSON object.")
    beatport_id = _beatport_id(track.get("id"))
    if beatport_id is None:
        raise ParseError("A track has no usable Beatport id.")
    title = _text(track.get("name"))
    if title is None:
        raise ParseError(f"Track #{beatport_id} has no name.")
    key = _mapping(track.get("key"))
    release = _mapping(track.get("release"))
    label_obj = release.get("label") if release is not None else None
    label = _ref(label_obj) or _ref(track.get("label"))
    bpm = track.get("bpm")
    if isinstance(bpm, float) and bpm == bpm and 0 < bpm < 1000:
        bpm = round(bpm)
    price = _mapping(track.get("price"))
    return BeatportTrack(
        beatport_id=beatport_id,
        title=title,
        mix_name=_text(track.get("mix_name")) or "",
        slug=_text(track.get("slug")) or "",
        artists=_refs(track.get("artists")),
        remixers=_refs(track.get("remixers")),
        isrc=_text(track.get("isrc")),
        bpm=_whole(bpm, minimum=1, maximum=999),
        key_name=_text(key.get("name")) if key is not None else None,
        camelot=_camelot(key),
        genre=_ref(track.get("genre")),
        sub_genre=_ref(track.get("sub_genre")),
        label=label,
        release=_ref(release),
        catalog_number=_text(track.get("catalog_number")),
        length_ms=_length_ms(track),
        publish_date=_iso_date(track.get("publish_date")),
        new_release_date=_iso_date(track.get("new_release_date")),
        pre_order=track.get("pre_order") is True,
        exclusive=track.get("exclusive") is True,
        is_hype=track.get("is_hype") is True,
        sample_url=_text(track.get("sample_url")),
        sample_start_ms=_whole(track.get("sample_start_ms"), maximum=10**9),
        sample_end_ms=_whole(track.get("sample_end_ms"), maximum=10**9),
        waveform_url=_image_uri(track),
        artwork_url=_image_uri(release),
        price_display=_text(price.get("display")) if price is not None else None,
        raw=dict(track),
        position=position,
    )


# ---------------------------------------------------------------- pages and lists

_SCRIPT_MARK: Final = "__NEXT_DATA__"
_SCRIPT_TAG_RE: Final = re.compile(
    r"<script\b[^<>]*?\bid\s*=\s*([\"']?)__NEXT_DATA__\1(?=[\s/>])[^<>]*>", re.IGNORECASE
)
_SCRIPT_END_RE: Final = re.compile(r"</script", re.IGNORECASE)
# Tracks have these; releases, charts and artists (which also have id, name, artists) do not.
_TRACK_FIELDS: Final = ("mix_name", "bpm", "isrc", "length_ms", "sample_url", "key")


def decode_json(text: str | bytes) -> Any:
    """Parse JSON text (msgspec: several times faster than the json module on Beatport's
    300 KB pages); raise ParseError, in words, for anything that is not JSON."""
    try:
        return msgspec.json.decode(text)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError) as exc:
        raise ParseError(str(exc) or "not valid JSON") from None


def extract_next_data(html: str) -> dict[str, Any]:
    """Return the JSON of a page's `<script id="__NEXT_DATA__">`, or raise ParseError."""
    if not isinstance(html, str):
        raise ParseError("The page is not text.")
    start = 0
    # Looking for the marker first keeps this linear on huge pages (no regex backtracking).
    while (mark := html.find(_SCRIPT_MARK, start)) >= 0:
        start = mark + len(_SCRIPT_MARK)
        tag_start = html.rfind("<", max(0, mark - 500), mark)
        tag_end = html.find(">", mark, mark + 500)
        if tag_start < 0 or tag_end < 0:
            continue
        if not _SCRIPT_TAG_RE.fullmatch(html, tag_start, tag_end + 1):
            continue
        close = _SCRIPT_END_RE.search(html, tag_end + 1)
        if close is None:
            raise ParseError("The page's __NEXT_DATA__ script is cut off (no closing tag).")
        try:
            data = decode_json(html[tag_end + 1 : close.start()])
        except ParseError as exc:
            raise ParseError(f"The page's __NEXT_DATA__ is not valid JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise ParseError("The page's __NEXT_DATA__ is not a JSON object.")
        return data
    raise ParseError("The page has no __NEXT_DATA__ script.")


def _unwrap(item: object) -> object:
    """Some list endpoints wrap each entry as {"track": {...}}."""
    obj = _mapping(item)
    if obj is not None and "id" not in obj:
        inner = _mapping(obj.get("track"))
        if inner is not None:
            return inner
    return item


def _looks_like_track(item: object) -> bool:
    obj = _mapping(_unwrap(item))
    return (
        obj is not None
        and _beatport_id(obj.get("id")) is not None
        and isinstance(obj.get("name"), str)
        and any(name in obj for name in _TRACK_FIELDS)
    )


def _page_info(data: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Beatport's `page` is 1, "1" or "1/123"."""
    page = data.get("page")
    if isinstance(page, str) and "/" in page:
        current, _, total = page.partition("/")
        return _whole(current, minimum=1), _whole(total, minimum=0)
    return _whole(page, minimum=1), None


def _track_list(
    items: Sequence[object], data: Mapping[str, Any], *, use_track_number: bool
) -> TrackList:
    page, total_pages = _page_info(data)
    per_page = _whole(data.get("per_page"), minimum=1)
    count = _whole(data.get("count"))
    if total_pages is None and count is not None and per_page is not None:
        total_pages = -(-count // per_page)
    if page is None or page == 1:
        offset: int | None = 0
    elif per_page is not None:
        offset = (page - 1) * per_page
    else:
        offset = None  # a later page of unknown size: positions unknown
    tracks: list[BeatportTrack] = []
    skipped = 0
    for index, item in enumerate(items):
        obj = _unwrap(item)
        position = offset + index + 1 if offset is not None else None
        if use_track_number and (mapping := _mapping(obj)) is not None:
            position = _whole(mapping.get("number"), minimum=1) or position
        try:
            tracks.append(_read_track(obj, position))
        except ParseError:
            skipped += 1
    if page is not None and total_pages is not None:
        # Beatport's own `next` can point past the end (the top 100 links a page 2).
        has_next = page < total_pages
    else:
        next_link = data.get("next")
        has_next = isinstance(next_link, str) and bool(next_link)
    return TrackList(tracks, skipped, count, page, total_pages, has_next)


def _single(track_obj: object) -> TrackList:
    try:
        track = _read_track(_unwrap(track_obj))
    except ParseError:
        return TrackList([], skipped=1, total_count=1, page=1, total_pages=1)
    return TrackList([track], 0, 1, 1, 1, False)


def _page_props(next_data: object) -> Mapping[str, Any]:
    root = _mapping(next_data)
    if root is None:
        raise ParseError("The page data is not a JSON object.")
    props = _mapping(root.get("props"))
    page_props = _mapping(props.get("pageProps")) if props is not None else None
    if page_props is None:
        page_props = _mapping(root.get("pageProps"))  # the /_next/data/… variant
    if page_props is None:
        raise ParseError("The page data has no pageProps.")
    return page_props


@dataclass(frozen=True, slots=True)
class _Query:
    """One dehydrated react-query entry: its queryKey (raw and read) and its `state.data`."""

    raw_key: object
    data: Mapping[str, Any]
    words: frozenset[str]  # "top-100" and "hype-100" read as the words "top100", "hype100"
    numbers: frozenset[int]  # bare numbers: the ids a key names
    params: Mapping[str, str]  # name=value parts, such as per_page=100

    def shown(self) -> str:
        """The key as it appears in the page, shortened, for messages."""
        try:
            text = msgspec.json.encode(self.raw_key).decode()
        except (msgspec.MsgspecError, TypeError, ValueError, OverflowError):
            text = "?"
        return text if len(text) <= 80 else text[:80] + "…"


# name=value inside a key: "per_page=100", "page=2", "publish_date=2026-01-01:2026-01-31".
_KEY_PARAM_RE: Final = re.compile(
    r"((?:per-)?[a-z][a-z_]*)=(\d{4}-\d\d-\d\d(?::\d{4}-\d\d-\d\d)?|[a-z0-9.:]*)"
)
_KEY_TOKEN_RE: Final = re.compile(r"[a-z]+|[0-9]+")
_LIST_NAMES: Final = ("top", "hype")  # "top-100" names a list, not an id


def _read_query(raw_key: object, data: Mapping[str, Any]) -> _Query:
    parts = raw_key if isinstance(raw_key, list) else [raw_key]
    words: set[str] = set()
    numbers: set[int] = set()
    params: dict[str, str] = {}
    for part in parts[:20]:
        if isinstance(part, bool):
            continue
        if isinstance(part, int):
            numbers.add(part)
            continue
        if isinstance(part, dict):
            for name, value in list(part.items())[:20]:
                if isinstance(name, str) and isinstance(value, str | int):
                    params.setdefault(name.lower(), str(value).lower())
            continue
        if not isinstance(part, str):
            continue
        text = part[:500].lower()
        for match in _KEY_PARAM_RE.finditer(text):
            params.setdefault(match[1].replace("-", "_"), match[2])
        previous = ""
        for token in _KEY_TOKEN_RE.findall(_KEY_PARAM_RE.sub(" ", text)):
            if not token.isdigit():
                words.add(token)
            elif previous in _LIST_NAMES:
                words.add(previous + token)
            elif len(token) <= 10:
                numbers.add(int(token))
            previous = token
    return _Query(raw_key, data, frozenset(words), frozenset(numbers), params)


def _queries(page_props: Mapping[str, Any]) -> list[_Query]:
    """Each dehydrated react-query entry that carries an object, in page order."""
    state = _mapping(page_props.get("dehydratedState"))
    queries = state.get("queries") if state is not None else None
    if not isinstance(queries, list):
        return []
    found = []
    for query in queries:
        obj = _mapping(query)
        if obj is None:
            continue
        query_state = _mapping(obj.get("state"))
        data = _mapping(query_state.get("data")) if query_state is not None else None
        if data is not None:
            found.append(_read_query(obj.get("queryKey"), data))
    return found


# The first part of the Next.js route (`page` in __NEXT_DATA__) of each kind's page.
_ROUTE_HEADS: Final = {
    "top100": "top-100",
    "genre_top100": "genre",
    "genre_hype100": "genre",
    "genre_dates": "genre",
    "chart": "chart",
    "release": "release",
    "track": "track",
    "label": "label",
    "artist": "artist",
}


def _check_page(next_data: Mapping[str, Any], target: Target) -> None:
    """The page must be the kind of page asked for, about the id asked for (when it says)."""
    route = next_data.get("page")
    if isinstance(route, str) and route.startswith("/"):
        head = route[1:].split("/", 1)[0].lower()
        if head != _ROUTE_HEADS[target.kind]:
            raise ParseError(
                f"Beatport sent its {_show(route)} page instead of the page for {target.short()}"
            )
    route_query = _mapping(next_data.get("query"))
    if route_query is not None and target.beatport_id is not None:
        page_id = _whole(route_query.get("id"))
        if page_id is not None and page_id != target.beatport_id:
            raise ParseError(
                f"Beatport sent the page of id {page_id} instead of the page for {target.short()}"
            )


_HUNDREDS: Final = frozenset({"top100", "genre_top100", "genre_hype100"})


def _names_target(query: _Query, target: Target) -> bool:
    """Does the key name the page's kind of list, and its id?"""
    words, params = query.words, query.params
    hype = "hype" in words or "hype100" in words or params.get("hype") == "true"
    if target.kind == "top100":
        # Beatport's own key: ["top-100-tracks-per_page=100"]; no id, no genre, no hype.
        return (
            "top100" in words
            and not hype
            and not query.numbers
            and "genre" not in words
            and not any(name.endswith("id") for name in params)
        )
    entity = target.kind.split("_")[0]
    wanted = str(target.beatport_id)
    if not (
        target.beatport_id in query.numbers
        or params.get(f"{entity}_id") == wanted
        or params.get("id") == wanted
    ):
        return False
    named = entity in words or f"{entity}s" in words or f"{entity}_id" in params
    match target.kind:
        case "genre_top100":
            return "top100" in words and not hype
        case "genre_hype100":
            return hype
        case "genre_dates":
            return named and "top100" not in words and not hype
        case _:
            return named


def _key_strength(query: _Query, target: Target, asked: Mapping[str, str]) -> int:
    """How surely a query holds the page's own list: 0 not, 1 by kind and id, 2 by its page too.

    A key or list whose page, page size or date range differs from what was asked for is
    another list (a side block), whatever else it names.
    """
    if not _names_target(query, target):
        return 0
    agreed = 0
    for name in ("page", "per_page", "publish_date"):
        wanted = asked.get(name)
        have = query.params.get(name)
        if wanted is None or have is None:
            continue
        if have != wanted.lower():
            return 0
        agreed += 1
    wanted_page = _whole(asked.get("page"), minimum=1)
    data_page, _ = _page_info(query.data)
    if wanted_page is not None and data_page is not None and data_page != wanted_page:
        return 0
    return 2 if agreed else 1


def _cannot_tell(lists: Sequence[_Query], target: Target | None, reason: str) -> ParseError:
    keys = ", ".join(query.shown() for query in lists[:4])
    whose = f"the list of {target.short()}" if target is not None else "the page's own list"
    return ParseError(
        f"the page holds {len(lists)} lists of tracks (query keys {keys}) and {reason}, so "
        f"Crate cannot tell which one is {whose}; it stored nothing rather than guess"
    )


def _track_id(obj: object) -> int:
    """The id of something `_looks_like_track` accepted."""
    track = _mapping(_unwrap(obj))
    beatport_id = _beatport_id(track.get("id")) if track is not None else None
    return beatport_id or 0


def _single_track(
    own: object, queries: Sequence[_Query], target: Target | None
) -> TrackList | None:
    """The page's one track: the one with the asked id, else the page's own, else the only one."""
    found: list[object] = [own] if _looks_like_track(own) else []
    found += [query.data for query in queries if _looks_like_track(query.data)]
    if not found:
        return None
    ids = [_track_id(obj) for obj in found]
    if target is not None and target.beatport_id in ids:
        return _single(found[ids.index(target.beatport_id)])
    if _looks_like_track(own):
        return _single(own)
    if len(set(ids)) > 1:
        shown = ", ".join(f"#{i}" for i in sorted(set(ids))[:4])
        asked = f"; none is {target.short()}" if target is not None else ""
        raise ParseError(
            f"the page holds {len(set(ids))} different tracks ({shown}){asked}, so Crate "
            "cannot tell which one the page is for; it stored nothing rather than guess"
        )
    return _single(found[0])


def find_tracks(
    next_data: Mapping[str, Any],
    *,
    single: bool = False,
    use_track_number: bool = False,
    target: Target | None = None,
    asked: Mapping[str, str] | None = None,
) -> TrackList:
    """Find the page's own track list (or its one track) in a page's `__NEXT_DATA__`.

    With `target` (what was asked for) and `asked` (the query string sent: page, per_page…),
    the list is the query whose queryKey names the target's kind and id and agrees with the
    page asked for; side blocks ("related tracks", an artist's top 10) are passed over. When
    no key says so, the page must hold exactly one list of tracks. Two lists that cannot be
    told apart raise ParseError rather than store the wrong one.

    `single` prefers the page's own track (track pages, also implied by a track target);
    `use_track_number` gives positions from each track's `number` (release pages, also
    implied by a release target).
    """
    page_props = _page_props(next_data)
    if target is not None:
        _check_page(next_data, target)
        single = single or target.kind == "track"
        use_track_number = use_track_number or target.kind == "release"
    queries = _queries(page_props)
    own_track = page_props.get("track")
    if single and (found := _single_track(own_track, queries, target)) is not None:
        return found
    if target is not None and target.kind == "track":
        # A list on a track page is a side block (related tracks), never the track.
        raise ParseError(f"The page data has no track (looked for {target.short()}).")

    lists: list[_Query] = []
    for query in queries:
        results = query.data.get("results")
        if isinstance(results, list) and (
            not results or any(_looks_like_track(item) for item in results[:20])
        ):
            lists.append(query)
    if target is not None and lists:
        if target.kind in _HUNDREDS:
            # A top list is one page of 100 whatever was asked; a top-10 block is another list.
            asked = {**(asked or {}), "per_page": "100"}
        strengths = [_key_strength(query, target, asked or {}) for query in lists]
        best = max(strengths)
        if best > 0:
            chosen = [query for query, s in zip(lists, strengths, strict=True) if s == best]
            if len(chosen) > 1:
                raise _cannot_tell(chosen, target, "their query keys name it alike")
            return _track_list(
                chosen[0].data["results"], chosen[0].data, use_track_number=use_track_number
            )

    filled = [query for query in lists if query.data["results"]]
    if len(filled) > 1:
        reason = "no key names it" if target is not None else "the page did not say what it is for"
        raise _cannot_tell(filled, target, reason)
    if filled:
        return _track_list(
            filled[0].data["results"], filled[0].data, use_track_number=use_track_number
        )
    empty = next((q for q in lists if any("track" in word for word in q.words)), None)
    if empty is not None:
        return _track_list([], empty.data, use_track_number=use_track_number)
    if not single and (found := _single_track(own_track, queries, target)) is not None:
        return found
    raise ParseError("The page data has no list of tracks and no track.")


_LIST_KEYS: Final = ("results", "data", "tracks")


def parse_api_list(payload: Mapping[str, Any], *, use_track_number: bool = False) -> TrackList:
    """Read a v4 API answer: a paginated list (results/data/tracks) or a single track object."""
    root = _mapping(payload)
    if root is None:
        raise ParseError("The API answer is not a JSON object.")
    for name in _LIST_KEYS:
        value = root.get(name)
        inner = _mapping(value)
        if inner is not None:
            # e.g. search answers: {"tracks": {"data": [...]}}
            value = next(
                (inner[key] for key in _LIST_KEYS if isinstance(inner.get(key), list)), None
            )
        if isinstance(value, list):
            return _track_list(value, root, use_track_number=use_track_number)
    if _looks_like_track(root):
        return _single(root)
    raise ParseError("The API answer has neither a list of tracks nor a track.")


# ---------------------------------------------------------------- bot walls

_CHALLENGE_TITLE_RE: Final = re.compile(
    r"<title[^>]*>\s*just a moment(?:\.\.\.|\u2026)?\s*</title>", re.IGNORECASE
)
_CLOUDFLARE_MARKS: Final = ("cf_chl_opt", "/cdn-cgi/challenge-platform/")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip().lower() if isinstance(value, str) else ""


def detect_challenge(status: int, headers: Mapping[str, str], body: str) -> str | None:
    """Say why a response is a bot wall (Cloudflare, Beatport's human test), else None."""
    if _header(headers, "cf-mitigated") == "challenge":
        return "Cloudflare answered with a bot check (cf-mitigated: challenge)"
    if _SCRIPT_MARK in body:
        # A real page; its text may well mention "Just a moment" (a track title, say).
        return None
    if _CHALLENGE_TITLE_RE.search(body, 0, 20000) or any(m in body for m in _CLOUDFLARE_MARKS):
        return f"Cloudflare answered {status} with its 'Just a moment...' bot check page"
    if "/human-test/" in body or "findProof" in body:
        return "Beatport answered with its own human-test page instead of the requested page"
    content_type = _header(headers, "content-type")
    start = body[:200].lstrip()[:1]
    if "json" in content_type or start in ("{", "["):
        return None
    if status == 200 and ("html" in content_type or start == "<"):
        return (
            "the page came back without its __NEXT_DATA__ data, which is what a bot wall "
            "(or a changed site layout) looks like"
        )
    return None
