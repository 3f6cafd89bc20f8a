"""The pure Beatport functions against every real capture, plus link parsing and fuzzing."""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.beatport.challenge import detect_challenge
from services.beatport.client import BeatportClient
from services.beatport.links import parse_target
from services.beatport.pages import extract_next_data, find_tracks
from services.beatport.targets import ACCEPTED_LINKS, InvalidTarget, Target, genre_target
from services.beatport.tracks import (
    BeatportTrack,
    ParseError,
    Ref,
    TrackList,
    parse_api_list,
    parse_track,
)
from services.beatport.wire import BeatportError
from services.settings import Settings
from tests.fakes.beatport import FakeBeatport, list_query_key
from tests.support.fixtures import real_fixtures

ROOT = Path(__file__).resolve().parents[1]


FIXTURES = real_fixtures() / "beatport"
TOP100_JSON = FIXTURES / "top-100_2026-01-25.next_data.trimmed.json"
TOP100_HTML = FIXTURES / "top-100_2026-01-25.trimmed.html"
PURPOSE = FIXTURES / "track-page_purpose_6389004.next_data.json"
PURPOSE_REMIX = FIXTURES / "track-page_purpose-buunshin-remix_16039305.next_data.json"
CONCUSSION = FIXTURES / "track-page_concussion_194481.next-data-route.json"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(path: Path) -> dict[str, Any]:
    """A fixture's JSON."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def top100() -> TrackList:
    """The real top-100 capture, parsed."""
    return find_tracks(load(TOP100_JSON))


def test_every_real_capture_has_a_test() -> None:
    data_files = {p.name for p in FIXTURES.iterdir() if p.suffix in (".json", ".html")}
    assert data_files == {
        TOP100_JSON.name,
        TOP100_HTML.name,
        PURPOSE.name,
        PURPOSE_REMIX.name,
        CONCUSSION.name,
    }


# ---------------------------------------------------------------- top 100 (2026)


def test_top100_has_the_seven_tracks_in_chart_order(top100: TrackList) -> None:
    assert [t.beatport_id for t in top100.tracks] == [
        23011269,
        23278801,
        22738898,
        22357262,
        22236272,
        22448219,
        23616019,
    ]
    assert [t.position for t in top100.tracks] == [1, 2, 3, 4, 5, 6, 7]
    assert [t.title for t in top100.tracks] == [
        "Greece 2000",
        "Feel This Way",
        "Lost",
        "Jamaican (Bam Bam)",
        "Positive",
        "Kids",
        "Into My Life (feat. Joyce Sims)",
    ]
    assert [t.mix_name for t in top100.tracks] == [
        "Max Styler Extended Rework",
        "Original Mix",
        "Original Mix",
        "Extended Mix",
        "Extended Mix",
        "Extended Mix",
        "feat. Joyce Sims",
    ]
    assert top100.skipped == 0
    # The page says count 100, per_page 100, page "1": one page, though `next` names a page 2.
    assert (top100.total_count, top100.page, top100.total_pages, top100.has_next) == (
        100,
        1,
        1,
        False,
    )


def test_top100_first_track_in_full(top100: TrackList) -> None:
    track = top100.tracks[0]
    assert [(a.beatport_id, a.name, a.slug) for a in track.artists] == [
        (8783, "Three Drives", "three-drives"),
        (11793, "Three Drives On A Vinyl", "three-drives-on-a-vinyl"),
        (402072, "Max Styler", "max-styler"),
    ]
    assert track.artists[0].image_url == (
        "https://geo-media.beatport.com/image_size/590x404/cfbb4413-979a-4dc5-8890-30fd5eac9f2c.jpg"
    )
    # A rework by an artist credited as artist, not remixer: Beatport leaves remixers empty.
    assert track.remixers == ()
    assert (track.bpm, track.key_name, track.camelot) == (129, "Ab Major", "4B")
    assert track.genre == Ref(7, "Trance (Main Floor)", "trance-main-floor")
    assert track.sub_genre == Ref(27, "Progressive Trance", "progressive-trance")
    assert track.label == Ref(
        33099,
        "Armada Music",
        "armada-music",
        "https://geo-media.beatport.com/image_size/500x500/c375f726-e442-49b9-85f8-4b76d33e9c94.jpg",
    )
    artwork = (
        "https://geo-media.beatport.com/image_size/1400x1400/"
        "8c3c8fe0-5b0f-4295-9997-bdd40cca13e1.jpg"
    )
    assert track.release == Ref(
        5707323, "Greece 2000 - Max Styler Rework", "greece-2000-max-styler-rework", artwork
    )
    assert track.artwork_url == artwork
    assert track.waveform_url == (
        "https://geo-media.beatport.com/image_size/1500x250/97f358dd-becc-4ed9-b6e0-403583e799e3.png"
    )
    assert track.isrc == "NLF712600033"
    assert track.catalog_number == "ARMAS3600"
    assert track.length_ms == 327441
    assert track.publish_date == date(2026, 1, 9)
    assert track.new_release_date == date(2026, 1, 9)
    assert (track.pre_order, track.exclusive, track.is_hype) == (False, False, False)
    assert track.sample_url == (
        "https://geo-samples.beatport.com/track/97f358dd-becc-4ed9-b6e0-403583e799e3.LOFI.mp3"
    )
    assert (track.sample_start_ms, track.sample_end_ms) == (130976, 250976)
    assert track.price_display == "£1.30"
    assert track.slug == "greece-2000"
    raw = load(TOP100_JSON)["props"]["pageProps"]["dehydratedState"]["queries"][0]
    assert track.raw == raw["state"]["data"]["results"][0]


@pytest.mark.parametrize(
    ("index", "artists", "bpm", "key", "camelot", "genre", "label", "isrc", "released"),
    [
        (1, ["Josh Baker", "Paige Cavell", "Silva Bumpa"], 133, "Ab Minor", "1A", "House",
         "Baker's Dozen", "US39N2579880", date(2026, 1, 16)),
        (2, ["Vintage Culture", "Gabss"], 128, "G Minor", "6A", "Melodic House & Techno",
         "AFFAIRS", "BXLKS2500013", date(2025, 12, 19)),
        (3, ["Hugel", "SOLTO (FR)"], 122, "A Major", "11B", "Afro House", "MoBlack Records",
         "ITFGO2500100", date(2025, 11, 7)),
        (4, ["Jamback"], 130, "F Major", "7B", "Minimal / Deep Tech", "CircoLoco Records",
         "QMFMF2549086", date(2025, 11, 7)),
        (5, ["Fezzo"], 130, "Gb Minor", "11A", "Dance / Pop", "Relentless Label Services",
         "QMFMG2501300", date(2025, 11, 14)),
        (6, ["Joyce Sims", "Cam Stockman"], 131, "Ab Minor", "1A", "Deep House", "tszr",
         "US39N2609542", date(2026, 1, 23)),
    ],
)  # fmt: skip
def test_top100_other_tracks(
    top100: TrackList,
    index: int,
    artists: list[str],
    bpm: int,
    key: str,
    camelot: str,
    genre: str,
    label: str,
    isrc: str,
    released: date,
) -> None:
    track = top100.tracks[index]
    assert [a.name for a in track.artists] == artists
    assert (track.bpm, track.key_name, track.camelot) == (bpm, key, camelot)
    assert track.genre is not None and track.genre.name == genre
    assert track.label is not None and track.label.name == label
    assert (track.isrc, track.new_release_date) == (isrc, released)


def test_top100_values_that_vary_between_tracks(top100: TrackList) -> None:
    second, third, fifth = top100.tracks[1], top100.tracks[2], top100.tracks[4]
    assert second.sub_genre is None
    assert fifth.sub_genre is not None and fifth.sub_genre.name == "Deep Tech"
    assert third.genre == Ref(90, "Melodic House & Techno", "melodic-house-techno")
    assert second.catalog_number == "5026854389011"  # a UPC-like catalogue number
    assert top100.tracks[3].price_display == "£1.14"


def test_top100_html_gives_the_same_tracks_as_its_json(top100: TrackList) -> None:
    html = TOP100_HTML.read_text(encoding="utf-8")
    from_html = find_tracks(extract_next_data(html))
    assert from_html == top100
    assert [t.raw for t in from_html.tracks] == [t.raw for t in top100.tracks]


def test_top100_html_is_not_a_challenge() -> None:
    html = TOP100_HTML.read_text(encoding="utf-8")
    assert detect_challenge(200, {"content-type": "text/html; charset=utf-8"}, html) is None


# ---------------------------------------------------------------- track pages (2023)


def test_track_page_purpose() -> None:
    result = find_tracks(load(PURPOSE), single=True)
    assert (result.skipped, result.has_next) == (0, False)
    [track] = result.tracks
    assert (track.beatport_id, track.title, track.mix_name) == (6389004, "Purpose", "Original Mix")
    assert track.artists == (Ref(912, "Noisia", "noisia", track.artists[0].image_url),)
    assert track.remixers == ()
    assert (track.bpm, track.key_name, track.camelot) == (86, "F Major", "7B")
    assert track.genre == Ref(1, "Drum & Bass", "drum-bass")
    assert track.sub_genre is None
    assert track.label is not None
    assert (track.label.beatport_id, track.label.name) == (3040, "Vision Recordings")
    assert track.release is not None
    assert (track.release.beatport_id, track.release.name) == (1481150, "Purpose")
    assert (track.isrc, track.catalog_number) == ("USQY51531019", "VSN018A")
    assert (track.publish_date, track.length_ms) == (date(2014, 6, 30), 290319)
    assert track.price_display == "€1.39"
    assert track.position is None  # one track: no list position
    assert track.raw == load(PURPOSE)["props"]["pageProps"]["track"]


def test_track_page_remix_has_two_artists_and_a_remixer() -> None:
    [track] = find_tracks(load(PURPOSE_REMIX)).tracks
    assert (track.beatport_id, track.title, track.mix_name) == (
        16039305,
        "Purpose",
        "Buunshin Remix",
    )
    assert [(a.beatport_id, a.name) for a in track.artists] == [(912, "Noisia"), (10584, "Phace")]
    assert [(r.beatport_id, r.name) for r in track.remixers] == [(743621, "Buunshin")]
    assert (track.bpm, track.camelot, track.isrc) == (104, "7B", "UKACT2133031")
    assert track.release is not None and track.release.name == "The Resonance I"
    assert track.new_release_date == date(2021, 12, 17)


def test_data_route_variant_without_props_wrapper() -> None:
    data = load(CONCUSSION)
    assert "props" not in data
    [track] = find_tracks(data, single=True).tracks
    assert (track.beatport_id, track.title, track.mix_name) == (
        194481,
        "Concussion",
        "Original Mix",
    )
    assert (track.bpm, track.key_name, track.camelot) == (86, "F Minor", "4A")
    assert track.release is not None
    assert (track.release.beatport_id, track.release.name) == (33448, "The Tide / Concussion")
    assert (track.isrc, track.publish_date, track.length_ms) == (
        "NLCK40700053",
        date(2005, 11, 14),
        334883,
    )


def test_release_page_uses_the_track_number_as_position() -> None:
    page = load(PURPOSE)
    track = page["props"]["pageProps"]["track"]
    data = {"next": None, "count": 1, "page": "1/1", "per_page": 25, "results": [track]}
    page["props"]["pageProps"]["dehydratedState"]["queries"].append(
        {"state": {"data": data}, "queryKey": ["release-1481150-tracks"]}
    )
    [as_list] = find_tracks(page).tracks
    [as_release] = find_tracks(page, use_track_number=True).tracks
    assert (as_list.position, as_release.position) == (1, 2)  # "number": 2 on the release


# ---------------------------------------------------------------- shapes


def _track(track_id: int, **changes: Any) -> dict[str, Any]:
    base = copy.deepcopy(load(TOP100_JSON)["props"]["pageProps"]["dehydratedState"])
    obj: dict[str, Any] = base["queries"][0]["state"]["data"]["results"][0]
    obj["id"] = track_id
    obj.update(changes)
    return obj


def _page(*queries: tuple[list[Any], Any], wrap: bool = True) -> dict[str, Any]:
    page_props = {
        "dehydratedState": {
            "mutations": [],
            "queries": [{"state": {"data": data}, "queryKey": key} for key, data in queries],
        }
    }
    return {"props": {"pageProps": page_props}} if wrap else {"pageProps": page_props}


def test_tracks_are_found_by_shape_not_by_query_index() -> None:
    chart = {"id": 5, "name": "Peak Time", "slug": "peak-time", "track_count": 3}
    releases = {
        "count": 1,
        "results": [{"id": 9, "name": "An EP", "artists": [{"id": 1, "name": "A"}]}],
    }
    tracks = {"count": 60, "page": "2/3", "per_page": 25, "next": "x", "results": [_track(1)]}
    result = find_tracks(
        _page((["chart-5"], chart), (["releases"], releases), (["chart-5-tracks"], tracks))
    )
    assert [t.beatport_id for t in result.tracks] == [1]
    assert result.tracks[0].position == 26
    assert (result.page, result.total_pages, result.total_count, result.has_next) == (
        2,
        3,
        60,
        True,
    )


def test_an_empty_track_list_is_a_valid_page() -> None:
    chart = {"id": 5, "name": "Peak Time"}
    empty = {"count": 0, "page": "1/1", "per_page": 25, "next": None, "results": []}
    result = find_tracks(_page((["chart-5"], chart), (["chart-5-tracks-page=1"], empty)))
    assert result == TrackList([], 0, 0, 1, 1, False)


def test_page_without_any_tracks_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no list of tracks"):
        find_tracks(_page((["chart-5"], {"id": 5, "name": "Peak Time"})))
    with pytest.raises(ParseError, match="pageProps"):
        find_tracks({"props": {}})


def test_bare_page_props_and_bad_items_are_skipped() -> None:
    items = [_track(1), {"id": "x", "name": "No id", "bpm": 1}, _track(3, name="  "), _track(4)]
    data = {"count": 4, "page": "1/1", "per_page": 4, "results": items}
    result = find_tracks(_page((["label-1-tracks"], data), wrap=False))
    assert [(t.beatport_id, t.position) for t in result.tracks] == [(1, 1), (4, 4)]
    assert result.skipped == 2


def test_parse_track_tolerates_nulls_and_missing_fields() -> None:
    obj = _track(
        42,
        isrc=None,
        bpm=None,
        key=None,
        sub_genre=None,
        genre=None,
        release=None,
        publish_date=None,
        new_release_date="not a date",
        price=None,
        image=None,
        sample_url="",
    )
    del obj["length_ms"]
    track = parse_track(obj)
    assert (track.isrc, track.bpm, track.key_name, track.camelot) == (None, None, None, None)
    assert (track.genre, track.sub_genre, track.release, track.label) == (None, None, None, None)
    assert (track.publish_date, track.new_release_date, track.price_display) == (None, None, None)
    assert (track.artwork_url, track.waveform_url, track.sample_url) == (None, None, None)
    assert track.length_ms == 327_000  # from "length": "5:27"
    minimal = parse_track({"id": 7, "name": "Eyes On Me "})
    assert (minimal.title, minimal.mix_name, minimal.artists, minimal.bpm) == (
        "Eyes On Me",
        "",
        (),
        None,
    )
    assert isinstance(minimal, BeatportTrack)


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"name": "No id"},
        {"id": True, "name": "Bool id"},
        {"id": 0, "name": "Zero"},
        {"id": -5, "name": "Negative"},
        {"id": 2**40, "name": "Too big"},
        {"id": 5},
        {"id": 5, "name": "   "},
        {"id": 5, "name": 12},
    ],
)
def test_parse_track_needs_an_id_and_a_name(obj: dict[str, Any]) -> None:
    with pytest.raises(ParseError):
        parse_track(obj)


def test_parse_track_reads_floats_and_strings_it_can_trust() -> None:
    track = parse_track(
        {
            "id": "123",
            "name": "X",
            "bpm": 127.6,
            "key": {"camelot_number": 8, "camelot_letter": "a"},
        }
    )
    assert (track.beatport_id, track.bpm, track.camelot) == (123, 128, "8A")
    odd = parse_track({"id": 1, "name": "X", "bpm": True, "key": {"camelot_number": 13}})
    assert (odd.bpm, odd.camelot) == (None, None)


# ---------------------------------------------------------------- API answers


def test_api_list_with_pages_and_wrapped_items() -> None:
    payload = {
        "next": "https://api.beatport.com/v4/catalog/charts/5/tracks/?page=3&per_page=100",
        "previous": "…",
        "count": 250,
        "page": "2/3",
        "per_page": 100,
        "results": [{"track": _track(11)}, _track(12)],
    }
    result = parse_api_list(payload)
    assert [(t.beatport_id, t.position) for t in result.tracks] == [(11, 101), (12, 102)]
    assert (result.total_count, result.page, result.total_pages, result.has_next) == (
        250,
        2,
        3,
        True,
    )


@pytest.mark.parametrize("key", ["results", "data", "tracks"])
def test_api_list_accepts_each_list_key(key: str) -> None:
    result = parse_api_list({key: [_track(1), _track(2)], "count": 2, "page": 1, "per_page": 100})
    assert [t.beatport_id for t in result.tracks] == [1, 2]
    assert result.has_next is False


def test_api_search_shape_and_single_track() -> None:
    assert [t.beatport_id for t in parse_api_list({"tracks": {"data": [_track(3)]}}).tracks] == [3]
    single = parse_api_list(load(PURPOSE)["props"]["pageProps"]["track"])
    assert [t.beatport_id for t in single.tracks] == [6389004]
    release = parse_api_list(
        {"results": [load(PURPOSE)["props"]["pageProps"]["track"]]}, use_track_number=True
    )
    assert release.tracks[0].position == 2


def test_api_list_next_link_decides_when_pages_are_unknown() -> None:
    assert parse_api_list({"results": [], "next": "https://x/?page=2"}).has_next is True
    assert parse_api_list({"results": [], "next": None}).has_next is False
    with pytest.raises(ParseError):
        parse_api_list({"detail": "Not found."})


# ---------------------------------------------------------------- extracting __NEXT_DATA__


@pytest.mark.parametrize(
    "tag",
    [
        '<script id="__NEXT_DATA__" type="application/json">',
        '<script type="application/json" id="__NEXT_DATA__">',
        "<SCRIPT id='__NEXT_DATA__' type='application/json'>",
        '<script nonce="abc" id=__NEXT_DATA__ type="application/json" crossorigin>',
    ],
)
def test_extract_next_data_ignores_attribute_order_and_quotes(tag: str) -> None:
    html = f'<html><body><p>x</p>{tag}{{"a":1,"b":"\\u003c/script\\u003e"}}</script></body>'
    assert extract_next_data(html) == {"a": 1, "b": "</script>"}


def test_extract_next_data_skips_mentions_outside_the_tag() -> None:
    html = (
        "<script>window.__NEXT_DATA__ = undefined; // __NEXT_DATA__ later</script>"
        '<div data-x="__NEXT_DATA__"></div>'
        '<script id="__NEXT_DATA__" type="application/json">{"ok":true}</script>'
    )
    assert extract_next_data(html) == {"ok": True}


@pytest.mark.parametrize(
    ("html", "words"),
    [
        ("<html><body>no data here</body></html>", "no __NEXT_DATA__"),
        ('<script id="__NEXT_DATA__">{"a":', "cut off"),
        ('<script id="__NEXT_DATA__">{"a":}</script>', "not valid JSON"),
        ('<script id="__NEXT_DATA__">[1,2]</script>', "not a JSON object"),
        ('<script id="__NEXT_DATA__">' + "[" * 100_000 + "</script>", "not valid JSON"),
        ('<script id="__NEXT_DATA__">{"n":' + "9" * 5000 + "}</script>", "not valid JSON"),
        ("", "no __NEXT_DATA__"),
    ],
)
def test_extract_next_data_errors_say_what_is_wrong(html: str, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        extract_next_data(html)


# ---------------------------------------------------------------- bot walls


CLOUDFLARE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>'
    "<body><script>window._cf_chl_opt={cType:'managed'};</script></body></html>"
)
HUMAN_TEST = (
    '<html><head><script src="/human-test/start.js"></script></head>'
    "<body><script>findProof()</script></body></html>"
)


@pytest.mark.parametrize(
    ("status", "headers", "body", "words"),
    [
        (403, {"cf-mitigated": "challenge"}, "", "cf-mitigated"),
        (403, {"CF-Mitigated": "Challenge"}, CLOUDFLARE, "cf-mitigated"),
        (503, {"content-type": "text/html"}, CLOUDFLARE, "Just a moment"),
        (403, {}, "<html><head><title>Just a moment\u2026</title></head></html>", "Just a moment"),
        (200, {"content-type": "text/html"}, HUMAN_TEST, "human-test"),
        (200, {}, "<html><body>window.findProof = 1</body></html>", "human-test"),
        (200, {"content-type": "text/html"}, "<html><body>Hello</body></html>", "__NEXT_DATA__"),
    ],
)
def test_detect_challenge_names_the_wall(
    status: int, headers: dict[str, str], body: str, words: str
) -> None:
    reason = detect_challenge(status, headers, body)
    assert reason is not None and words in reason


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (200, {"content-type": "application/json"}, '{"results": []}'),
        (200, {}, '  {"pageProps": {}}'),
        (404, {"content-type": "text/plain"}, "Not Found"),
        (503, {"content-type": "text/plain"}, "Service Unavailable"),
        (429, {}, ""),
        # A real page whose track is called "Just a moment" is still a real page.
        (
            200,
            {"content-type": "text/html"},
            '<title>Just a moment...</title><script id="__NEXT_DATA__">{}</script>',
        ),
    ],
)
def test_detect_challenge_leaves_real_answers_alone(
    status: int, headers: dict[str, str], body: str
) -> None:
    assert detect_challenge(status, headers, body) is None


# ---------------------------------------------------------------- links → targets


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.beatport.com/top-100", Target("top100")),
        ("https://beatport.com/top-100/", Target("top100")),
        ("http://www.beatport.com/top-100", Target("top100")),
        ("  https://www.beatport.com/top-100\n", Target("top100")),
        ("HTTPS://WWW.BEATPORT.COM/TOP-100", Target("top100")),
        ("https://www.beatport.com/en/top-100", Target("top100")),
        (
            "https://www.beatport.com/genre/techno-peak-time-driving/6/top-100",
            Target("genre_top100", 6, "techno-peak-time-driving"),
        ),
        (
            "https://www.beatport.com/de/genre/melodic-house-techno/90/hype-100?utm_source=x#top",
            Target("genre_hype100", 90, "melodic-house-techno"),
        ),
        ("https://www.beatport.com/chart/peak-time/12345", Target("chart", 12345, "peak-time")),
        (
            "https://www.beatport.com/release/greece-2000-max-styler-rework/5707323/",
            Target("release", 5707323, "greece-2000-max-styler-rework"),
        ),
        ("https://www.beatport.com/track/purpose/6389004", Target("track", 6389004, "purpose")),
        (
            "https://www.beatport.com/label/armada-music/33099/tracks?page=2&per_page=50",
            Target("label", 33099, "armada-music"),
        ),
        (
            "https://www.beatport.com/artist/max-styler/402072/tracks",
            Target("artist", 402072, "max-styler"),
        ),
        ("https://www.beatport.com/chart/x/2147483647", Target("chart", 2147483647, "x")),
    ],
)
def test_parse_target_accepts_each_kind(url: str, expected: Target) -> None:
    assert parse_target(url) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("https://www.beatport.com/" + "a" * 2000, "at most 2000"),
        ("www.beatport.com/top-100", "must start with https://"),
        ("beatport.com/chart/x/1", "must start with https://"),
        ("ftp://www.beatport.com/top-100", "not ftp"),
        ("javascript:alert(1)", "not javascript"),
        ("file:///etc/passwd", "not file"),
        ("data:text/html,hi", "not data"),
        ("https:www.beatport.com/top-100", "followed by the host"),
        ("https:///top-100", "no host"),
        ("https://user@www.beatport.com/top-100", "user name or password"),
        ("https://user:pass@www.beatport.com/top-100", "user name or password"),
        ("https://www.beatport.com@evil.example/top-100", "user name or password"),
        ("https://www.beatport.com:8443/top-100", "port"),
        ("https://www.beatport.com:443/top-100", "port"),
        ("https://127.0.0.1/top-100", "IP addresses"),
        ("https://2130706433/top-100", "IP addresses"),
        ("https://[::1]/top-100", "IP addresses"),
        ("https://0x7f.0.0.1/top-100", "IP addresses"),
        ("https://www.beatport.com.evil.example/top-100", "'www.beatport.com.evil.example'"),
        ("https://evilbeatport.com/top-100", "'evilbeatport.com'"),
        ("https://beatport.co/top-100", "'beatport.co'"),
        ("https://api.beatport.com/v4/catalog/tracks/1/", "'api.beatport.com'"),
        ("https://localhost/top-100", "'localhost'"),
        ("https://www.beatport.com./top-100", "trailing dot"),
        ("https://xn--beatprt-r4a.com/top-100", "xn--"),
        ("https://www.bеatport.com/top-100", "non-ASCII"),  # Cyrillic е
        ("https://www.beatport.com/chart/x/1\u200b", "invisible"),
        ("https://www.beatport.com/chart/my chart/1", "space"),
        ("https://www.beatport.com/chart/x/1\x00", "control"),
        ("https://www.beatport.com\\@evil.example/top-100", "backslash"),
        ("https://www.beatport.com/chart/..%2f..%2fadmin/1", "percent-encoded"),
        ("https://www.beatport.com/%2e%2e/top-100", "percent-encoded"),
        ("https://www%2ebeatport.com/top-100", "percent-encoded"),
        ("https://www.beatport.com/", "home page"),
        ("https://www.beatport.com", "home page"),
        ("https://www.beatport.com/search?q=techno", "Search pages"),
        ("https://www.beatport.com/search/tracks?q=x", "Search pages"),
        ("https://www.beatport.com/genre/techno/6", "Top 100 or Hype 100"),
        ("https://www.beatport.com/genre/techno/6/tracks", "date range"),
        ("https://www.beatport.com/label/armada/33099", "ending in /tracks"),
        ("https://www.beatport.com/artist/max-styler/402072", "ending in /tracks"),
        ("https://www.beatport.com/label/armada/33099/releases", "ending in /tracks"),
        ("https://www.beatport.com/chart/peak-time", "/chart/{slug}/{id}"),
        ("https://www.beatport.com/chart/peak-time/12345/extra", "/chart/{slug}/{id}"),
        ("https://www.beatport.com/chart/peak-time/abc", "whole number"),
        ("https://www.beatport.com/chart/peak-time/-1", "whole number"),
        ("https://www.beatport.com/chart/peak-time/12345678901", "at most 10 digits"),
        ("https://www.beatport.com/chart/peak-time/0", "not a Beatport id"),
        ("https://www.beatport.com/chart/peak-time/9999999999", "not a Beatport id"),
        ("https://www.beatport.com/chart/../1", "characters Beatport links do not use"),
        ("https://www.beatport.com/chart/a.b/1", "characters Beatport links do not use"),
        ("https://www.beatport.com//chart/x/1", "empty part"),
        ("https://www.beatport.com/account/profile", "cannot collect"),
        ("https://www.beatport.com/en", "cannot collect"),
        ("https://www.beatport.com/_next/data/abc/en/top-100.json", "cannot collect"),
    ],
)
def test_parse_target_refuses_with_a_helpful_message(text: str, words: str) -> None:
    with pytest.raises(InvalidTarget) as caught:
        parse_target(text)
    message = str(caught.value)
    assert words in message
    assert message.endswith(ACCEPTED_LINKS)  # always says what IS accepted
    assert len(message) < 1200


def test_invalid_target_survives_pickling() -> None:
    with pytest.raises(InvalidTarget) as caught:
        parse_target("https://evil.example/top-100")
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == str(caught.value)


def test_target_round_trips_through_json_params() -> None:
    targets = [
        Target("top100"),
        parse_target("https://www.beatport.com/chart/peak-time/12345"),
        genre_target(6, date(2026, 1, 1), date(2026, 1, 31), today=date(2026, 2, 1)),
    ]
    for target in targets:
        params = json.loads(json.dumps(target.to_params()))
        assert Target.from_params(params) == target


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind": "playlist", "beatport_id": 1},
        {"kind": "chart"},
        {"kind": "chart", "beatport_id": "12"},
        {"kind": "chart", "beatport_id": True},
        {"kind": "chart", "beatport_id": 1, "slug": "../x"},
        {"kind": "chart", "beatport_id": 1, "slug": 5},
        {"kind": "top100", "beatport_id": 1},
        {"kind": "genre_dates", "beatport_id": 6, "date_from": "2026-01-01"},
        {"kind": "genre_dates", "beatport_id": 6, "date_from": "x", "date_to": "2026-01-02"},
        {"kind": "chart", "beatport_id": 1, "date_from": "2026-01-01", "date_to": "2026-01-02"},
    ],
)
def test_target_from_params_refuses_what_does_not_fit(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidTarget):
        Target.from_params(params)


def test_target_words_order_and_paths() -> None:
    chart = Target("chart", 12345, "peak-time")
    # Before Beatport names it, a job is called by its link's words.
    assert chart.describe() == "Chart Peak Time"
    assert chart.short() == "chart #12345"
    assert chart.web_path() == "/chart/peak-time/12345"
    assert Target("top100").describe() == "Beatport Top 100"
    assert Target("genre_hype100", 6, "techno").describe() == "Hype 100: Techno"
    assert Target("label", 7, "armada").web_path() == "/label/armada/7/tracks"
    dates = genre_target(6, date(2026, 1, 1), date(2026, 1, 31), today=date(2026, 1, 1))
    assert dates.web_path() == "/genre/genre/6/tracks"
    assert dates.describe() == "Genre #6 releases 2026-01-01 – 2026-01-31"
    ordered = {"top100", "genre_top100", "genre_hype100", "chart", "release"}
    for kind in ("top100", "genre_top100", "genre_hype100", "chart", "release", "track", "label"):
        target = Target(kind) if kind == "top100" else Target(kind, 1, "x")
        assert target.ordered == (kind in ordered)
    assert not dates.ordered


def test_genre_target_checks_its_range() -> None:
    today = date(2026, 6, 1)
    ok = genre_target(6, date(2024, 1, 1), date(2024, 12, 31), today=today)  # 366 days, leap year
    assert (ok.kind, ok.beatport_id, ok.slug) == ("genre_dates", 6, None)
    assert genre_target(6, date(2027, 5, 1), date(2027, 6, 1), today=today).date_to == date(
        2027, 6, 1
    )
    cases = [
        ((0, date(2026, 1, 1), date(2026, 1, 2)), "genre id"),
        ((2**31, date(2026, 1, 1), date(2026, 1, 2)), "genre id"),
        ((6, date(2026, 2, 1), date(2026, 1, 1)), "after the end date"),
        ((6, date(2025, 1, 1), date(2026, 1, 2)), "367 days"),
        ((6, date(2027, 6, 1), date(2027, 6, 3)), "more than a year in the future"),
    ]
    for args, words in cases:
        with pytest.raises(InvalidTarget, match=words) as caught:
            genre_target(*args, today=today)
        assert "date range" in str(caught.value)


# ---------------------------------------------------------------- fuzzing

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
TRACK_KEYS = list(
    load(TOP100_JSON)["props"]["pageProps"]["dehydratedState"]["queries"][0]["state"]["data"][
        "results"
    ][0]
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


BASE_PAGE = load(TOP100_JSON)
ASKED = {"page": "1", "per_page": "100"}
BASE_PATHS = [p for p in _paths(BASE_PAGE) if "_nextI18Next" not in p]


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


@FUZZ
@given(st.data())
def test_fuzz_mutated_next_data_only_raises_parse_error(data: st.DataObject) -> None:
    doc = copy.deepcopy(BASE_PAGE)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = list(_paths(doc))[:5000]
        path = data.draw(st.sampled_from(paths))
        doc = _replace(doc, path, data.draw(JSON_VALUES))
    for single in (False, True):
        try:
            result = find_tracks(doc, single=single, use_track_number=data.draw(st.booleans()))
        except ParseError:
            continue
        assert isinstance(result, TrackList)
        assert all(isinstance(t, BeatportTrack) for t in result.tracks)
    target = data.draw(st.sampled_from([Target("top100"), Target("chart", 5), Target("track", 5)]))
    with contextlib.suppress(ParseError):
        result = find_tracks(doc, target=target, asked=data.draw(st.sampled_from([{}, ASKED])))
        assert all(isinstance(t, BeatportTrack) for t in result.tracks)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_fuzz_random_text_into_extract_next_data(text: str) -> None:
    for html in (text, f'<script id="__NEXT_DATA__">{text}</script>', f"{text}__NEXT_DATA__{text}"):
        try:
            result = extract_next_data(html)
        except ParseError:
            continue
        assert isinstance(result, dict)
        with contextlib.suppress(ParseError):
            find_tracks(result)


@FUZZ
@given(st.integers(0, len(TOP100_HTML.read_text(encoding="utf-8"))), st.integers(0, 50))
def test_fuzz_truncated_and_cut_html(cut: int, hole: int) -> None:
    html = TOP100_HTML.read_text(encoding="utf-8")
    for page in (html[:cut], html[:cut] + html[cut + hole :]):
        with contextlib.suppress(ParseError):
            find_tracks(extract_next_data(page))


@FUZZ
@given(
    st.dictionaries(st.sampled_from([*TRACK_KEYS, "number", "label"]), JSON_VALUES, max_size=12)
    | JSON_VALUES
)
def test_fuzz_random_objects_into_track_and_list_parsers(obj: Any) -> None:
    for parse in (parse_track, parse_api_list, find_tracks):
        with contextlib.suppress(ParseError):
            parse(obj)
    with contextlib.suppress(ParseError):
        parse_api_list(
            {"results": [obj, {"track": obj}], "page": obj, "per_page": obj, "count": obj}
        )


URL_PIECES = st.lists(
    st.sampled_from(
        [
            "https://", "http://", "ftp://", "//", "https:", "www.", "beatport.com", "beatport",
            ".com", ".", "evil.example", "@", ":", "443", "/", "//", "top-100", "genre", "chart",
            "release", "track", "label", "artist", "tracks", "hype-100", "x", "12345", "0",
            "%2e", "%2f", "\\", "?", "#", "&", "=", " ", "\t", "en", "xn--", "\u0435", "..",
            "-", "_", "9999999999", "[::1]", "127.0.0.1",
        ]
    ),
    max_size=14,
).map("".join)  # fmt: skip


@FUZZ
@given(URL_PIECES | st.text(max_size=80))
def test_fuzz_parse_target_refuses_or_stays_on_beatport(text: str) -> None:
    try:
        target = parse_target(text)
    except InvalidTarget as exc:
        assert str(exc).endswith(ACCEPTED_LINKS)
        return
    parts = urlsplit(text.strip())
    assert parts.scheme.lower() in ("http", "https")
    assert parts.hostname in ("www.beatport.com", "beatport.com")
    assert parts.port is None and parts.username is None and parts.password is None
    assert target.web_path().startswith("/")
    assert "//" not in target.web_path() and ".." not in target.web_path()


@FUZZ
@given(st.integers(0, 60), st.text(max_size=3))
def test_fuzz_valid_links_with_a_character_inserted(where: int, extra: str) -> None:
    url = "https://www.beatport.com/label/armada-music/33099/tracks"
    text = url[:where] + extra + url[where:]
    try:
        target = parse_target(text)
    except InvalidTarget:
        return
    assert urlsplit(text.strip()).hostname in ("www.beatport.com", "beatport.com")
    assert target.kind in ("label", "top100", "chart", "track", "release", "artist")


# ---------------------------------------------------------------- the page's own list
#
# Real pages carry side blocks ("recommended tracks", an artist's top 10) as react-query
# entries of their own. The parser picks the page's list by its queryKey (the page's kind,
# id, page and page size), never the first block that looks like tracks, and refuses a page
# whose lists cannot be told apart. Pages below are the real captures with blocks injected.

REAL_TOP100 = load(TOP100_JSON)
REAL_MAIN: dict[str, Any] = REAL_TOP100["props"]["pageProps"]["dehydratedState"]["queries"][0]
REAL_RESULTS: list[dict[str, Any]] = REAL_MAIN["state"]["data"]["results"]
REAL_IDS = [track["id"] for track in REAL_RESULTS]
PAGE_ID = 42
ROUTES = {
    "genre_top100": "/genre/[slug]/[id]/top-100",
    "genre_hype100": "/genre/[slug]/[id]/hype-100",
    "genre_dates": "/genre/[slug]/[id]/tracks",
    "chart": "/chart/[slug]/[id]",
    "release": "/release/[slug]/[id]",
    "label": "/label/[slug]/[id]/tracks",
    "artist": "/artist/[slug]/[id]/tracks",
}
LIST_KINDS = ["top100", *ROUTES]
TRACK_PAGES = [PURPOSE, PURPOSE_REMIX, CONCUSSION]


def _entry(key: list[Any], data: Any) -> dict[str, Any]:
    """A react-query entry shaped like the real page's."""
    state = {**REAL_MAIN["state"], "data": data}
    return {"state": state, "queryKey": key, "queryHash": json.dumps(key, separators=(",", ":"))}


