"""What a collected list is called, read from the data Beatport sent with it.

A label's, chart's, artist's, release's or genre's page carries the thing itself beside
its tracks (`pageProps.label`, or a dehydrated query keyed `["label-7"]`); in both modes
the tracks point to their label, release, genre and artists by id and name. A name is
taken only from an object whose id is the one asked for, never guessed from a side block.
`Target.title` turns the name into the job's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from services.beatport.targets import Target, clean_name
from services.beatport.tracks import BeatportTrack, Ref, as_beatport_id, as_mapping

# The thing each kind's page is about (the top 100 is about nothing with a name).
ENTITIES: Final = {
    "genre_top100": "genre",
    "genre_hype100": "genre",
    "genre_dates": "genre",
    "chart": "chart",
    "release": "release",
    "track": "track",
    "label": "label",
    "artist": "artist",
}
_MAX_QUERIES: Final = 50


def page_name(next_data: Mapping[str, Any], target: Target) -> str | None:
    """The name of the thing a page is about, from its `__NEXT_DATA__`; None if it has none."""
    entity = ENTITIES.get(target.kind)
    root = as_mapping(next_data)
    if entity is None or root is None:
        return None
    props = as_mapping(root.get("props"))
    page_props = as_mapping(props.get("pageProps")) if props is not None else None
    page_props = page_props or as_mapping(root.get("pageProps"))  # the /_next/data/… variant
    if page_props is None:
        return None
    found: list[object] = [page_props.get(entity)]
    state = as_mapping(page_props.get("dehydratedState"))
    queries = state.get("queries") if state is not None else None
    own_key = [f"{entity}-{target.beatport_id}"]
    for query in queries[:_MAX_QUERIES] if isinstance(queries, list) else ():
        entry = as_mapping(query)
        query_state = as_mapping(entry.get("state")) if entry is not None else None
        if entry is not None and query_state is not None and entry.get("queryKey") == own_key:
            found.append(query_state.get("data"))
    return next((name for obj in found if (name := object_name(obj, target))), None)


def object_name(obj: object, target: Target) -> str | None:
    """The name of a catalog object (a label, a chart…) when it is the one `target` asks for."""
    found = as_mapping(obj)
    if found is None or as_beatport_id(found.get("id")) != target.beatport_id:
        return None
    name = found.get("name")
    if not isinstance(name, str) or not clean_name(name):
        return None
    mix = found.get("mix_name") if target.kind == "track" else None
    return _with_mix(name, mix if isinstance(mix, str) else "")


def tracks_name(target: Target, tracks: Sequence[BeatportTrack]) -> str | None:
    """The name the tracks give the thing asked for (its label, release, genre, artist, or
    the track itself); None when none of them names it."""
    wanted = target.beatport_id
    for track in tracks:
        refs: tuple[Ref | None, ...]
        match ENTITIES.get(target.kind):
            case "track":
                if track.beatport_id == wanted:
                    return _with_mix(track.title, track.mix_name)
                continue
            case "label":
                refs = (track.label,)
            case "release":
                refs = (track.release,)
            case "genre":
                refs = (track.genre,)
            case "artist":
                refs = (*track.artists, *track.remixers)
            case _:
                return None
        for ref in refs:
            if ref is not None and ref.beatport_id == wanted and clean_name(ref.name):
                return clean_name(ref.name)
    return None


def _with_mix(name: str, mix: str) -> str:
    """'Purpose' + 'Original Mix' -> 'Purpose (Original Mix)'."""
    name, mix = clean_name(name), clean_name(mix)
    return clean_name(f"{name} ({mix})") if mix else name
