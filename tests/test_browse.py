"""Browsing the library over real HTTP on both engines: filters, sorts, pages, htmx, errors."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from bs4 import BeautifulSoup

from services import track_filter
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


@pytest.fixture
async def library(live_app: LiveApp) -> Library:
    """The ten-track test library in the live app's database."""
    return await store_library()


def page_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def titles(html: str) -> list[str]:
    """Track titles in list order."""
    return [a.get_text() for a in page_of(html).select("#track-rows td.col-title > a")]


async def listed(live: LiveApp, path: str, **headers: str) -> list[str]:
    response = await live.http.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return titles(response.text)


NEWEST = [
    "Bravo Pulse",  # both released 2026-01-10: the later-stored first
    "Alpha Signal",
    "Charlie Drive",
    "Delta Motion",
    "Echo Garden",
    "Foxtrot Horizon",
    "Golf Fever",
    "Hotel Tide",
    HOSTILE_TITLE,
    "India Unknown",
]


async def test_the_list_shows_every_track_newest_first(live_app: LiveApp, library: Library) -> None:
    response = await live_app.http.get("/tracks")
    assert response.status_code == 200
    page = page_of(response.text)
    assert titles(response.text) == NEWEST  # no release date: last
    assert page.select_one("#results-total").get_text() == "10"  # type: ignore[union-attr]
    first = page.select_one("#track-rows tr")
    assert first is not None
    links = {a["href"] for a in first.select("a")}
    assert f"/artists/{library.artists[101]}" in links
    assert f"/artists/{library.artists[102]}" in links
    assert f"/labels/{library.labels[201]}" in links
    assert f"/tracks/{library.track(1002)}" in links
    # Every filter is a plain GET form that works without JavaScript.
    form = page.select_one("form#track-filters")
    assert form is not None and form["method"] == "get" and form["action"] == "/tracks"
    for name in ("q", "genre", "bpm_min", "bpm_max", "key", "compatible", "released_from",
                 "released_to", "spotify", "sort"):  # fmt: skip
        assert form.select_one(f"[name={name}]") is not None, name
    for field in form.select("input:not([type=hidden]), select"):
        labelled = field.get("id") and page.select_one(f"label[for={field['id']}]")
        assert labelled or field.find_parent("label"), field


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=alpha", ["Alpha Signal"]),
        ("q=ALICE+aurora", ["Bravo Pulse", "Alpha Signal", "Hotel Tide"]),
        ("q=southbound", ["Charlie Drive", "Delta Motion", "Hotel Tide"]),
        ("q=cobalt", ["Charlie Drive", "Hotel Tide"]),  # the remixer
        ("q=bo+pu", ["Bravo Pulse"]),  # words shorter than three letters
        ("q=a+alpha", ["Alpha Signal"]),  # a single letter would match everything
        ("q=100%25", []),  # LIKE wildcards are plain characters
        ("q=a_p", []),
        ("genre={house}", ["Bravo Pulse", "Alpha Signal", "Golf Fever", "Hotel Tide"]),
        (
            "bpm_min=124&bpm_max=130",
            ["Bravo Pulse", "Alpha Signal", "Charlie Drive", HOSTILE_TITLE],
        ),
        ("bpm_min=138", ["Echo Garden", "Foxtrot Horizon"]),
        ("key=8A", ["Alpha Signal", "Hotel Tide"]),
        (
            "key=8a&compatible=1",
            ["Bravo Pulse", "Alpha Signal", "Charlie Drive", "Delta Motion", "Hotel Tide"],
        ),
        ("key=1A&compatible=1", ["Echo Garden", "Foxtrot Horizon", "Golf Fever"]),  # 12A, 2A
        ("key=12A&compatible=on", ["Echo Garden", "Foxtrot Horizon"]),  # 1A, 11A, 12B
        ("label={south}", ["Charlie Drive", "Delta Motion", "Hotel Tide"]),
        ("artist={cara}", ["Charlie Drive", "Hotel Tide"]),  # as remixer
        ("artist={alice}&bpm_max=124", ["Alpha Signal", "Hotel Tide"]),
        (
            "released_from=2025-10-01&released_to=2025-12-31",
            ["Charlie Drive", "Delta Motion", "Echo Garden"],
        ),
        ("spotify=matched", ["Alpha Signal", "Echo Garden"]),
        ("spotify=not_found", ["Bravo Pulse", "Delta Motion"]),
        (
            "spotify=unsearched",
            [
                "Charlie Drive",
                "Foxtrot Horizon",
                "Golf Fever",
                "Hotel Tide",
                HOSTILE_TITLE,
                "India Unknown",
            ],
        ),
        ("spotify=unmatched&genre={house}", ["Bravo Pulse", "Golf Fever", "Hotel Tide"]),
        ("q=&genre=&bpm_min=&key=&spotify=&sort=", None),
    ],
)
async def test_each_filter_narrows_the_list(
    live_app: LiveApp, library: Library, query: str, expected: list[str] | None
) -> None:
    path = "/tracks?" + query.format(
        house=library.genres[5],
        south=library.labels[202],
        cara=library.artists[103],
        alice=library.artists[101],
    )
    found = await listed(live_app, path)
    if expected is None:  # empty fields are no filter at all
        assert found == NEWEST
    else:
        assert found == expected


