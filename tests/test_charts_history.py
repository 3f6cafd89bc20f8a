"""Charts over time, over real HTTP against the fake Beatport serving a chart that changes
between collections: every movement kind, what dropped out, a partial collection compared
with the last complete one, one source however its link was written and in either mode,
the JSON shapes, and unknown keys or collections answered in words (both engines)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup

from services.beatport.links import parse_target
from services.chart_history import history_line, source_key
from services.tables import Schedule, Track
from tasks.schedules import start_scheduled_collection
from tests.conftest import LiveApp, make_settings, serve_app
from tests.fakes.beatport import BLOCK, FakeBeatport
from web.app import create_app

TOKEN = "charts-test-token-0123456789"
CHART = "https://www.beatport.com/chart/diggers-choice-january/12"
JSON = {"Accept": "application/json"}
SOURCE_FIELDS = {"key", "name", "url", "collections", "last_collected_at"}
MOVEMENT_FIELDS = {
    "key",
    "name",
    "url",
    "collected_at",
    "previous_collected_at",
    "entries",
    "dropped",
}


@pytest.fixture
def fake() -> Iterator[FakeBeatport]:
    """Chart 12 (30 tracks unless a test lines it up) and genre 90's lists."""
    with FakeBeatport(
        per_page=25,
        charts={12: 30},
        genres={90: 40},
        names={("chart", 12): "Diggers' Choice — January"},
        api_token=TOKEN,
    ) as server:
        yield server


def settings_for(fake: FakeBeatport, mode: str, database_url: str) -> Any:
    return make_settings(
        database_url,
        beatport_mode=mode,
        beatport_web_url=fake.web_url,
        beatport_api_url=fake.api_url,
        beatport_token=TOKEN if mode == "api" else None,
    )


@pytest.fixture
async def app(database_url: str, fake: FakeBeatport) -> AsyncIterator[LiveApp]:
    async for live in serve_app(create_app(settings_for(fake, "web", database_url))):
        yield live


def chart_id(fake: FakeBeatport, number: int) -> int:
    """The Beatport id of chart 12's track number `number`."""
    first = fake.track_ids("chart", 12)
    assert first
    return (first[0] - 1) // BLOCK * BLOCK + number


async def collect(
    app: LiveApp, fake: FakeBeatport, lineup: list[int] | None, url: str = CHART
) -> str:
    fake.set_lineup("chart", 12, lineup)
    _, status = await app.run_job("/collect/beatport/collect", {"url": url})
    return str(status["state"])


async def chart_json(app: LiveApp, key: str, **query: str) -> dict[str, Any]:
    response = await app.http.get(f"/charts/{key}", params=query, headers=JSON)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == MOVEMENT_FIELDS
    for entry in body["entries"]:
        assert set(entry) == {"position", "beatport_id", "title", "movement", "change"}
    for gone in body["dropped"]:
        assert set(gone) == {"beatport_id", "title", "last_position"}
    return body