def _block(count: int = 10, first_id: int = 91_000_001) -> dict[str, Any]:
    """A side block of `count` real track objects under new ids."""
    tracks = []
    for index in range(count):
        track = copy.deepcopy(REAL_RESULTS[index % len(REAL_RESULTS)])
        track["id"] = first_id + index
        tracks.append(track)
    return {
        "next": None,
        "previous": None,
        "count": count,
        "page": "1/1",
        "per_page": count,
        "results": tracks,
    }


def _queries_of(page: dict[str, Any]) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = page.get("props", page)["pageProps"]["dehydratedState"][
        "queries"
    ]
    return queries


def _list_page(kind: str) -> tuple[dict[str, Any], Target, dict[str, str]]:
    """The real top-100 capture as the page of `kind`, with the query string the client sends.

    Top 100: as captured. Other kinds (no real capture exists): the same envelope and list
    (7 real tracks of a count of 100), the route and id of the kind, its entity query first
    and the list under the key the fake Beatport uses for that kind.
    """
    page = copy.deepcopy(REAL_TOP100)
    if kind == "top100":
        return page, Target("top100"), {}
    target = (
        genre_target(PAGE_ID, date(2026, 1, 1), date(2026, 1, 31), today=date(2026, 1, 1))
        if kind == "genre_dates"
        else Target(kind, PAGE_ID, "some-name")
    )
    page["page"] = ROUTES[kind]
    page["query"] = {"slug": "some-name", "id": str(PAGE_ID)}
    queries = _queries_of(page)
    key = list_query_key(kind, PAGE_ID, 1, 100)
    queries[0] = _entry(key, queries[0]["state"]["data"])
    entity = kind.split("_")[0]
    queries.insert(0, _entry([f"{entity}-{PAGE_ID}"], {"id": PAGE_ID, "name": "Some Name"}))
    if kind in ("top100", "genre_top100", "genre_hype100"):
        return page, target, {}
    asked = {"page": "1", "per_page": "100"}
    if kind == "genre_dates":
        asked["publish_date"] = "2026-01-01:2026-01-31"
    return page, target, asked


