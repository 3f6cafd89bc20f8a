"""Beatport's v4 track objects read into Crate's track records, one track or a page of them.

Web pages and the API carry the same track objects; `parse_api_list` reads an API answer,
`services.beatport.pages` finds the list in a web page and hands it to `track_list`.
Null, missing or out-of-range fields become None; a track without an id or a name is
skipped (in a list) or refused with `ParseError` (by `parse_track`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import msgspec

from services.beatport.targets import MAX_BEATPORT_ID

# Tracks have these; releases, charts and artists (which also have id, name, artists) do not.
_TRACK_FIELDS: Final = ("mix_name", "bpm", "isrc", "length_ms", "sample_url", "key")
_LIST_KEYS: Final = ("results", "data", "tracks")


class ParseError(ValueError):
    """Beatport data did not have the shape Crate needs; the message says what was missing."""


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
    # Its place on its release: Beatport's `number`, or its place in a release's list.
    track_number: int | None = None


@dataclass(frozen=True, slots=True)
class TrackList:
    """One page of tracks, with what Beatport said about the pages around it."""

    tracks: list[BeatportTrack]
    skipped: int = 0
    total_count: int | None = None
    page: int | None = None
    total_pages: int | None = None
    has_next: bool = False
    # What the list is of, as Beatport names it ("Sonar & Licht / Digital"), when it says.
    name: str | None = None


def as_mapping(value: object) -> Mapping[str, Any] | None:
    """The value when it is a JSON object, else None."""
    if type(value) is dict:  # the common case, without the slower ABC check
        return value
    return value if isinstance(value, Mapping) else None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def as_whole(value: object, *, minimum: int = 0, maximum: int = 2**63) -> int | None:
    """A whole number given as int, integral float or digits, within bounds; else None."""
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


def as_beatport_id(value: object) -> int | None:
    """A Beatport id (1 to MAX_BEATPORT_ID) given as a number or digits, else None."""
    return as_whole(value, minimum=1, maximum=MAX_BEATPORT_ID)


def _image_uri(obj: Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    image = as_mapping(obj.get("image"))
    return _text(image.get("uri")) if image is not None else None


def _ref(value: object) -> Ref | None:
    obj = as_mapping(value)
    if obj is None:
        return None
    beatport_id = as_beatport_id(obj.get("id"))
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
    length = as_whole(obj.get("length_ms"), maximum=10**9)
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
    number = as_whole(key.get("camelot_number"), minimum=1, maximum=12)
    letter = key.get("camelot_letter")
    if number is None or not isinstance(letter, str) or letter.upper() not in ("A", "B"):
        return None
    return f"{number}{letter.upper()}"


def parse_track(obj: Mapping[str, Any]) -> BeatportTrack:
    """Read one v4 track object: null or missing fields become None; no id or name: ParseError."""
    return _read_track(obj)


def _read_track(
    obj: object, position: int | None = None, track_number: int | None = None
) -> BeatportTrack:
    track = as_mapping(obj)
    if track is None:
        raise ParseError("A track entry is not a JSON object.")
    beatport_id = as_beatport_id(track.get("id"))
    if beatport_id is None:
        raise ParseError("A track has no usable Beatport id.")
    title = _text(track.get("name"))
    if title is None:
        raise ParseError(f"Track #{beatport_id} has no name.")
    key = as_mapping(track.get("key"))
    release = as_mapping(track.get("release"))
    label_obj = release.get("label") if release is not None else None
    label = _ref(label_obj) or _ref(track.get("label"))
    bpm = track.get("bpm")
    if isinstance(bpm, float) and bpm == bpm and 0 < bpm < 1000:
        bpm = round(bpm)
    price = as_mapping(track.get("price"))
    return BeatportTrack(
        beatport_id=beatport_id,
        title=title,
        mix_name=_text(track.get("mix_name")) or "",
        slug=_text(track.get("slug")) or "",
        artists=_refs(track.get("artists")),
        remixers=_refs(track.get("remixers")),
        isrc=_text(track.get("isrc")),
        bpm=as_whole(bpm, minimum=1, maximum=999),
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
        sample_start_ms=as_whole(track.get("sample_start_ms"), maximum=10**9),
        sample_end_ms=as_whole(track.get("sample_end_ms"), maximum=10**9),
        waveform_url=_image_uri(track),
        artwork_url=_image_uri(release),
        price_display=_text(price.get("display")) if price is not None else None,
        raw=dict(track),
        position=position,
        track_number=as_whole(track.get("number"), minimum=1, maximum=9999) or track_number,
    )


def decode_json(text: str | bytes) -> Any:
    """Parse JSON text (msgspec: several times faster than the json module on Beatport's
    300 KB pages); raise ParseError, in words, for anything that is not JSON."""
    try:
        return msgspec.json.decode(text)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError) as exc:
        raise ParseError(str(exc) or "not valid JSON") from None


# ---------------------------------------------------------------- lists of tracks


def unwrap(item: object) -> object:
    """A list entry's track object; some list endpoints wrap each as {"track": {...}}."""
    obj = as_mapping(item)
    if obj is not None and "id" not in obj:
        inner = as_mapping(obj.get("track"))
        if inner is not None:
            return inner
    return item