async def test_every_movement_kind_and_what_dropped_out(app: LiveApp, fake: FakeBeatport) -> None:
    assert await collect(app, fake, [1, 2, 3, 4, 5, 6]) == "succeeded"
    first = await chart_json(app, "chart-12")
    assert first["previous_collected_at"] is None and first["dropped"] == []
    assert {e["movement"] for e in first["entries"]} == {"new"}

    assert await collect(app, fake, [2, 1, 3, 7, 5, 6]) == "succeeded"
    assert await collect(app, fake, [7, 4, 3, 2, 8, 1]) == "succeeded"
    body = await chart_json(app, "chart-12")
    assert body["key"] == "chart-12"
    assert body["name"] == "Chart Diggers' Choice — January"
    assert body["url"] == CHART
    assert body["previous_collected_at"] < body["collected_at"]
    moves = [(e["position"], e["beatport_id"], e["movement"], e["change"]) for e in body["entries"]]

    def n(number: int) -> int:
        return chart_id(fake, number)

    assert moves == [
        (1, n(7), "up", 3),  # 4th last time
        (2, n(4), "reentry", 0),  # in the first collection, not the second
        (3, n(3), "same", 0),
        (4, n(2), "down", -3),  # 1st last time
        (5, n(8), "new", 0),
        (6, n(1), "down", -4),
    ]
    assert [(d["beatport_id"], d["last_position"]) for d in body["dropped"]] == [
        (n(5), 5),
        (n(6), 6),
    ]
    assert all(e["title"] for e in body["entries"]) and body["dropped"][0]["title"]

    # The page says it in words, with best position, weeks and a history line per track.
    page = await app.http.get("/charts/chart-12")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    rows = soup.select("table.chart-movement tbody tr")
    cells = [[" ".join(td.get_text(" ").split()) for td in row.select("td")] for row in rows]
    assert [row[1] for row in cells] == ["▲3", "RE-ENTRY", "=", "▼3", "NEW", "▼4"]
    assert [(row[3], row[4]) for row in cells] == [
        ("1", "2"),  # n7: 4th, then 1st
        ("2", "2"),  # n4: 4th, then 2nd
        ("3", "3"),
        ("1", "3"),  # n2: 2nd, 1st, 4th
        ("5", "1"),
        ("1", "3"),  # n1: 1st, 2nd, 6th
    ]
    assert len(rows[0].select("svg polyline[points]")) == 1
    assert not soup.select("[style]")
    dropped = soup.select_one("ul.dropped")
    assert dropped is not None and "#5" in dropped.get_text()

    # The track page tells its chart runs: which chart, best position, how often, when.
    row = await Track.select(Track._meta.primary_key).where(Track.beatport_id == n(2)).first()
    assert row is not None
    track_page = BeautifulSoup((await app.http.get(f"/tracks/{row['id']}")).text, "html.parser")
    runs = [
        [" ".join(td.get_text(" ").split()) for td in tr.select("td")]
        for tr in track_page.select("table.chart-runs tbody tr")
    ]
    assert [run[:3] for run in runs] == [["Chart Diggers' Choice — January", "#1", "3"]]

    # Any two collections compared: the third against the first.
    listing = (await app.http.get("/charts", headers=JSON)).json()
    assert [set(item) for item in listing] == [SOURCE_FIELDS]
    assert listing[0]["collections"] == 3
    charts = BeautifulSoup((await app.http.get("/charts")).text, "html.parser")
    [line] = [
        [td.get_text(" ", strip=True) for td in tr.select("td")] for tr in charts.select("tbody tr")
    ]
    assert line[0] == "Chart Diggers' Choice — January" and line[1] == "3"
    assert line[3] == "1"  # the newest collection brought one new entry (a re-entry is not new)
    ids = [int(str(option["value"])) for option in soup.select("select[name=compare] option")]
    newest, middle, oldest = ids
    versus = await chart_json(app, "chart-12", compare=str(newest), **{"with": str(oldest)})
    moved = {e["beatport_id"]: (e["movement"], e["change"]) for e in versus["entries"]}
    assert moved[n(4)] == ("up", 2) and moved[n(3)] == ("same", 0)
    assert {d["beatport_id"] for d in versus["dropped"]} == {n(5), n(6)}
    second = await chart_json(app, "chart-12", compare=str(middle))
    assert second["previous_collected_at"] == first["collected_at"]


async def test_a_partial_collection_is_compared_with_the_last_complete_one(
    app: LiveApp, fake: FakeBeatport
) -> None:
    everything = list(range(1, 151))  # two pages of 100
    assert await collect(app, fake, everything) == "succeeded"
    complete = await chart_json(app, "chart-12")
    fake.failing_pages = {2: 503}  # page 2 (tracks 101-150) never comes
    assert await collect(app, fake, everything) == "failed"
    fake.failing_pages = {}
    partial = await chart_json(app, "chart-12")
    # Not "50 tracks dropped out": it is partial, compared with the complete one.
    assert partial["dropped"] == []
    assert partial["previous_collected_at"] == complete["collected_at"]
    assert len(partial["entries"]) == 100
    assert {e["movement"] for e in partial["entries"]} == {"same"}
    page = await app.http.get("/charts/chart-12")
    assert "This collection is partial" in page.text

    # The next complete one skips the partial one: 101-150 are not re-entries.
    assert await collect(app, fake, [n for n in everything if n != 125]) == "succeeded"
    after = await chart_json(app, "chart-12")
    assert after["previous_collected_at"] == complete["collected_at"]
    moved = {e["position"]: (e["movement"], e["change"]) for e in after["entries"]}
    assert moved[125] == ("up", 1) and moved[149] == ("up", 1) and moved[1] == ("same", 0)
    assert [d["last_position"] for d in after["dropped"]] == [125]
    assert "Skipped 1 partial collection" in (await app.http.get("/charts/chart-12")).text
    listing = (await app.http.get("/charts", headers=JSON)).json()
    assert listing[0]["collections"] == 3

    # A collection that ended well but saw far fewer tracks than usual (a page cap of 1
    # where the chart has 2 pages) is partial too: nothing dropped out of it.
    fake.set_lineup("chart", 12, everything)
    _, status = await app.run_job("/collect/beatport/collect", {"url": CHART, "max_pages": 1})
    assert status["state"] == "succeeded"
    capped = await chart_json(app, "chart-12")
    assert capped["dropped"] == [] and len(capped["entries"]) == 100
    assert capped["previous_collected_at"] == after["collected_at"]
    assert "This collection is partial" in (await app.http.get("/charts/chart-12")).text


