"""The library's pages over real HTTP on both engines: typed label and artist names with
their suggestions, releases in tracklist order, a chart's # column, an artist's figures,
a label's page without the label on each row, titles with their mix once, and the CSV's
two flavours."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import replace
from typing import Any

import pytest
from bs4 import BeautifulSoup
from piccolo.engine import engine_finder

from services.beatport.pages import find_tracks
from services.beatport.tracks import parse_track, track_list
from services.name_keys import name_key
from services.tables import Artist, Label, Track
from services.track_store import CollectCounts, store_tracks
from tests.conftest import LiveApp
from tests.support.fixtures import real_fixtures
from tests.support.library import (
    Library,
    beatport_track,
    label,
    library_tracks,
    person,
    record_chart,
    store_library,
)

TOP100 = real_fixtures() / "beatport" / "top-100_2026-01-25.next_data.trimmed.json"
MIGRATION = "services.piccolo_migrations.crate_2026_12_07t20_00_00_000000"


@pytest.fixture
async def library(live_app: LiveApp) -> Library:
    """The ten-track test library in the live app's database."""
    return await store_library()


def page_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def titles(html: str) -> list[str]:
    return [a.get_text() for a in page_of(html).select("#track-rows td.col-title > a")]


HTMX = {"HX-Request": "true"}


async def get(
    live: LiveApp, path: str, status: int = 200, headers: dict[str, str] | None = None
) -> str:
    response = await live.http.get(path, headers=headers)
    assert response.status_code == status, response.text
    return response.text


# ---------------------------------------------------------------- typed names


