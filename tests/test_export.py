"""`/tracks/export.csv` over real HTTP on both engines, and the keyset walk behind it."""

from __future__ import annotations

import csv
import io

import pytest

from services import catalog
from services.export import export_chunks
from services.track_filter import parse_filter
from tests.conftest import LiveApp
from tests.support.library import (
    HOSTILE_LABEL,
    HOSTILE_TITLE,
    Library,
    beatport_track,
    label,
    person,
    record_chart,
    store_library,
)

DOCUMENTED = [
    "beatport_id", "title", "mix_name", "artists", "remixers", "label", "genre", "bpm", "key",
    "camelot", "length_ms", "isrc", "release", "release_date", "beatport_url", "spotify_id",
    "spotify_method", "spotify_confidence", "spotify_searched_at",
]  # fmt: skip


@pytest.fixture
async def library(live_app: LiveApp) -> Library:
    """The ten-track test library in the live app's database."""
    return await store_library()


async def export(live: LiveApp, query: str = "") -> list[dict[str, str]]:
    """Download the CSV for `query` and read it back with the csv module."""
    response = await live.http.get(f"/tracks/export.csv?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="crate-tracks.csv"'
    reader = csv.reader(io.StringIO(response.text, newline=""))
    header = next(reader)
    assert header[: len(DOCUMENTED)] == DOCUMENTED
    return [dict(zip(header, row, strict=True)) for row in reader]


async def test_export_has_the_documented_columns_and_values(
    live_app: LiveApp, library: Library
) -> None:
    rows = await export(live_app, "sort=title")
    by_title = {row["title"]: row for row in rows}
    assert len(rows) == 10
    alpha = by_title["Alpha Signal"]
    assert alpha["beatport_id"] == "1001"
    assert alpha["mix_name"] == "Original Mix"
    assert alpha["artists"] == "Alice Aurora" and alpha["remixers"] == ""
    assert alpha["label"] == "Northern Lights Records" and alpha["genre"] == "House"
    assert alpha["bpm"] == "124" and alpha["key"] == "A Minor" and alpha["camelot"] == "8A"
    assert alpha["length_ms"] == "360000" and alpha["isrc"] == "GBTST2601001"
    assert alpha["release"] == "Northern Signals EP" and alpha["release_date"] == "2026-01-10"
    assert alpha["beatport_url"] == "https://www.beatport.com/track/alpha-signal/1001"
    assert alpha["spotify_id"] == "4uLU6hMCjMI75M1A2tKUQC"
    assert alpha["spotify_method"] == "isrc" and alpha["spotify_confidence"] == "0.97"
    assert alpha["spotify_searched_at"].startswith("2026-01-15T12:30:00")
    assert by_title["Bravo Pulse"]["artists"] == "Alice Aurora, Bob Basalt"
    charlie = by_title["Charlie Drive"]
    assert charlie["remixers"] == "Cara Cobalt" and charlie["mix_name"] == "Cara Cobalt Remix"
    assert by_title["Echo Garden"]["spotify_method"] == "text"
    # Searched and not found: a time, no id, no method.
    bravo = by_title["Bravo Pulse"]
    assert bravo["spotify_searched_at"] and not bravo["spotify_id"]
    assert not bravo["spotify_method"] and not bravo["spotify_confidence"]
    unknown = by_title["India Unknown"]
    for column in ("label", "genre", "bpm", "key", "camelot", "length_ms", "release",
                   "release_date", "spotify_id", "spotify_method", "spotify_confidence",
                   "spotify_searched_at"):  # fmt: skip
        assert unknown[column] == "", column


async def test_export_follows_the_filter_and_the_order_of_the_list(
    live_app: LiveApp, library: Library
) -> None:
    rows = await export(live_app, f"genre={library.genres[5]}&sort=bpm")
    assert [row["title"] for row in rows] == [
        "Golf Fever",
        "Hotel Tide",
        "Alpha Signal",
        "Bravo Pulse",
    ]
    south = library.labels[202]
    assert [row["title"] for row in await export(live_app, f"label={south}&bpm_min=125")] == [
        "Charlie Drive",
        "Delta Motion",
    ]
    assert [row["title"] for row in await export(live_app, "key=8A&compatible=1&page=3")] == [
        "Bravo Pulse",
        "Alpha Signal",
        "Charlie Drive",
        "Delta Motion",
        "Hotel Tide",
    ]  # every page, whatever page the list was on
    assert await export(live_app, "bpm_min=999") == []
    await record_chart(library, [1006, 1003], "export-chart")
    chart = await export(live_app, "job=export-chart")
    assert [(row["title"], row["chart_position"]) for row in chart] == [
        ("Foxtrot Horizon", "1"),
        ("Charlie Drive", "2"),
    ]


async def test_bad_filter_is_refused_before_any_csv(live_app: LiveApp, library: Library) -> None:
    response = await live_app.http.get("/tracks/export.csv?bpm_min=fast")
    assert response.status_code == 422
    assert "BPM from must be a whole number" in response.text
    api = await live_app.http.get(
        "/tracks/export.csv?key=Z", headers={"Accept": "application/json"}
    )
    assert api.status_code == 422 and "key" in api.json()["errors"]


async def test_scraped_text_is_plain_text_in_the_csv(live_app: LiveApp, library: Library) -> None:
    formula_key = beatport_track(1101, "Formula Key", artists=[person(108, "Keyed")])
    formula_key["key"]["name"] = "=1+2"
    await store_library(
        [
            beatport_track(
                1100,
                '=HYPERLINK("http://evil.example")',
                artists=[person(107, "@Formula Fan")],
                label_obj=label(205, "+Plus Records"),
            ),
            formula_key,
        ]
    )
    rows = {row["beatport_id"]: row for row in await export(live_app)}
    hostile = rows["1009"]
    assert hostile["title"] == HOSTILE_TITLE and hostile["label"] == HOSTILE_LABEL
    # Cells a spreadsheet would run as formulas are defused with a leading quote.
    formula = rows["1100"]
    assert formula["title"] == '\'=HYPERLINK("http://evil.example")'
    assert formula["artists"] == "'@Formula Fan" and formula["label"] == "'+Plus Records"
    # The key too, like every other text column.
    assert rows["1101"]["key"] == "'=1+2" and rows["1101"]["camelot"] == "8A"


@pytest.mark.parametrize("sort", ["newest", "bpm", "key", "title", "artist", "label"])
async def test_keyset_chunks_walk_every_track_once_in_list_order(
    database_url: str, sort: str
) -> None:
    """Tiny chunks cross every boundary: ties, missing values, the two label halves."""
    tracks = [
        beatport_track(
            7000 + n,
            f"Walk {n % 7} {n:02d}",
            artists=[person(800 + n % 4, f"Walker {n % 4}")],
            label_obj=None if n % 9 == 0 else label(880 + n % 3, f"Walk Label {n % 3}"),
            bpm=None if n % 8 == 0 else 120 + n % 5,
            camelot=None if n % 10 == 0 else f"{1 + n % 12}{'AB'[n % 2]}",
            released=None if n % 6 == 0 else f"2025-0{1 + n % 3}-1{n % 2}",
        )
        for n in range(40)
    ]
    await store_library(tracks)
    track_filter = parse_filter({"sort": sort})
    page = await catalog.browse_tracks({"sort": sort}, per_page=100)
    assert page is not None and len(page.rows) == 40
    walked = [row[0] async for rows in export_chunks(track_filter, chunk=3)
              for row in rows]  # fmt: skip
    ids = {row.id: beatport for beatport, row in _by_beatport(page).items()}
    assert walked == [ids[row.id] for row in page.rows]


def _by_beatport(page: catalog.TrackPage) -> dict[int, catalog.TrackRow]:
    return {7000 + int(row.title.split()[-1]): row for row in page.rows}