def test_one_key_however_the_link_is_written() -> None:
    spellings = [
        "https://www.beatport.com/genre/melodic-house-techno/90/top-100",
        "https://beatport.com/en/genre/melodic-house-techno-old/90/top-100/",
        "http://www.beatport.com/genre/mht/90/top-100?utm_source=x#top",
    ]
    assert {source_key(parse_target(url)) for url in spellings} == {"genre-top-100-90"}
    assert source_key(parse_target("https://www.beatport.com/genre/x/90/hype-100")) == (
        "genre-hype-100-90"
    )
    assert source_key(parse_target("https://www.beatport.com/top-100/")) == "top-100"
    assert source_key(parse_target("https://www.beatport.com/chart/a/12")) == "chart-12"
    assert source_key(parse_target("https://www.beatport.com/label/a/7/tracks")) is None


async def test_same_source_in_web_and_api_mode_and_any_spelling(
    database_url: str, fake: FakeBeatport
) -> None:
    links = {
        "web": "https://www.beatport.com/genre/melodic-house-techno/90/top-100",
        "api": "https://beatport.com/de/genre/mht-old-slug/90/top-100/?ref=menu",
    }
    for mode, url in links.items():
        async for live in serve_app(create_app(settings_for(fake, mode, database_url))):
            _, status = await live.run_job("/collect/beatport/collect", {"url": url})
            assert status["state"] == "succeeded", status
    async for live in serve_app(create_app(settings_for(fake, "web", database_url))):
        listing = (await live.http.get("/charts", headers=JSON)).json()
        assert [(s["key"], s["collections"]) for s in listing] == [("genre-top-100-90", 2)]
        assert listing[0]["name"] == "Top 100: Melodic House & Techno"
        # The link a user pastes, from the newest collection's link.
        assert listing[0]["url"] == "https://www.beatport.com/genre/mht-old-slug/90/top-100"
        body = await chart_json(live, "genre-top-100-90")
        assert {e["movement"] for e in body["entries"]} == {"same"}
        assert body["dropped"] == []
        page = await live.http.get("/charts")
        assert "Top 100: Melodic House &amp; Techno" in page.text


async def test_unknown_chart_and_collection_are_answered_in_words(
    app: LiveApp, fake: FakeBeatport
) -> None:
    empty = await app.http.get("/charts")
    assert empty.status_code == 200 and "No chart collected yet" in empty.text
    assert (await app.http.get("/charts", headers=JSON)).json() == []
    missing = await app.http.get("/charts/chart-999", headers=JSON)
    assert missing.status_code == 404
    assert "no chart called 'chart-999'" in missing.json()["detail"]
    page = await app.http.get("/charts/nonsense")
    assert page.status_code == 404 and "no chart called" in page.text

    assert await collect(app, fake, [1, 2]) == "succeeded"
    bad = await app.http.get("/charts/chart-12?compare=abc", headers=JSON)
    assert bad.status_code == 422
    assert "has no collection 'abc'" in bad.json()["errors"]["compare"]
    form = await app.http.get("/charts/chart-12?with=99999")
    assert form.status_code == 422 and "has no collection" in form.text


def test_history_line_draws_position_one_at_the_top() -> None:
    assert history_line([5]) == ""
    points = [tuple(map(float, p.split(","))) for p in history_line([1, None, 100]).split()]
    assert points == [(0.0, 1.0), (120.0, 23.0)]