def test_compatible_keys_are_the_harmonic_neighbours() -> None:
    assert track_filter.compatible_keys("8A") == ["8A", "8B", "7A", "9A"]
    assert track_filter.compatible_keys("12B") == ["12B", "12A", "11B", "1B"]
    assert track_filter.compatible_keys("1A") == ["1A", "1B", "12A", "2A"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # Missing values sort as the smallest: first going up, last going down.
        (
            "bpm",
            [
                "India Unknown",
                "Golf Fever",
                "Hotel Tide",
                "Alpha Signal",
                "Bravo Pulse",
                HOSTILE_TITLE,
                "Charlie Drive",
                "Delta Motion",
                "Echo Garden",
                "Foxtrot Horizon",
            ],
        ),
        (
            "key",
            [
                "India Unknown",
                "Echo Garden",
                "Golf Fever",
                HOSTILE_TITLE,
                "Delta Motion",
                "Alpha Signal",
                "Hotel Tide",
                "Charlie Drive",
                "Bravo Pulse",
                "Foxtrot Horizon",
            ],
        ),
        (
            "title",
            [
                "Alpha Signal",
                "Bravo Pulse",
                "Charlie Drive",
                "Delta Motion",
                "Echo Garden",
                "Foxtrot Horizon",
                "Golf Fever",
                "Hotel Tide",
                "India Unknown",
            ],
        ),
        # "alice aurora" (ids 1 and 8) before "alice aurora, bob basalt".
        (
            "artist",
            [
                "Alpha Signal",
                "Hotel Tide",
                "Bravo Pulse",
                "Charlie Drive",
                "Delta Motion",
                "Echo Garden",
                "Foxtrot Horizon",
                "Golf Fever",
                "India Unknown",
                HOSTILE_TITLE,
            ],
        ),
        (
            "label",
            [
                "India Unknown",
                HOSTILE_TITLE,
                "Alpha Signal",
                "Bravo Pulse",
                "Golf Fever",
                "Charlie Drive",
                "Delta Motion",
                "Hotel Tide",
                "Echo Garden",
                "Foxtrot Horizon",
            ],
        ),
    ],
)
async def test_sorts_order_the_whole_list_with_ties_broken_by_id(
    live_app: LiveApp, library: Library, sort: str, expected: list[str]
) -> None:
    found = await listed(live_app, f"/tracks?sort={sort}")
    if sort == "title":  # where "<" sorts depends on the database's collation
        found.remove(HOSTILE_TITLE)
    assert found == expected


async def test_pages_carry_the_total_and_the_filter(live_app: LiveApp) -> None:
    many = [
        beatport_track(5000 + n, f"Filler {n:03d}", artists=[person(900, "Pat Pager")],
                       label_obj=label(990, "Page Records"), bpm=100 + n % 50,
                       released=f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}")
        for n in range(123)
    ]  # fmt: skip
    await store_library(many)
    first = await live_app.http.get("/tracks?sort=title")
    page = page_of(first.text)
    assert titles(first.text)[:2] == ["Filler 000", "Filler 001"]
    assert len(titles(first.text)) == 50
    assert page.select_one("#results-total").get_text() == "123"  # type: ignore[union-attr]
    assert "Page 1 of 3" in page.select_one("nav.pager").get_text()  # type: ignore[union-attr]
    next_link = page.select_one("nav.pager a[rel=next]")
    assert next_link is not None and next_link["href"] == "/tracks?sort=title&page=2"
    third = await live_app.http.get("/tracks?sort=title&page=3")
    assert titles(third.text)[0] == "Filler 100" and len(titles(third.text)) == 23
    assert "1–50" not in third.text and "101–123" in third.text
    assert page_of(third.text).select_one("nav.pager a[rel=next]") is None
    beyond = await live_app.http.get("/tracks?sort=title&page=9")
    assert beyond.status_code == 200
    assert "There is no page 9" in beyond.text
    narrowed = await live_app.http.get("/tracks?bpm_min=140&sort=title")
    total = page_of(narrowed.text).select_one("#results-total")
    assert total is not None and total.get_text() == "20"