def _insert_before_main(page: dict[str, Any], entry: dict[str, Any]) -> None:
    queries = _queries_of(page)
    main = next(i for i, q in enumerate(queries) if "results" in q["state"]["data"])
    queries.insert(main, entry)


def _side_keys(kind: str) -> list[list[Any]]:
    """Keys a side block of tracks may have on a page of `kind`."""
    entity = kind.split("_")[0]
    keys: list[list[Any]] = [["recommended-tracks"], [f"related-tracks-{PAGE_ID}"]]
    match kind:
        case "top100":
            keys += [["top-100-tracks-per_page=10"], ["genre-5-top-100-tracks-per_page=100"]]
        case "genre_top100":
            keys += [
                [f"genre-{PAGE_ID}-top-100-tracks-per_page=10"],
                [f"genre-{PAGE_ID}-hype-100-tracks-per_page=100"],
                ["top-100-tracks-per_page=100"],
            ]
        case "genre_hype100":
            keys += [
                [f"genre-{PAGE_ID}-hype-100-tracks-per_page=10"],
                [f"genre-{PAGE_ID}-top-100-tracks-per_page=100"],
            ]
        case _:
            keys += [
                [f"{entity}-{PAGE_ID}-top-tracks"],
                [f"{entity}-{PAGE_ID}-tracks-page=2-per_page=100"],
                [f"{entity}-{PAGE_ID + 1}-tracks-page=1-per_page=100"],
                ["tracks", {f"{entity}_id": PAGE_ID + 1, "page": 1, "per_page": 100}],
            ]
    return keys


