"""Pages that stay current, in a real browser: when a job's badge ends, what the job changed
(the dashboard's totals, pictures, Spotify share and recent jobs; the job history) updates
without a reload; a failed collection keeps its link, says what it kept, and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.conftest import LiveApp, make_settings, serve_app
from tests.fakes.beatport import FakeBeatport, label_name
from tests.fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from web.app import create_app

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)

LABEL_URL = "https://www.beatport.com/label/sonar-licht-digital/7/tracks"
LABEL_NAME = "Label Sonar & Licht / Digital"


@dataclass
class Live:
    """A tab on the app, the fakes it collects from, and what the tab's console said."""

    page: Page
    app: LiveApp
    beatport: FakeBeatport
    spotify: FakeSpotify
    console_errors: list[str]

    async def still_the_same_page(self) -> None:
        """The mark set after the first load is still there: nothing reloaded the page."""
        assert await self.page.evaluate("window.crateMarker") == "still here"


@pytest.fixture
async def live(browser: Browser, database_url: str) -> AsyncIterator[Live]:  # noqa: F811
    """The dashboard in Chromium; Crate collects from a fake Beatport (a label of 250 tracks,
    100 a page) and matches on a fake Spotify."""
    with (
        FakeBeatport(
            labels={7: 250, 8: 40}, names={("label", 7): "Sonar & Licht / Digital"}
        ) as beatport,
        FakeSpotify() as spotify,
    ):
        settings = make_settings(
            database_url,
            beatport_mode="web",
            beatport_web_url=beatport.web_url,
            beatport_min_interval=0.2,  # slow enough to see it run
            spotify_client_id=DEFAULT_CLIENT_ID,
            spotify_client_secret=DEFAULT_CLIENT_SECRET,
            spotify_api_url=spotify.api_url,
            spotify_token_url=spotify.token_url,
        )
        async for app in serve_app(create_app(settings)):
            context = await browser.new_context(base_url=app.url)
            tab = await context.new_page()
            tab.set_default_timeout(30_000)
            errors = console_errors(tab)
            try:
                yield Live(tab, app, beatport, spotify, errors)
            finally:
                await context.close()
            assert errors == [], errors  # no CSP refusal, no htmx error on any swap