async def test_htmx_gets_only_the_results_and_the_clean_url(
    live_app: LiveApp, library: Library
) -> None:
    response = await live_app.http.get(
        "/tracks?q=&genre=&bpm_min=120&bpm_max=125&key=&spotify=&sort=newest",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text and "<form" not in response.text
    assert titles(response.text) == ["Alpha Signal", "Golf Fever", "Hotel Tide"]
    # Empty fields and the default sort stay out of the address bar.
    assert response.headers["HX-Push-Url"] == "/tracks?bpm_min=120&bpm_max=125"
    boosted = await live_app.http.get(
        "/tracks?bpm_min=120", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert "<html" in boosted.text and "HX-Push-Url" not in boosted.headers
    restore = await live_app.http.get(
        "/tracks?bpm_min=120",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text and 'id="track-filters"' in restore.text
    # The full page includes the same results partial.
    full = await live_app.http.get("/tracks?bpm_min=120&bpm_max=125")
    assert titles(full.text) == titles(response.text)
    section = page_of(full.text).select_one("#results")
    assert section is not None and section.select_one("#track-rows") is not None


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("bpm_min=fast", "bpm_min", "BPM from must be a whole number"),
        ("bpm_min=130&bpm_max=120", "bpm_max", "is below BPM from"),
        ("key=13C", "key", "Camelot key like 8A"),
        ("genre=house", "genre", "must be an id"),
        ("released_from=2026-13-01", "released_from", "a date like 2026-01-31"),
        ("released_from=2026-02-01&released_to=2026-01-01", "released_to", "before released from"),
        ("spotify=maybe", "spotify", "matched, unmatched, not_found"),
        ("sort=colour", "sort", "Sort by one of"),
        ("sort=position", "sort", "Sort by one of"),
        ("page=0", "page", "The page must be a whole number"),
        ("page=99999999999999999999", "page", "The page must be a whole number"),
        ("compatible=perhaps", "compatible", "on (1) or off (0)"),
        ("label=987654", "label", "There is no label 987654"),
        ("job=no-such-job", "job", "There is no job no-such-job"),
        ("q=" + "x" * 300, "q", "at most 200 characters"),
    ],
)
async def test_bad_filter_values_are_explained_not_a_server_error(
    live_app: LiveApp, library: Library, query: str, field: str, words: str
) -> None:
    response = await live_app.http.get(f"/tracks?{query}")
    assert response.status_code == 422
    page = page_of(response.text)
    alert = page.select_one("#results [role=alert]")
    assert alert is not None and words in alert.get_text()
    assert page.select_one("form#track-filters") is not None  # the form stays, to fix it
    fragment = await live_app.http.get(f"/tracks?{query}", headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and words in fragment.text and "<html" not in fragment.text
    api = await live_app.http.get(f"/tracks?{query}", headers={"Accept": "application/json"})
    assert api.status_code == 422
    body = api.json()
    assert field in body["errors"] and words in body["errors"][field]
    assert words in body["detail"]


async def test_json_clients_get_the_page_as_json(live_app: LiveApp, library: Library) -> None:
    response = await live_app.http.get(
        "/tracks?key=8A&sort=bpm", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["page"] == 1 and body["has_next"] is False
    assert [track["title"] for track in body["tracks"]] == ["Hotel Tide", "Alpha Signal"]
    assert body["tracks"][0]["remixers"] == ["Cara Cobalt"]


async def test_empty_states_say_what_to_do(live_app: LiveApp) -> None:
    empty = await live_app.http.get("/tracks")
    assert "No tracks yet: paste a Beatport link" in empty.text
    await store_library()
    none = await live_app.http.get("/tracks?bpm_min=999")
    assert "No tracks match these filters" in none.text
    reset = page_of(none.text).select_one("#results a[href='/tracks']")
    assert reset is not None and "Reset" in reset.get_text()


async def test_artist_label_and_release_pages_list_their_tracks(
    live_app: LiveApp, library: Library
) -> None:
    cara = library.artists[103]
    artist = await live_app.http.get(f"/artists/{cara}")
    assert artist.status_code == 200
    assert page_of(artist.text).select_one("h1").get_text() == "Cara Cobalt"  # type: ignore[union-attr]
    assert titles(artist.text) == ["Charlie Drive", "Hotel Tide"]
    south = library.labels[202]
    narrowed = await live_app.http.get(f"/labels/{south}?bpm_min=125&sort=bpm")
    assert titles(narrowed.text) == ["Charlie Drive", "Delta Motion"]
    form = page_of(narrowed.text).select_one("form#track-filters")
    assert form is not None and form["action"] == f"/labels/{south}"
    assert form.select_one("input[name=label]") is None  # the path says which label
    export = page_of(narrowed.text).select_one("#export-csv")
    assert export is not None and f"label={south}" in str(export["href"])
    fragment = await live_app.http.get(
        f"/labels/{south}?bpm_min=125", headers={"HX-Request": "true"}
    )
    assert fragment.headers["HX-Push-Url"] == f"/labels/{south}?bpm_min=125"
    release = await live_app.http.get(f"/releases/{library.releases[301]}")
    assert titles(release.text) == ["Bravo Pulse", "Alpha Signal"]
    assert f'href="/labels/{library.labels[201]}"' in release.text
    for path in ("/artists/999999", "/labels/999999", "/releases/999999", "/tracks/999999"):
        missing = await live_app.http.get(path)
        assert missing.status_code == 404, path
        assert "There is no" in missing.text and "<nav" in missing.text
    bad_on_entity = await live_app.http.get(f"/labels/{south}?bpm_min=x")
    assert bad_on_entity.status_code == 422 and "Southbound Audio" in bad_on_entity.text


async def test_track_page_shows_beatport_spotify_features_and_jobs(
    live_app: LiveApp, library: Library
) -> None:
    await record_chart(library, [1002, 1001], "chart-job-1")
    response = await live_app.http.get(f"/tracks/{library.track(1001)}")
    assert response.status_code == 200
    page = page_of(response.text)
    assert page.select_one("h1").get_text(" ", strip=True) == "Alpha Signal (Original Mix)"  # type: ignore[union-attr]
    artwork = page.select_one("img.artwork")
    assert artwork is not None and str(artwork["src"]).endswith("/301.jpg")
    audio = page.select_one("audio")
    assert audio is not None and audio["preload"] == "none"
    assert audio["src"] == "https://geo-samples.beatport.com/track/1001.LOFI.mp3"
    text = page.get_text(" ", strip=True)
    for words in ("124", "A Minor (8A)", "GBTST2601001", "CAT1001", "2026-01-10", "$1.49", "6:00"):
        assert words in text, words
    assert page.select_one(f"a[href='/artists/{library.artists[101]}']") is not None
    assert page.select_one(f"a[href='/labels/{library.labels[201]}']") is not None
    assert page.select_one(f"a[href='/releases/{library.releases[301]}']") is not None
    spotify = page.select_one("section.spotify")
    assert spotify is not None and spotify["data-state"] == "matched"
    panel = spotify.get_text(" ", strip=True)
    assert "Matched by ISRC, 97% confident" in panel
    assert "Alpha Signal EP" in panel and "2026-01-09" in panel
    assert "(+2.5 s vs Beatport)" in panel
    assert spotify.select_one("a[href^='https://open.spotify.com/track/']") is not None
    bars = spotify.select("ul.features svg[role=img]")
    assert [bar["aria-label"] for bar in bars] == ["danceability 0.81", "energy 0.66"]
    seen = page.select_one("table.sightings")
    assert seen is not None and "#2" in seen.get_text()
    job_link = seen.select_one("a")
    assert job_link is not None and job_link["href"] == "/tracks?job=chart-job-1"
    raw = page.select_one("details.raw pre")
    assert raw is not None and '"isrc": "GBTST2601001"' in raw.get_text()

    not_found = page_of((await live_app.http.get(f"/tracks/{library.track(1002)}")).text)
    assert not_found.select_one("section.spotify")["data-state"] == "not_found"  # type: ignore[index]
    assert "not found on Spotify" in not_found.get_text()
    never = page_of((await live_app.http.get(f"/tracks/{library.track(1010)}")).text)
    assert "Not looked up on Spotify yet" in never.get_text()
    assert never.select_one("audio") is not None
    assert "No recorded job has seen this track" in never.get_text()


async def test_a_jobs_tracks_come_in_chart_order(live_app: LiveApp, library: Library) -> None:
    await record_chart(library, [1005, 1001, 1008], "chart-job-2")
    assert await listed(live_app, "/tracks?job=chart-job-2") == [
        "Echo Garden",
        "Alpha Signal",
        "Hotel Tide",
    ]
    assert await listed(live_app, "/tracks?job=chart-job-2&sort=bpm") == [
        "Hotel Tide",
        "Alpha Signal",
        "Echo Garden",
    ]
    assert await listed(live_app, "/tracks?job=chart-job-2&bpm_min=124") == [
        "Echo Garden",
        "Alpha Signal",
    ]
    history = await live_app.http.get("/jobs")
    link = page_of(history.text).select_one("a.job-tracks")
    assert link is not None and link["href"] == "/tracks?job=chart-job-2"
    cell = link.find_parent("td")
    # The job's badge (its name, then its state), then its kind.
    assert cell is not None and cell.get_text(" ", strip=True).startswith(
        "chart 'test-chart' (#77)"
    )
    assert "Beatport collection" in cell.get_text(" ", strip=True)
    assert page_of(history.text).select_one('.badge[data-task-id="chart-job-2"]') is not None


async def test_hostile_scraped_text_is_shown_as_text(live_app: LiveApp, library: Library) -> None:
    listing = await live_app.http.get("/tracks")
    assert HOSTILE_TITLE not in listing.text and "<img src=x" not in listing.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
    assert HOSTILE_TITLE in titles(listing.text)
    track = await live_app.http.get(f"/tracks/{library.track(1009)}")
    for html in (track.text, (await live_app.http.get(f"/labels/{library.labels[204]}")).text):
        assert "<script>alert" not in html and "<img src=x" not in html
        page = page_of(html)
        assert not page.select("img[onerror]") and not [
            s for s in page.select("script") if "alert" in s.get_text()
        ]
    track_page = page_of(track.text)
    assert track_page.select_one("h1").get_text().startswith(HOSTILE_TITLE)  # type: ignore[union-attr]
    raw = track_page.select_one("details.raw pre")
    assert raw is not None and HOSTILE_TITLE in raw.get_text() and HOSTILE_LABEL in raw.get_text()
    assert "&lt;script&gt;" in track.text


async def test_dashboard_draws_the_library(live_app: LiveApp, library: Library) -> None:
    response = await live_app.http.get("/")
    assert response.status_code == 200
    page = page_of(response.text)
    assert page.select_one("#total-tracks").get_text() == "10"  # type: ignore[union-attr]
    bars = page.select("#bpm-histogram rect.bpm-bar")
    assert len(bars) == 9  # nine distinct tempos; the track without one is not drawn
    assert any(bar.get_text() == "124 BPM: 1 track" for bar in bars)
    sectors = page.select("#key-wheel path.key-sector")
    assert len(sectors) == 24
    links = [a["href"] for a in page.select("#key-wheel a")]
    assert "/tracks?key=8A" in links and "/tracks?key=12B" in links
    genres = [a.get_text() for a in page.select("#top-genres a")]
    assert genres[0] == "House" and len(genres) == 3
    labels = {a.get_text(): a["href"] for a in page.select("#top-labels a")}
    assert labels["Northern Lights Records"] == f"/labels/{library.labels[201]}"
    assert HOSTILE_LABEL in labels  # shown as text
    share = page.select_one("#spotify-share")
    assert share is not None and "20%" in share.get_text()  # 2 of 10 on Spotify
    assert "Not found: 2" in share.get_text() and "Not searched yet: 6" in share.get_text()
    assert "<img src=x" not in response.text
    # The existing parts stay: totals, recent jobs, the collect form.
    assert page.select_one("#collect-panel") is not None
    assert page.select_one("#jobs-heading") is not None


def test_filter_round_trips_through_its_query_string() -> None:
    parsed = track_filter.parse_filter(
        {"q": "  deep   house ", "bpm_min": "120", "key": "08a", "compatible": "on", "sort": "bpm"}
    )
    assert parsed.q == "deep house" and parsed.key == "8A" and parsed.compatible
    assert parsed.query() == "q=deep+house&bpm_min=120&key=8A&compatible=1&sort=bpm"
    assert track_filter.parse_filter(dict(parse_qsl(parsed.query()))) == parsed
