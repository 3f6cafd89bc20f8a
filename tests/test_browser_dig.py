"""The digging loop end to end in a real browser, on both engines: connect Spotify through
its real redirect chain, collect a label from the fake Beatport, match it on the fake
Spotify, dig the collection with the keyboard alone (Space, →, x, 1) keeping five tracks
into a crate, send the crate, and find the playlist on the fake equal to the crate."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect

from services.tables import Track
from tests.conftest import LiveApp, free_port, serve_app
from tests.fakes.beatport import FakeBeatport
from tests.fakes.spotify import FakeSpotify
from tests.support.spotify_user import user_settings
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.test_browser_live import console_errors
from web.app import create_app

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)

LABEL_URL = "https://www.beatport.com/label/deep-cuts/8/tracks"
TRACKS = 12
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


def silence() -> bytes:
    """Half a second of silent WAV: every Beatport preview, served from the test."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(1)
        sound.setframerate(8000)
        sound.writeframes(bytes([128]) * 4000)
    return out.getvalue()


SILENCE = silence()
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8ffff3f0005fe02fea7d6a4e20000000049454e44ae426082"
)


async def beatport_media_here(route: Route) -> None:
    """Previews and artwork hosted by Beatport, answered here (no network in tests)."""
    if route.request.url.endswith(".mp3"):
        await route.fulfill(status=200, content_type="audio/wav", body=SILENCE)
    else:
        await route.fulfill(status=200, content_type="image/png", body=PIXEL)


@dataclass
class Dig:
    page: Page
    app: LiveApp
    beatport: FakeBeatport
    spotify: FakeSpotify
    errors: list[str]


@pytest.fixture
async def dig(browser: Browser, database_url: str) -> AsyncIterator[Dig]:  # noqa: F811
    with FakeBeatport(labels={8: TRACKS}) as beatport, FakeSpotify() as spotify:
        spotify.accounts.consent = "page"
        port = free_port()
        settings = user_settings(
            database_url,
            spotify,
            port,
            beatport_mode="web",
            beatport_web_url=beatport.web_url,
            beatport_min_interval=0.0,
        )
        async for app in serve_app(create_app(settings), port):
            context = await browser.new_context(
                base_url=app.url, viewport={"width": 1366, "height": 900}
            )
            await context.route(
                re.compile(r"^https://[a-z-]+\.beatport\.com/"), beatport_media_here
            )
            tab = await context.new_page()
            tab.set_default_timeout(30_000)
            errors = console_errors(tab)
            try:
                yield Dig(tab, app, beatport, spotify, errors)
            finally:
                await context.close()
            assert errors == [], errors


def put_on_spotify(beatport: FakeBeatport, spotify: FakeSpotify) -> None:
    """Every track of the label on Spotify by ISRC; the first one's album is years old."""
    for index, track_id in enumerate(beatport.track_ids("label", 8) or []):
        served = beatport.track(track_id)
        mix = served["mix_name"]
        title = served["name"].strip() + ("" if mix in ("", "Original Mix") else f" - {mix}")
        artists = [artist["name"] for artist in served["artists"]]
        spotify.add_track(
            title,
            artists,
            isrc=served["isrc"],
            duration_ms=served["length_ms"],
            album="Old Gold" if index == 0 else None,
            release_date="2015-06" if index == 0 else served["new_release_date"],
        )