def looks_like_track(item: object) -> bool:
    """Whether a list entry is a track (with an id and a name), not a release or chart."""
    obj = as_mapping(unwrap(item))
    return (
        obj is not None
        and as_beatport_id(obj.get("id")) is not None
        and isinstance(obj.get("name"), str)
        and any(name in obj for name in _TRACK_FIELDS)
    )


def page_info(data: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(page, total pages) from Beatport's `page`, which is 1, "1" or "1/123"."""
    page = data.get("page")
    if isinstance(page, str) and "/" in page:
        current, _, total = page.partition("/")
        return as_whole(current, minimum=1), as_whole(total, minimum=0)
    return as_whole(page, minimum=1), None


def track_list(
    items: Sequence[object], data: Mapping[str, Any], *, use_track_number: bool
) -> TrackList:
    """Read one page of list entries; `data` holds the paging (page, per_page, count, next).

    Positions count on from earlier pages, or come from each entry's `number` with
    `use_track_number`; entries that are not usable tracks are counted as skipped.
    """
    page, total_pages = page_info(data)
    per_page = as_whole(data.get("per_page"), minimum=1)
    count = as_whole(data.get("count"))
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
        obj = unwrap(item)
        position = offset + index + 1 if offset is not None else None
        if use_track_number and (mapping := as_mapping(obj)) is not None:
            position = as_whole(mapping.get("number"), minimum=1) or position
        try:
            tracks.append(_read_track(obj, position, position if use_track_number else None))
        except ParseError:
            skipped += 1
    if page is not None and total_pages is not None:
        # Beatport's own `next` can point past the end (the top 100 links a page 2).
        has_next = page < total_pages
    else:
        next_link = data.get("next")
        has_next = isinstance(next_link, str) and bool(next_link)
    return TrackList(tracks, skipped, count, page, total_pages, has_next)


def one_track_list(track_obj: object) -> TrackList:
    """A one-page list of one track object (skipped when it is not a usable track)."""
    try:
        track = _read_track(unwrap(track_obj))
    except ParseError:
        return TrackList([], skipped=1, total_count=1, page=1, total_pages=1)
    return TrackList([track], 0, 1, 1, 1, False)


def parse_api_list(payload: Mapping[str, Any], *, use_track_number: bool = False) -> TrackList:
    """Read a v4 API answer: a paginated list (results/data/tracks) or a single track object."""
    root = as_mapping(payload)
    if root is None:
        raise ParseError("The API answer is not a JSON object.")
    for name in _LIST_KEYS:
        value = root.get(name)
        inner = as_mapping(value)
        if inner is not None:
            # e.g. search answers: {"tracks": {"data": [...]}}
            value = next(
                (inner[key] for key in _LIST_KEYS if isinstance(inner.get(key), list)), None
            )
        if isinstance(value, list):
            return track_list(value, root, use_track_number=use_track_number)
    if looks_like_track(root):
        return one_track_list(root)
    raise ParseError("The API answer has neither a list of tracks nor a track.")