SIDE_CASES = [(kind, key) for kind in LIST_KINDS for key in _side_keys(kind)]


def _assert_main_list(result: TrackList) -> None:
    assert [t.beatport_id for t in result.tracks] == REAL_IDS
    assert (result.tracks[0].beatport_id, result.tracks[-1].beatport_id) == (23011269, 23616019)
    assert [t.position for t in result.tracks] == list(range(1, 8))
    assert (result.total_count, result.page, result.skipped) == (100, 1, 0)


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_each_kind_of_list_page_gives_its_list(kind: str) -> None:
    page, target, asked = _list_page(kind)
    _assert_main_list(find_tracks(page, target=target, asked=asked))


@pytest.mark.parametrize(("kind", "side_key"), SIDE_CASES, ids=[str(c) for c in SIDE_CASES])
def test_a_side_block_before_the_list_is_passed_over(kind: str, side_key: list[Any]) -> None:
    page, target, asked = _list_page(kind)
    _insert_before_main(page, _entry(side_key, _block()))
    _assert_main_list(find_tracks(page, target=target, asked=asked))
    # Without knowing what the page is for, two lists are a refusal, never a guess.
    with pytest.raises(ParseError, match="cannot tell which one is the page's own list"):
        find_tracks(page)


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_a_side_block_after_the_list_is_passed_over_too(kind: str) -> None:
    page, target, asked = _list_page(kind)
    _queries_of(page).append(_entry(["recommended-tracks"], _block()))
    _assert_main_list(find_tracks(page, target=target, asked=asked))