async def test_following_a_chart_makes_one_weekly_schedule_that_matches_to_spotify(
    app: LiveApp, fake: FakeBeatport
) -> None:
    missing = await app.http.post("/charts/chart-999/follow", json={})
    assert missing.status_code == 404 and "no chart called" in missing.json()["detail"]
    assert await collect(app, fake, [1, 2, 3]) == "succeeded"
    page = BeautifulSoup((await app.http.get("/charts/chart-12")).text, "html.parser")
    button = page.select_one("form.follow[action='/charts/chart-12/follow'] button")
    assert button is not None and button.get_text() == "Follow this chart"

    # The page's own form (with its CSRF token), as a browser sends it.
    token = await app.csrf_token("/charts/chart-12")
    followed = await app.http.post(
        "/charts/chart-12/follow", data={"_csrf_token": token}, follow_redirects=False
    )
    assert followed.status_code == 303 and followed.headers["location"] == "/charts/chart-12"
    [schedule] = await Schedule.select()
    params = schedule["params"]
    params = json.loads(params) if isinstance(params, str) else params
    assert params["url"] == CHART and schedule["cron"] == "0 6 * * 1"
    assert schedule["enrich_after"] and schedule["enabled"]
    again = await app.http.post("/charts/chart-12/follow", json={})
    assert again.status_code == 200
    assert again.json() == {"schedule_id": schedule["id"], "created": False}
    assert await Schedule.count() == 1
    page = BeautifulSoup((await app.http.get("/charts/chart-12")).text, "html.parser")
    assert page.select_one("form.follow") is None
    assert "Followed: collected every Monday" in page.get_text()

    # Its run collects the same source as the pasted link did.
    fake.set_lineup("chart", 12, [3, 1, 2])
    task_id = await start_scheduled_collection(app.app.state.broker, schedule["id"])
    assert task_id is not None
    assert (await app.wait_for_state(task_id, ("succeeded", "failed")))["state"] == "succeeded"
    body = await chart_json(app, "chart-12")
    assert [(e["position"], e["movement"], e["change"]) for e in body["entries"]] == [
        (1, "up", 2),
        (2, "down", -1),
        (3, "down", -1),
    ]
    listing = (await app.http.get("/charts", headers=JSON)).json()
    assert [(s["key"], s["collections"]) for s in listing] == [("chart-12", 2)]


async def test_the_dashboard_shows_this_week_of_each_followed_chart(
    app: LiveApp, fake: FakeBeatport
) -> None:
    assert await collect(app, fake, [1, 2, 3, 4]) == "succeeded"
    assert await collect(app, fake, [4, 1, 5, 2]) == "succeeded"
    # Not followed yet: the dashboard has no "This week".
    page = BeautifulSoup((await app.http.get("/")).text, "html.parser")
    assert page.select_one("section.this-week") is None

    assert (await app.http.post("/charts/chart-12/follow", json={})).status_code == 201
    page = BeautifulSoup((await app.http.get("/")).text, "html.parser")
    [card] = page.select("section.this-week article.week-chart")
    assert card.select_one("h3 a")["href"] == "/charts/chart-12"  # type: ignore[index]
    new, climbing = card.select("ol.week-list")
    entered = [" ".join(li.get_text(" ").split()) for li in new.select("li")]
    climbed = [" ".join(li.get_text(" ").split()) for li in climbing.select("li")]
    # Track 5 entered at #3; track 4 climbed 3 places to #1 (1 and 2 fell, 3 dropped out).
    assert len(entered) == 1 and entered[0].startswith("#3 ") and entered[0].endswith("NEW")
    assert len(climbed) == 1 and climbed[0].startswith("#1 ") and climbed[0].endswith("▲3")
    # Each with its preview to play in place, and "dig these" opens the newest collection.
    buttons = card.select("button.play[data-preview]")
    assert len(buttons) == 2
    assert all(str(b["data-preview"]).startswith("https://") for b in buttons)
    dig = card.find("a", string="dig these")
    assert dig is not None and str(dig["href"]).startswith("/dig?job=")
    assert page.select_one("audio#preview-player") is not None
    digging = await app.http.get(str(dig["href"]))
    assert digging.status_code == 200

    # The live part (what refreshes when a badge ends) carries it too.
    live = await app.http.get("/", headers={"HX-Request": "true"})
    assert "This week" in live.text and "week-chart" in live.text
