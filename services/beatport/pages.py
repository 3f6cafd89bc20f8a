"""Web mode: a public page's `__NEXT_DATA__` JSON, and the one list of tracks the page is for.

A Beatport page embeds react-query's dehydrated state: several queries, of which side
blocks (related tracks, an artist's top 10) may hold tracks too. `find_tracks` picks the
page's own list by its queryKey, checked against what was asked for, and refuses to guess
between lists it cannot tell apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from services.beatport.targets import Target, quoted
from services.beatport.tracks import (
    ParseError,
    TrackList,
    as_beatport_id,
    as_mapping,
    as_whole,
    decode_json,
    looks_like_track,
    one_track_list,
    page_info,
    track_list,
    unwrap,
)

# The id of the page's data script; a body holding it is a real page, not a bot wall.
NEXT_DATA_MARK: Final = "__NEXT_DATA__"
_SCRIPT_TAG_RE: Final = re.compile(
    r"<script\b[^<>]*?\bid\s*=\s*([\"']?)__NEXT_DATA__\1(?=[\s/>])[^<>]*>", re.IGNORECASE
)
_SCRIPT_END_RE: Final = re.compile(r"</script", re.IGNORECASE)


def extract_next_data(html: str) -> dict[str, Any]:
    """Return the JSON of a page's `<script id="__NEXT_DATA__">`, or raise ParseError."""
    if not isinstance(html, str):
        raise ParseError("The page is not text.")
    start = 0
    # Looking for the marker first keeps this linear on huge pages (no regex backtracking).
    while (mark := html.find(NEXT_DATA_MARK, start)) >= 0:
        start = mark + len(NEXT_DATA_MARK)
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


def _page_props(next_data: object) -> Mapping[str, Any]:
    root = as_mapping(next_data)
    if root is None:
        raise ParseError("The page data is not a JSON object.")
    props = as_mapping(root.get("props"))
    page_props = as_mapping(props.get("pageProps")) if props is not None else None
    if page_props is None:
        page_props = as_mapping(root.get("pageProps"))  # the /_next/data/… variant
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
    state = as_mapping(page_props.get("dehydratedState"))
    queries = state.get("queries") if state is not None else None
    if not isinstance(queries, list):
        return []
    found = []
    for query in queries:
        obj = as_mapping(query)
        if obj is None:
            continue
        query_state = as_mapping(obj.get("state"))
        data = as_mapping(query_state.get("data")) if query_state is not None else None
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
                f"Beatport sent its {quoted(route)} page instead of the page for {target.short()}"
            )
    route_query = as_mapping(next_data.get("query"))
    if route_query is not None and target.beatport_id is not None:
        page_id = as_whole(route_query.get("id"))
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
    wanted_page = as_whole(asked.get("page"), minimum=1)
    data_page, _ = page_info(query.data)
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
    """The id of something `looks_like_track` accepted."""
    track = as_mapping(unwrap(obj))
    beatport_id = as_beatport_id(track.get("id")) if track is not None else None
    return beatport_id or 0


def _single_track(
    own: object, queries: Sequence[_Query], target: Target | None
) -> TrackList | None:
    """The page's one track: the one with the asked id, else the page's own, else the only one."""
    found: list[object] = [own] if looks_like_track(own) else []
    found += [query.data for query in queries if looks_like_track(query.data)]
    if not found:
        return None
    ids = [_track_id(obj) for obj in found]
    if target is not None and target.beatport_id in ids:
        return one_track_list(found[ids.index(target.beatport_id)])
    if looks_like_track(own):
        return one_track_list(own)
    if len(set(ids)) > 1:
        shown = ", ".join(f"#{i}" for i in sorted(set(ids))[:4])
        asked = f"; none is {target.short()}" if target is not None else ""
        raise ParseError(
            f"the page holds {len(set(ids))} different tracks ({shown}){asked}, so Crate "
            "cannot tell which one the page is for; it stored nothing rather than guess"
        )
    return one_track_list(found[0])


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
            not results or any(looks_like_track(item) for item in results[:20])
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
            return track_list(
                chosen[0].data["results"], chosen[0].data, use_track_number=use_track_number
            )

    filled = [query for query in lists if query.data["results"]]
    if len(filled) > 1:
        reason = "no key names it" if target is not None else "the page did not say what it is for"
        raise _cannot_tell(filled, target, reason)
    if filled:
        return track_list(
            filled[0].data["results"], filled[0].data, use_track_number=use_track_number
        )
    empty = next((q for q in lists if any("track" in word for word in q.words)), None)
    if empty is not None:
        return track_list([], empty.data, use_track_number=use_track_number)
    if not single and (found := _single_track(own_track, queries, target)) is not None:
        return found
    raise ParseError("The page data has no list of tracks and no track.")