def test_the_real_top100_with_a_top_10_block_first() -> None:
    """The issue's case: the first block of tracks on a real Top 100 page is a top 10."""
    page = copy.deepcopy(REAL_TOP100)
    _queries_of(page).insert(0, _entry(["top-100-tracks-per_page=10"], _block()))
    _assert_main_list(find_tracks(page, target=Target("top100")))
    html = TOP100_HTML.read_text(encoding="utf-8")
    script = json.dumps(page, separators=(",", ":")).replace("&", "\\u0026")
    start = html.index('<script id="__NEXT_DATA__"')
    start = html.index(">", start) + 1
    injected = html[:start] + script + html[html.index("</script>", start) :]
    _assert_main_list(find_tracks(extract_next_data(injected), target=Target("top100")))


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_an_indistinguishable_twin_list_is_refused_in_words(kind: str) -> None:
    page, target, asked = _list_page(kind)
    main = next(q for q in _queries_of(page) if "results" in q["state"]["data"])
    _insert_before_main(page, _entry(copy.deepcopy(main["queryKey"]), _block()))
    with pytest.raises(ParseError) as caught:
        find_tracks(page, target=target, asked=asked)
    key = json.dumps(main["queryKey"], separators=(",", ":"))
    assert str(caught.value) == (
        f"the page holds 2 lists of tracks (query keys {key}, {key}) and their query keys "
        f"name it alike, so Crate cannot tell which one is the list of {target.short()}; it "
        "stored nothing rather than guess"
    )


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_two_lists_no_key_names_are_refused_in_words(kind: str) -> None:
    page, target, asked = _list_page(kind)
    main = next(q for q in _queries_of(page) if "results" in q["state"]["data"])
    main["queryKey"] = ["tracks-block-b"]
    _insert_before_main(page, _entry(["tracks-block-a"], _block()))
    with pytest.raises(ParseError) as caught:
        find_tracks(page, target=target, asked=asked)
    assert str(caught.value) == (
        'the page holds 2 lists of tracks (query keys ["tracks-block-a"], ["tracks-block-b"]) '
        f"and no key names it, so Crate cannot tell which one is the list of {target.short()}; "
        "it stored nothing rather than guess"
    )


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_one_list_under_an_unknown_key_is_still_read(kind: str) -> None:
    page, target, asked = _list_page(kind)
    main = next(q for q in _queries_of(page) if "results" in q["state"]["data"])
    main["queryKey"] = ["some-new-key-beatport-invented"]
    _assert_main_list(find_tracks(page, target=target, asked=asked))


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_an_empty_own_list_wins_over_a_side_block(kind: str) -> None:
    page, target, asked = _list_page(kind)
    main = next(q for q in _queries_of(page) if "results" in q["state"]["data"])
    main["state"]["data"].update(results=[], count=0, next=None)
    _insert_before_main(page, _entry(["recommended-tracks"], _block()))
    result = find_tracks(page, target=target, asked=asked)
    assert (result.tracks, result.total_count, result.has_next) == ([], 0, False)