async def test_a_typed_label_name_filters_like_its_id(live_app: LiveApp, library: Library) -> None:
    north = ["Alpha Signal", "Bravo Pulse", "Golf Fever"]
    by_id = titles(await get(live_app, f"/tracks?label={library.labels[201]}&sort=title"))
    assert by_id == north  # the links from other pages keep working
    for typed in ("Northern Lights Records", "northern  LIGHTS records", "North", "nort"):
        html = await get(live_app, f"/tracks?label={typed}&sort=title")
        assert titles(html) == north, typed
        field = page_of(html).select_one("#filter-label")
        assert field is not None and field["value"] == " ".join(typed.split())
    # An id shows the label's name in the field; the name then travels with the form.
    field = page_of(await get(live_app, f"/tracks?label={library.labels[202]}")).select_one(
        "#filter-label"
    )
    assert field is not None and field["value"] == "Southbound Audio"
    # A name nobody has: said in words, at the field.
    refused = await live_app.http.get("/tracks?label=Nobody+Records")
    assert refused.status_code == 422
    message = page_of(refused.text).select_one("#error-label")
    assert message is not None
    assert "No label in the library is called “Nobody Records”" in message.get_text()
    as_json = await live_app.http.get(
        "/tracks?label=Nobody", headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 422 and "label" in as_json.json()["errors"]
    # LIKE's wildcards are only characters here.
    assert (await live_app.http.get("/tracks?label=%25")).status_code == 422


async def test_a_name_means_those_called_so_before_those_starting_so(live_app: LiveApp) -> None:
    objects = [
        beatport_track(1, "One", artists=[person(11, "Ann")], label_obj=label(21, "Drum")),
        beatport_track(2, "Two", artists=[person(12, "Annie")], label_obj=label(22, "Drumcode")),
        beatport_track(3, "Three", artists=[person(13, "Anna")], label_obj=label(23, "Drum")),
    ]
    library = await store_library(objects)
    # Two labels are called "Drum" (Beatport has homonyms): both; "Drumcode" is not one.
    assert titles(await get(live_app, "/tracks?label=drum&sort=title")) == ["One", "Three"]
    assert titles(await get(live_app, "/tracks?label=drumc")) == ["Two"]
    assert titles(await get(live_app, "/tracks?artist=Ann")) == ["One"]
    assert titles(await get(live_app, "/tracks?artist=an&sort=title")) == ["One", "Three", "Two"]
    # On an artist's page the label field narrows the artist's tracks.
    ann = library.artists[11]
    assert titles(await get(live_app, f"/artists/{ann}?label=Drum")) == ["One"]
    assert titles(await get(live_app, f"/artists/{ann}?label=Drumcode")) == []


async def test_typed_names_forgive_accents_case_and_punctuation(live_app: LiveApp) -> None:
    objects = [
        beatport_track(1, "Rue", artists=[person(11, "Âme")], label_obj=label(21, "Innervisions")),
        beatport_track(2, "Sun", artists=[person(12, "Kölsch")], label_obj=label(22, "Kompakt")),
        beatport_track(
            3, "Tide", artists=[person(13, "Röyksopp")], label_obj=label(23, "Dog Triumph")
        ),
        beatport_track(4, "Ode", artists=[person(14, "Sigur Rós")], label_obj=label(24, "K.R.")),
    ]
    await store_library(objects)
    typed_names = [
        ("ame", "Rue"), ("kolsch", "Sun"), ("KÖLSCH", "Sun"), ("royksopp", "Tide"),
        ("sigur ros", "Ode"), ("Sigur Rós", "Ode"),
    ]  # fmt: skip
    for typed, title in typed_names:
        assert titles(await get(live_app, f"/tracks?artist={typed}")) == [title], typed
    assert titles(await get(live_app, "/tracks?label=kr")) == ["Ode"]  # K.R.
    html = await get(live_app, "/tracks/names?artist=kol", headers=HTMX)
    assert [o["value"] for o in page_of(html).select("option")] == ["Kölsch"]
    html = await get(live_app, "/tracks/names?artist=sigur%20r", headers=HTMX)
    assert [o["value"] for o in page_of(html).select("option")] == ["Sigur Rós"]


async def test_a_typed_artist_name_filters_tracks_and_remixes(
    live_app: LiveApp, library: Library
) -> None:
    assert titles(await get(live_app, "/tracks?artist=bob+basalt&sort=title")) == [
        "Bravo Pulse",
        "Charlie Drive",
        "Delta Motion",
    ]
    # A remixer's tracks too, as with the artist's id.
    assert titles(await get(live_app, "/tracks?artist=Cara&sort=title")) == [
        "Charlie Drive",
        "Hotel Tide",
    ]
    combined = await get(live_app, "/tracks?artist=Alice&label=North&bpm_min=125")
    assert titles(combined) == ["Bravo Pulse"]
    fragment = await live_app.http.get(
        "/tracks?artist=Alice+Aurora&label=", headers={"HX-Request": "true"}
    )
    assert fragment.headers["HX-Push-Url"] == "/tracks?artist=Alice+Aurora"
    exported = await live_app.http.get("/tracks/export.csv?artist=alice")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(row["title"] for row in rows) == ["Alpha Signal", "Bravo Pulse", "Hotel Tide"]


async def test_the_fields_suggest_the_librarys_names(live_app: LiveApp, library: Library) -> None:
    html = await get(live_app, "/tracks/names?label=no", headers=HTMX)
    assert [o["value"] for o in page_of(html).select("option")] == ["Northern Lights Records"]
    html = await get(live_app, "/tracks/names?artist=%20B", headers=HTMX)
    assert [o["value"] for o in page_of(html).select("option")] == ["Bob Basalt"]
    answer = await live_app.http.get(
        "/tracks/names?artist=", headers={"Accept": "application/json"}
    )
    assert answer.json() == {"names": []}
    answer = await live_app.http.get(
        "/tracks/names?label=s", headers={"Accept": "application/json"}
    )
    assert answer.json() == {"names": ["Southbound Audio"]}
    # The page wires each field to its suggestions.
    page = page_of(await get(live_app, "/tracks"))
    for name in ("label", "artist"):
        field = page.select_one(f"#filter-{name}")
        assert field is not None and field["list"] == f"{name}-names"
        assert field["hx-get"] == "/tracks/names" and field["hx-target"] == f"#{name}-names"
        assert page.select_one(f"datalist#{name}-names") is not None


async def test_existing_libraries_get_name_keys_and_track_numbers(
    live_app: LiveApp, library: Library
) -> None:
    """The migration's backfill, run on a library stored before it (its columns emptied)."""
    await Label.update({Label.name_key: ""}, force=True)
    await Artist.update({Artist.name_key: ""}, force=True)
    await Track.update({Track.track_number: None}, force=True)
    # A release collection saw tracks 1003 and 1004 at places 2 and 1.
    await store_library([beatport_track(5001, "Filler", artists=[person(9, "Zed")])])
    await record_release(library, {1004: 1, 1003: 2})
    await Track.update({Track.track_number: None}, force=True)

    migration = __import__(MIGRATION, fromlist=["backfill"])
    await migration.backfill(engine_finder())

    labels = await Label.select(Label.name, Label.name_key)
    assert {row["name_key"] for row in labels} == {name_key(row["name"]) for row in labels}
    assert name_key("Northern  Lights Records") == "northern lights records"
    numbers = {
        row["beatport_id"]: row["track_number"]
        for row in await Track.select(Track.beatport_id, Track.track_number)
    }
    # Beatport's "number" (1001, 1002) and a release collection's places (1003, 1004).
    assert (numbers[1001], numbers[1002], numbers[1003], numbers[1004]) == (2, 1, 2, 1)
    assert numbers[1005] is None
    assert titles(await get(live_app, "/tracks?label=northern")) != []


async def record_release(library: Library, places: dict[int, int]) -> None:
    """A finished collection of a release that listed these tracks at these places."""
    from services import jobs
    from services.tables import Job

    task_id = "release-job-1"
    target = {"kind": "release", "beatport_id": 999, "slug": "r", "date_from": None}
    await jobs.create(task_id, "collect_bp_tracks_task", {"target": target, "max_pages": 1})
    row = await Job.select(Job._meta.primary_key).where(Job.task_id == task_id).first()
    assert row is not None
    by_id = {obj["id"]: obj for obj in library_tracks()}
    seen = [replace(parse_track(by_id[bid]), position=n) for bid, n in places.items()]
    await store_tracks(seen, CollectCounts(), job_pk=int(row["id"]), ordered=True)


# ---------------------------------------------------------------- orders and columns


def release_tracks() -> list[dict[str, Any]]:
    """A three-track release whose tracklist order is neither id, date nor title order."""
    common: dict[str, Any] = {
        "artists": [person(71, "Tess Tracklist")],
        "label_obj": label(72, "Order Records"),
        "release_id": 73,
        "release_name": "Side A to C",
    }
    return [
        beatport_track(701, "Aaa Closer", number=3, released="2026-02-03", **common),
        beatport_track(702, "Bbb Opener", number=1, released="2026-02-01", **common),
        beatport_track(703, "Ccc Middle", number=2, released="2026-02-02", **common),
    ]


async def test_a_release_lists_its_tracks_in_tracklist_order(live_app: LiveApp) -> None:
    library = await store_library(release_tracks())
    html = await get(live_app, f"/releases/{library.releases[73]}")
    assert titles(html) == ["Bbb Opener", "Ccc Middle", "Aaa Closer"]
    page = page_of(html)
    assert [td.get_text() for td in page.select("#track-rows td.col-pos")] == ["1", "2", "3"]
    assert page.select_one("#filter-sort option[selected]")["value"] == "tracklist"  # type: ignore[index]
    # Another order is still a choice; the tracks list by release can ask for it too.
    newest = await get(live_app, f"/releases/{library.releases[73]}?sort=newest")
    assert titles(newest) == ["Aaa Closer", "Ccc Middle", "Bbb Opener"]
    assert page_of(newest).select("#track-rows td.col-pos") == []
    listed = await get(live_app, f"/tracks?release={library.releases[73]}")
    assert titles(listed) == ["Bbb Opener", "Ccc Middle", "Aaa Closer"]
    exported = await live_app.http.get(f"/tracks/export.csv?release={library.releases[73]}")
    assert [row["title"] for row in csv.DictReader(io.StringIO(exported.text))] == titles(listed)
    refused = await live_app.http.get("/tracks?sort=tracklist")
    assert refused.status_code == 422


def test_a_release_lists_places_are_its_track_numbers_a_charts_are_not() -> None:
    objects = release_tracks()
    as_release = track_list(objects, {"page": 1}, use_track_number=True).tracks
    assert [t.track_number for t in as_release] == [3, 1, 2]  # Beatport's "number"
    for obj in objects:
        del obj["number"]  # list pages may not carry it: the place in the release's list
    as_release = track_list(objects, {"page": 1}, use_track_number=True).tracks
    assert [t.track_number for t in as_release] == [1, 2, 3]
    as_chart = track_list(objects, {"page": 1}, use_track_number=False).tracks
    assert [(t.position, t.track_number) for t in as_chart] == [(1, None), (2, None), (3, None)]


async def test_a_release_collection_keeps_its_places_when_the_tracks_are_known(
    live_app: LiveApp,
) -> None:
    """Tracks first seen in a chart (no numbers) get them from a later release collection,
    though their Beatport data did not change; a later chart does not take them away."""
    objects = release_tracks()
    for obj in objects:
        del obj["number"]  # list pages do not carry it
    parsed = [parse_track(obj) for obj in objects]
    await store_tracks(parsed, CollectCounts())
    places = {701: 3, 702: 1, 703: 2}
    counts = CollectCounts()
    await store_tracks([replace(t, track_number=places[t.beatport_id]) for t in parsed], counts)
    assert counts.unchanged == 3
    await store_tracks(parsed, CollectCounts())  # a chart again
    release = await Track.select(Track.release).first()
    assert release is not None
    html = await get(live_app, f"/releases/{release['release']}")
    assert titles(html) == ["Bbb Opener", "Ccc Middle", "Aaa Closer"]


async def test_a_charts_tracks_show_their_position(live_app: LiveApp, library: Library) -> None:
    await record_chart(library, [1005, 1001, 1003], "chart-job-1")
    html = await get(live_app, "/tracks?job=chart-job-1")
    page = page_of(html)
    assert page.select_one("th.col-pos") is not None
    assert page.select_one("th.col-pos").get_text() == "#"  # type: ignore[union-attr]
    assert [td.get_text() for td in page.select("#track-rows td.col-pos")] == ["1", "2", "3"]
    assert titles(html) == ["Echo Garden", "Alpha Signal", "Charlie Drive"]
    by_bpm = page_of(await get(live_app, "/tracks?job=chart-job-1&sort=bpm"))
    assert by_bpm.select("th.col-pos") == []  # not a place in the chart any more
    fragment = await get(live_app, "/tracks?job=chart-job-1", headers=HTMX)
    assert len(page_of(fragment).select("#track-rows td.col-pos")) == 3


async def figures(live: LiveApp, path: str, headers: dict[str, str] | None = None) -> str | None:
    """The artist's figures as read on the page, or None when it shows none."""
    stats = page_of(await get(live, path, headers=headers)).select_one("#artist-stats")
    return " ".join(stats.get_text(" ").split()) if stats else None


async def test_an_artists_page_shows_their_figures(live_app: LiveApp, library: Library) -> None:
    alice, cara, eve = (f"/artists/{library.artists[n]}" for n in (101, 103, 105))
    # Alice: 1001 and 1002 (one release on Northern Lights), 1008 (Southbound), 122-126 BPM.
    assert await figures(live_app, alice) == "3 tracks 2 releases 2 labels 122–126 BPM"
    # Cara only remixes (1003, 1008, both on Southbound): counted too.
    assert await figures(live_app, cara) == "2 tracks 2 releases 1 label 122–130 BPM"
    # Eve's second track has no release, label or BPM.
    assert await figures(live_app, eve) == "2 tracks 1 release 1 label 120 BPM"
    # The figures are the artist's, whatever the filter; only full pages read them.
    narrowed = await figures(live_app, f"{alice}?bpm_min=125")
    assert narrowed == "3 tracks 2 releases 2 labels 122–126 BPM"
    assert await figures(live_app, f"{alice}?bpm_min=125", headers=HTMX) is None
    assert await figures(live_app, f"/labels/{library.labels[201]}") is None


async def test_a_labels_page_does_not_repeat_the_label(live_app: LiveApp, library: Library) -> None:
    everywhere = page_of(await get(live_app, "/tracks"))
    assert len(everywhere.select("#track-rows td.col-label")) == 10
    html = await get(live_app, f"/labels/{library.labels[201]}")
    page = page_of(html)
    assert page.select("th.col-label, td.col-label") == []
    rows = page.select_one("#track-rows")
    assert rows is not None and "Northern Lights Records" not in rows.get_text()
    assert page.select_one("h1").get_text() == "Northern Lights Records"  # type: ignore[union-attr]
    release = page_of(await get(live_app, f"/releases/{library.releases[301]}"))
    assert release.select("td.col-label") == []  # the release's label is in its heading


async def test_feat_in_a_title_is_not_repeated_as_the_mix(live_app: LiveApp) -> None:
    """The real Top 100 sample: Beatport names a track "Into My Life (feat. Joyce Sims)" with
    the mix "feat. Joyce Sims"."""
    data = json.loads(await asyncio.to_thread(TOP100.read_text, encoding="utf-8"))
    await store_tracks(find_tracks(data).tracks, CollectCounts())
    page = page_of(await get(live_app, "/tracks?q=into+my+life"))
    cell = page.select_one("#track-rows td.col-title")
    assert cell is not None
    assert cell.select_one("a").get_text() == "Into My Life (feat. Joyce Sims)"  # type: ignore[union-attr]
    assert cell.select(".mix") == []
    # Other mixes once, in brackets; Beatport's default "Original Mix" not on every row.
    shown = {
        td.select("a")[0].get_text(): " ".join(mix.get_text() for mix in td.select(".mix"))
        for td in page_of(await get(live_app, "/tracks")).select("#track-rows td.col-title")
    }
    assert shown["Greece 2000"] == "(Max Styler Extended Rework)"
    assert shown["Kids"] == "(Extended Mix)"
    assert shown["Feel This Way"] == ""  # Original Mix
    track = await Track.select(Track._meta.primary_key).where(
        Track.title == "Into My Life (feat. Joyce Sims)"
    )
    detail = page_of(await get(live_app, f"/tracks/{track[0]['id']}"))
    assert detail.select_one("h1").get_text(" ", strip=True) == "Into My Life (feat. Joyce Sims)"  # type: ignore[union-attr]
    assert detail.select_one("title").get_text().startswith("Into My Life (feat. Joyce Sims) ·")  # type: ignore[union-attr]


async def test_each_row_has_its_length_artwork_and_preview(
    live_app: LiveApp, library: Library
) -> None:
    row = page_of(await get(live_app, "/tracks?q=alpha")).select_one("#track-rows tr")
    assert row is not None
    assert row.select_one("td.col-length").get_text() == "6:00"  # type: ignore[union-attr]
    thumb = row.select_one("button.play img.thumb")
    assert thumb is not None
    assert thumb["src"] == "https://geo-media.beatport.com/image_size/95x95/301.jpg"
    button = row.select_one("button.play")
    assert button is not None
    assert button["data-preview"] == "https://geo-samples.beatport.com/track/1001.LOFI.mp3"
    assert button["aria-pressed"] == "false" and "Alpha Signal" in str(button["aria-label"])
    unknown = page_of(await get(live_app, "/tracks?q=india")).select_one("#track-rows tr")
    assert unknown is not None
    assert unknown.select_one("td.col-length").get_text() == ""  # type: ignore[union-attr]
    assert unknown.select_one(".thumb-none") is not None


# ---------------------------------------------------------------- CSV


async def test_the_csv_says_its_charset_once(live_app: LiveApp, library: Library) -> None:
    response = await live_app.http.get("/tracks/export.csv")
    assert response.headers.get_list("content-type") == ["text/csv; charset=utf-8"]
    assert response.content.startswith(b"beatport_id,")  # no byte order mark for scripts
    header = next(csv.reader(io.StringIO(response.text)))
    assert "length" not in header
    alpha = next(
        r for r in csv.DictReader(io.StringIO(response.text)) if r["beatport_id"] == "1001"
    )
    assert alpha["length_ms"] == "360000"


async def test_the_excel_csv_has_a_byte_order_mark_and_lengths(
    live_app: LiveApp, library: Library
) -> None:
    page = page_of(await get(live_app, "/tracks?spotify=matched"))
    link = page.select_one("#export-excel")
    assert link is not None and link["href"] == "/tracks/export.csv?spotify=matched&excel=1"
    plain = page_of(await get(live_app, "/tracks")).select_one("#export-excel")
    assert plain is not None and plain["href"] == "/tracks/export.csv?excel=1"
    response = await live_app.http.get("/tracks/export.csv?excel=1")
    assert response.status_code == 200
    assert response.headers.get_list("content-type") == ["text/csv; charset=utf-8"]
    assert 'filename="crate-tracks-excel.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbfbeatport_id,")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    header = list(rows[0])
    assert header[:19] == [
        "beatport_id", "title", "mix_name", "artists", "remixers", "label", "genre", "bpm",
        "key", "camelot", "length_ms", "isrc", "release", "release_date", "beatport_url",
        "spotify_id", "spotify_method", "spotify_confidence", "spotify_searched_at",
    ]  # fmt: skip
    assert header[-1] == "length"
    by_id = {row["beatport_id"]: row for row in rows}
    assert (by_id["1001"]["length_ms"], by_id["1001"]["length"]) == ("360000", "6:00")
    assert by_id["1010"]["length"] == ""  # no length known
    assert len(rows) == 10
    refused = await live_app.http.get("/tracks/export.csv?excel=perhaps")
    assert refused.status_code == 422