def console_errors(tab: Page) -> list[str]:
    """Every error the tab's console shows from now on (CSP refusals, htmx errors, throws)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def open_dashboard(live: Live) -> Page:
    page = live.page
    await page.goto("/")
    await page.evaluate("window.crateMarker = 'still here'")
    return page


def put_on_spotify(beatport: FakeBeatport, spotify: FakeSpotify, label_id: int) -> int:
    """Every other track of the label on Spotify by ISRC; how many that is."""
    count = 0
    for index, track_id in enumerate(beatport.track_ids("label", label_id) or []):
        if index % 2:
            continue
        served = beatport.track(track_id)
        mix = served["mix_name"]
        title = served["name"].strip() + ("" if mix in ("", "Original Mix") else f" - {mix}")
        artists = [artist["name"] for artist in served["artists"]]
        spotify.add_track(title, artists, isrc=served["isrc"], duration_ms=served["length_ms"])
        count += 1
    return count


async def test_a_finished_job_updates_the_dashboard_without_a_reload(live: Live) -> None:
    page = await open_dashboard(live)
    await expect(page.locator("#total-tracks")).to_have_text("0")
    await expect(page.locator("#dashboard-live .empty").first).to_contain_text("No tracks yet")
    assert await page.locator("#bpm-histogram").count() == 0

    await page.fill("#collect-url", LABEL_URL)
    await page.click("#collect-panel button[type=submit]")
    badge = page.locator("#collect-panel .badge")
    # The badge says the label's name once the first page is read, and ends done.
    await expect(badge.locator(".job-name")).to_have_text(LABEL_NAME)
    await expect(badge).to_have_attribute("data-state", "succeeded")
    await expect(badge.locator("[role=status]")).to_contain_text("done (250 new")

    # Its end fired `job-ended`: the totals, the pictures and the recent jobs followed.
    await expect(page.locator("#total-tracks")).to_have_text("250")
    await expect(page.locator("#total-labels")).not_to_have_text("0")
    await expect(page.locator("#bpm-histogram")).to_be_visible()
    await expect(page.locator("#spotify-share .big-number")).to_contain_text("0%")
    recent = page.locator("#dashboard-live table.jobs tbody tr")
    await expect(recent).to_have_count(1)
    await expect(recent.locator(".job-name")).to_have_text(LABEL_NAME)
    await expect(recent.locator("[role=status]")).to_contain_text("done (250 new")
    await live.still_the_same_page()

    # Match to Spotify: the same button, job and badge words; the share and total follow.
    matched = put_on_spotify(live.beatport, live.spotify, 7)
    await expect(page.locator("#enrich-panel button[type=submit]")).to_have_text("Match to Spotify")
    await page.click("#enrich-panel button[type=submit]")
    enrich_badge = page.locator("#enrich-panel .badge")
    await expect(enrich_badge.locator(".job-name")).to_have_text("Match to Spotify")
    await expect(enrich_badge).to_have_attribute("data-state", "succeeded")
    await expect(enrich_badge.locator("[role=status]")).to_contain_text(
        f"done ({matched} matched by ISRC"
    )
    await expect(page.locator("#total-spotify")).to_have_text(str(matched))
    await expect(page.locator("#spotify-share .big-number")).to_contain_text(
        f"{100 * matched / 250:.0f}%"
    )
    await expect(recent).to_have_count(2)
    await expect(recent.first.locator(".job-name")).to_have_text("Match to Spotify")
    await live.still_the_same_page()


async def test_a_failed_collection_keeps_its_link_says_what_it_kept_and_retries(
    live: Live,
) -> None:
    live.beatport.failing_pages = {2: 503}  # page 2 of 3 fails, every time it is asked
    page = await open_dashboard(live)
    await page.fill("#collect-url", LABEL_URL)
    await page.click("#collect-panel button[type=submit]")
    badge = page.locator("#collect-panel .badge")
    await expect(badge).to_have_attribute("data-state", "failed")
    words = badge.locator("[role=status]")
    await expect(words).to_contain_text("failed on page 2 of 3: 100 tracks kept.")
    await expect(words.locator(".reason")).to_contain_text("Beatport kept answering 503")
    # The link is still in its field; the kept tracks are in the totals already.
    assert await page.input_value("#collect-url") == LABEL_URL
    await expect(page.locator("#total-tracks")).to_have_text("100")
    await expect(page.locator("#dashboard-live table.jobs [role=status]")).to_contain_text(
        "failed on page 2 of 3: 100 tracks kept."
    )

    # Beatport is back: one click asks for the same again, as a new job, in the same place.
    live.beatport.failing_pages = {}
    await badge.locator("button.retry").click()
    await expect(badge).to_have_attribute("data-state", "succeeded")
    await expect(badge.locator(".job-name")).to_have_text(LABEL_NAME)
    await expect(badge.locator("[role=status]")).to_contain_text(
        "done (150 new, 0 updated, 100 unchanged"
    )
    await expect(page.locator("#total-tracks")).to_have_text("250")
    states = page.locator("#dashboard-live table.jobs tbody tr .badge")
    await expect(states).to_have_count(2)
    assert [await state.get_attribute("data-state") for state in await states.all()] == [
        "succeeded",
        "failed",
    ]
    assert await page.input_value("#collect-url") == LABEL_URL
    await live.still_the_same_page()


async def test_the_job_history_fetches_itself_when_a_job_ends(live: Live) -> None:
    live.beatport.latency = 0.5  # each page takes a while: the page is open before the end
    first = await live.app.start_job("/collect/beatport/collect", {"url": LABEL_URL})
    page = live.page
    await page.goto("/jobs")
    await page.evaluate("window.crateMarker = 'still here'")
    await expect(page.locator("#job-history tbody tr")).to_have_count(1)
    # A job started after the page was drawn shows up once a badge on the page ends.
    second = await live.app.start_job(
        "/collect/beatport/collect", {"url": "https://www.beatport.com/label/other/8/tracks"}
    )
    await live.app.wait_for_state(first, ("succeeded",), within=60)
    await live.app.wait_for_state(second, ("succeeded",), within=60)
    names = page.locator("#job-history tbody tr .job-name")
    await expect(names).to_have_text([f"Label {label_name(8)}", LABEL_NAME])
    await expect(page.locator("#job-history tbody tr .badge[data-state=succeeded]")).to_have_count(
        2
    )
    await live.still_the_same_page()