def test_a_later_page_is_read_from_the_list_of_that_page() -> None:
    page, target, asked = _list_page("label")
    main = next(q for q in _queries_of(page) if "results" in q["state"]["data"])
    main["queryKey"] = list_query_key("label", PAGE_ID, 3, 100)
    main["state"]["data"]["page"] = "3/5"
    first_page = _entry(list_query_key("label", PAGE_ID, 1, 100), _block(count=100))
    _insert_before_main(page, first_page)
    result = find_tracks(page, target=target, asked={"page": "3", "per_page": "100"})
    assert [t.beatport_id for t in result.tracks] == REAL_IDS
    assert (result.tracks[0].position, result.page, result.total_pages) == (201, 3, 5)


def test_the_page_must_be_of_the_kind_and_id_asked_for() -> None:
    with pytest.raises(ParseError) as caught:
        find_tracks(load(TOP100_JSON), target=Target("chart", 5, "x"))
    assert str(caught.value) == (
        "Beatport sent its '/top-100' page instead of the page for chart #5"
    )
    with pytest.raises(ParseError) as caught:
        find_tracks(load(PURPOSE), target=Target("track", 16039305, "purpose"))
    assert str(caught.value) == (
        "Beatport sent the page of id 6389004 instead of the page for track #16039305"
    )
    page, _, asked = _list_page("chart")
    with pytest.raises(ParseError, match="page of id 42 instead of the page for chart #43"):
        find_tracks(page, target=Target("chart", 43, "x"), asked=asked)