async def test_dig_a_collection_with_the_keyboard_and_send_the_crate(dig: Dig) -> None:
    page = dig.page
    # Connect Spotify: Crate → Spotify's consent page (the fake's) → back to Crate.
    await page.goto("/")
    await page.get_by_role("link", name="Connect Spotify").click()
    await page.wait_for_url(f"{dig.spotify.auth_url}?**")
    await page.click("#agree")
    await page.wait_for_url(f"{dig.app.url}/")
    await expect(page.locator("#spotify-status")).to_contain_text("connected as DJ Fake")

    # Collect the label, then match it to Spotify.
    await page.fill("#collect-url", LABEL_URL)
    await page.click("#collect-panel button[type=submit]")
    badge = page.locator("#collect-panel .badge")
    await expect(badge).to_have_attribute("data-state", "succeeded")
    put_on_spotify(dig.beatport, dig.spotify)
    await page.click("#enrich-panel button[type=submit]")
    enriched = page.locator("#enrich-panel .badge")
    await expect(enriched).to_have_attribute("data-state", "succeeded")
    await expect(enriched.locator("[role=status]")).to_contain_text(f"{TRACKS} matched")

    made = await page.request.post("/crates", data={"name": "Deep Keepers"})
    assert made.status == 201, await made.text()
    crate = await made.json()

    # Dig the collection from its badge's link, with the keyboard only.
    await badge.get_by_role("link", name="dig this job's tracks").click()
    await page.wait_for_url("**/dig?job=*")
    root = page.locator("#dig")
    progress = page.locator("#dig-progress")
    await expect(progress).to_have_text(f"1 of {TRACKS}, 0 kept")
    await expect(page.locator("#dig-title")).not_to_have_text("Loading…")
    await expect(root).to_be_focused()
    ids = (await root.get_attribute("data-ids") or "").split(",")
    assert len(ids) == TRACKS
    # The first track is a re-release: its Spotify album came out in 2015.
    await expect(page.locator("#dig-rerelease")).to_contain_text("on Old Gold")
    await page.screenshot(path=SHOTS / "desktop-dig.png", full_page=True)

    await page.keyboard.press("Space")
    await expect(root).to_have_attribute("data-playing", "true")
    await page.keyboard.press("Space")
    await expect(root).to_have_attribute("data-playing", "false")
    await page.keyboard.press("Space")  # playing on: the next ones play as they come
    await page.keyboard.press("1")  # keep #1
    await expect(progress).to_have_text(f"2 of {TRACKS}, 1 kept")
    await expect(root).to_have_attribute("data-current", ids[1])
    await page.keyboard.press("ArrowRight")  # #2: no decision
    await page.keyboard.press("x")  # skip #3
    await expect(progress).to_have_text(f"4 of {TRACKS}, 1 kept")
    for _ in range(4):  # keep #4 to #7
        await page.keyboard.press("1")
    await expect(progress).to_have_text(f"8 of {TRACKS}, 5 kept")
    await expect(root).to_have_attribute("data-current", ids[7])
    await expect(root).to_have_attribute("data-playing", "true")
    await page.keyboard.press("ArrowLeft")  # back to #7: it says what was decided
    await expect(root).to_have_attribute("data-current", ids[6])
    await expect(page.locator("#dig-decision")).to_have_text("Kept")
    await expect(root).to_have_attribute("data-saved", "6")

    kept = [int(ids[i]) for i in (0, 3, 4, 5, 6)]
    rows = await Track.select(Track.beatport_id, Track.triage, Track.spotify_id)
    triage = {row["beatport_id"]: row["triage"] for row in rows}
    assert sorted(b for b, t in triage.items() if t == "kept") == sorted(kept)
    assert triage[int(ids[2])] == "skipped" and triage[int(ids[1])] == "new"

    # A second dig of the same job plays only what is left undecided.
    await page.reload()
    await expect(progress).to_have_text(f"1 of {TRACKS - 6}, 0 kept")
    await expect(root).to_have_attribute("data-current", ids[1])

    # Send the crate from its page; the badge finishes; the playlist is the crate.
    await page.goto(f"/crates/{crate['id']}")
    await page.click("#send-to-spotify")
    sent = page.locator("#crate-spotify .badge")
    await expect(sent).to_have_attribute("data-state", "succeeded")
    await expect(sent.locator("[role=status]")).to_contain_text("sent 5")
    playlists = dig.spotify.accounts.playlists()
    assert [p.name for p in playlists] == ["Deep Keepers"]
    spotify_ids = {row["beatport_id"]: row["spotify_id"] for row in rows}
    assert playlists[0].uris == [f"spotify:track:{spotify_ids[b]}" for b in kept]


async def test_dig_at_phone_width_works_with_taps(dig: Dig) -> None:
    page = dig.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto("/")
    await page.fill("#collect-url", LABEL_URL)
    await page.click("#collect-panel button[type=submit]")
    badge = page.locator("#collect-panel .badge")
    await expect(badge).to_have_attribute("data-state", "succeeded")
    made = await page.request.post("/crates", data={"name": "Phone crate"})
    assert made.status == 201
    await badge.get_by_role("link", name="dig this job's tracks").click()
    progress = page.locator("#dig-progress")
    await expect(progress).to_have_text(f"1 of {TRACKS}, 0 kept")
    await expect(page.locator("#dig-title")).not_to_have_text("Loading…")
    await page.screenshot(path=SHOTS / "phone-dig.png", full_page=True)
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390
    for name in ("#dig-play", "#dig-next", "#dig-skip", "button.dig-keep"):
        box = await page.locator(name).first.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44, name
    await page.click("#dig-play")
    await expect(page.locator("#dig")).to_have_attribute("data-playing", "true")
    await page.click("button.dig-keep")
    await page.click("#dig-skip")
    await page.click("#dig-next")
    await expect(progress).to_have_text(f"4 of {TRACKS}, 1 kept")
    await expect(page.locator("#dig")).to_have_attribute("data-saved", "2")