@pytest.mark.parametrize("path", TRACK_PAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("own_track", [True, False], ids=["with-pageProps.track", "without"])
def test_a_track_page_gives_its_track_past_related_tracks(path: Path, own_track: bool) -> None:
    page = load(path)
    props = page.get("props", page)["pageProps"]
    expected = copy.deepcopy(props["track"])
    if not own_track:
        del props["track"]
    queries = _queries_of(page)
    track_id = expected["id"]
    other = copy.deepcopy(REAL_RESULTS[0])
    queries[0:0] = [
        _entry([f"track-{track_id}-related-tracks"], _block()),
        _entry(["recommended-tracks"], _block(first_id=92_000_001)),
        _entry([f"track-{other['id']}"], other),
    ]
    [track] = find_tracks(page, target=Target("track", track_id, "x")).tracks
    assert (track.beatport_id, track.raw) == (track_id, expected)


def test_a_track_page_with_two_other_tracks_is_refused_in_words() -> None:
    page = load(CONCUSSION)  # the data-route variant: no route, so no id to check first
    del page["pageProps"]["track"]
    _queries_of(page).insert(0, _entry(["track-23011269"], copy.deepcopy(REAL_RESULTS[0])))
    with pytest.raises(ParseError) as caught:
        find_tracks(page, target=Target("track", 1, "x"))
    assert str(caught.value) == (
        "the page holds 2 different tracks (#194481, #23011269); none is track #1, so Crate "
        "cannot tell which one the page is for; it stored nothing rather than guess"
    )


def test_a_track_page_without_its_track_never_reads_a_list() -> None:
    page = load(PURPOSE)
    del page["props"]["pageProps"]["track"]
    _queries_of(page)[:] = [_entry(["track-6389004-related-tracks"], _block())]
    with pytest.raises(ParseError, match=r"no track \(looked for track #6389004\)"):
        find_tracks(page, target=Target("track", 6389004, "purpose"))


# ---------------------------------------------------------------- through the web client

FAKE_KINDS = [
    ("https://www.beatport.com/top-100", "top100", 0),
    ("https://www.beatport.com/genre/techno/6/top-100", "genre_top100", 6),
    ("https://www.beatport.com/genre/techno/6/hype-100", "genre_hype100", 6),
    ("https://www.beatport.com/chart/peak-time/5", "chart", 5),
    ("https://www.beatport.com/release/an-ep/9", "release", 9),
    ("https://www.beatport.com/label/a-label/7/tracks", "label", 7),
    ("https://www.beatport.com/artist/someone/3/tracks", "artist", 3),
]


@pytest.fixture(scope="module")
def fake_beatport() -> Iterator[FakeBeatport]:
    """A fake Beatport whose list pages carry a side block of 10 tracks."""
    with FakeBeatport(
        tracks_per_list=40, per_page=25, charts={5: 60}, labels={7: 30}, artists={3: 30}
    ) as server:
        yield server


async def _collect_web(fake: FakeBeatport, target: Target) -> list[int]:
    settings = Settings(
        beatport_mode="web",
        beatport_web_url=fake.web_url,
        beatport_api_url=fake.api_url,
        beatport_min_interval=0.0,
    )
    async with BeatportClient(settings) as client:
        ids: list[int] = []
        for page in range(1, 20):
            listing = await client.fetch_page(target, page)
            ids += [t.beatport_id for t in listing.tracks]
            if not listing.has_next:
                return ids
    raise AssertionError("the list never ended")


@pytest.mark.parametrize(("url", "kind", "list_id"), FAKE_KINDS)
async def test_web_mode_collects_the_list_not_the_side_block(
    fake_beatport: FakeBeatport, url: str, kind: str, list_id: int
) -> None:
    fake_beatport.set_content(side_tracks="related")
    try:
        ids = await _collect_web(fake_beatport, parse_target(url))
    finally:
        fake_beatport.set_content(side_tracks="")
    assert ids == fake_beatport.track_ids(kind, list_id)


async def test_web_mode_fails_in_words_on_twin_lists(fake_beatport: FakeBeatport) -> None:
    fake_beatport.set_content(side_tracks="twin")
    try:
        with pytest.raises(BeatportError) as caught:
            await _collect_web(fake_beatport, parse_target(FAKE_KINDS[3][0]))
    finally:
        fake_beatport.set_content(side_tracks="")
    key = '["chart-5-tracks-page=1-per_page=100"]'
    assert str(caught.value) == (
        "Beatport's page for chart #5 did not contain the track data Crate reads (the page "
        f"holds 2 lists of tracks (query keys {key}, {key}) and their query keys name it "
        "alike, so Crate cannot tell which one is the list of chart #5; it stored nothing "
        "rather than guess); the site may have changed."
    )
