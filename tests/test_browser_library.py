"""The tracks list as a DJ meets it, in Debian's Chromium: a screenful of one-line rows at
1366x900, previews that play in place from one player, label and artist fields with the
library's names as suggestions, and phone widths that fold the filters and never scroll
sideways. Beatport's artwork and previews are answered by the test itself (a PNG, and a
real WAV Chromium plays), at their real addresses, so the page's CSP is the real one."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from typing import Any

import pytest
from playwright.async_api import Page, Route, ViewportSize, expect

from tests.support.library import Library, beatport_track, label, person, store_library
from tests.test_browser import browser, library, page  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

DESKTOP = ViewportSize(width=1366, height=900)
PHONE = ViewportSize(width=390, height=844)
SAMPLES = "https://geo-samples.beatport.com/track/"


def png() -> bytes:
    """An 8x8 PNG, as Beatport's image server would answer (smaller)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([200, 90, 60]) * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def wav(seconds: float = 20.0) -> bytes:
    """A quiet 440 Hz tone as a WAV file: real audio a browser decodes and plays."""
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(800 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(rate * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


ARTWORK, PREVIEW = png(), wav()


async def beatport_media(tab: Page) -> list[str]:
    """Answer Beatport's artwork and preview addresses in the page; collect what the page
    reports as errors (console errors include CSP refusals)."""

    async def artwork(route: Route) -> None:
        await route.fulfill(status=200, content_type="image/png", body=ARTWORK)

    async def preview(route: Route) -> None:
        await route.fulfill(status=200, content_type="audio/wav", body=PREVIEW)

    await tab.route("https://geo-media.beatport.com/**", artwork)
    await tab.route(f"{SAMPLES}**", preview)
    errors: list[str] = []
    tab.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    tab.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def crowded_library() -> list[dict[str, Any]]:
    """Forty tracks with long titles, several artists and remixes: rows that would wrap."""
    objects = []
    for n in range(40):
        artists = [person(500 + n % 7, f"Artist Number {n % 7} With A Long Name")]
        artists += [person(600 + n % 5, f"Featured Singer {n % 5}")] if n % 3 == 0 else []
        objects.append(
            beatport_track(
                8000 + n,
                f"A Rather Long Track Title Number {n} (feat. Someone Else)",
                artists=artists,
                remixers=[person(700 + n % 4, f"Remixer {n % 4}")] if n % 2 else None,
                mix=f"Remixer {n % 4} Extended Remix" if n % 2 else "Original Mix",
                label_obj=label(900 + n % 6, f"A Label With A Very Long Name {n % 6} Recordings"),
                release_id=950 + n,
                genre=6,
                bpm=120 + n % 15,
                camelot="8A",
                released=f"2026-01-{1 + n % 28:02d}",
                length_ms=300_000 + n * 1_000,
            )
        )
    return objects


async def test_a_screenful_of_one_line_rows_at_desktop_width(
    page: Page,  # noqa: F811
) -> None:
    await store_library(crowded_library())
    errors = await beatport_media(page)
    await page.set_viewport_size(DESKTOP)
    await page.goto("/tracks")
    rows = page.locator("#track-rows tr")
    await expect(rows).to_have_count(40)
    boxes = await rows.evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect()).map(b => [b.bottom, b.height])"
    )
    above_the_fold = [bottom for bottom, _ in boxes if bottom <= DESKTOP["height"]]
    assert len(above_the_fold) >= 15, boxes[:20]
    heights = {round(height) for _, height in boxes}
    assert len(heights) == 1 and heights.pop() < 45, boxes  # one line each, however long
    # Every filter shows without unfolding anything; the phone's fold button does not.
    for field in ("#filter-q", "#filter-label", "#filter-artist", "#filter-genre", "#filter-key"):
        assert await page.is_visible(field), field
    assert not await page.is_visible("#filter-more summary")
    first = page.locator("#track-rows tr").first
    assert await first.locator("td.col-length").inner_text() == "5:27"  # 8027, the newest
    thumb = first.locator("img.thumb")
    await expect(thumb).to_have_attribute(
        "src", "https://geo-media.beatport.com/image_size/95x95/977.jpg"
    )
    await page.wait_for_function("document.querySelector('#track-rows img.thumb').naturalWidth > 0")
    assert await page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    assert errors == []


async def playing(tab: Page) -> dict[str, Any]:
    """The player's state, and which rows' buttons say they play."""
    state: dict[str, Any] = await tab.evaluate(
        """() => {
            const audio = document.getElementById('preview-player');
            const pressed = Array.from(document.querySelectorAll('button.play[aria-pressed=true]'));
            return {src: audio.currentSrc, paused: audio.paused, time: audio.currentTime,
                    players: document.querySelectorAll('audio').length,
                    pressed: pressed.map(b => b.closest('tr').id), plays: window.plays || []};
        }"""
    )
    return state


async def wait_playing(tab: Page, src: str) -> None:
    """Until the player plays `src` and its time moves (decoded audio, not just a promise)."""
    await tab.wait_for_function(
        """src => { const a = document.getElementById('preview-player');
                    return a.currentSrc === src && !a.paused && a.currentTime > 0.05; }""",
        arg=src,
    )


async def test_a_rows_play_button_plays_its_preview_in_place(
    page: Page,  # noqa: F811
    library: Library,  # noqa: F811
) -> None:
    errors = await beatport_media(page)
    await page.set_viewport_size(DESKTOP)
    await page.goto("/tracks")
    await page.evaluate(
        """() => { window.plays = []; const a = document.getElementById('preview-player');
                   a.addEventListener('play', () => window.plays.push(a.currentSrc || a.src)); }"""
    )
    bravo, alpha = f"track-{library.track(1002)}", f"track-{library.track(1001)}"
    await page.click(f"#{bravo} button.play")
    await wait_playing(page, f"{SAMPLES}1002.LOFI.mp3")
    state = await playing(page)
    assert state["pressed"] == [bravo] and state["players"] == 1
    assert state["plays"] == [f"{SAMPLES}1002.LOFI.mp3"]

    # Another row: the first stops, the one player plays the second.
    await page.click(f"#{alpha} button.play")
    await wait_playing(page, f"{SAMPLES}1001.LOFI.mp3")
    state = await playing(page)
    assert state["pressed"] == [alpha] and state["players"] == 1
    assert await page.get_attribute(f"#{bravo} button.play", "aria-pressed") == "false"

    # The same row again pauses it; once more plays on.
    await page.click(f"#{alpha} button.play")
    await expect(page.locator(f"#{alpha} button.play")).to_have_attribute("aria-pressed", "false")
    assert (await playing(page))["paused"]
    assert (await playing(page))["pressed"] == []
    await page.click(f"#{alpha} button.play")
    await wait_playing(page, f"{SAMPLES}1001.LOFI.mp3")

    # htmx swaps in new rows: the preview plays on and its row says so; new buttons work.
    await page.evaluate("document.getElementById('track-filters').dataset.marker = 'kept'")
    await page.select_option("#filter-key", "8A")
    await page.wait_for_url("**/tracks?key=8A")
    await expect(page.locator("#track-rows tr")).to_have_count(2)
    await expect(page.locator(f"#{alpha} button.play")).to_have_attribute("aria-pressed", "true")
    assert not (await playing(page))["paused"]
    hotel = f"track-{library.track(1008)}"
    await page.click(f"#{hotel} button.play")
    await wait_playing(page, f"{SAMPLES}1008.LOFI.mp3")
    assert (await playing(page))["pressed"] == [hotel]
    assert await page.evaluate("document.getElementById('track-filters').dataset.marker") == "kept"
    assert errors == []


async def test_label_and_artist_fields_suggest_names_and_filter(
    page: Page,  # noqa: F811
    library: Library,  # noqa: F811
) -> None:
    errors = await beatport_media(page)
    await page.set_viewport_size(DESKTOP)
    await page.goto("/tracks")
    await page.evaluate("document.getElementById('track-filters').dataset.marker = 'kept'")
    await page.focus("#filter-label")
    await page.keyboard.type("north")
    suggestion = page.locator("#label-names option")
    await expect(suggestion).to_have_count(1)
    await expect(suggestion).to_have_attribute("value", "Northern Lights Records")
    # What was typed already narrows the list (labels starting so)…
    await page.wait_for_url("**/tracks?label=north")
    await expect(page.locator("#track-rows tr")).to_have_count(3)
    # …and picking the suggestion (it fills the field) names the label.
    await page.fill("#filter-label", "Northern Lights Records")
    await page.wait_for_url("**/tracks?label=Northern+Lights+Records")
    await expect(page.locator("#track-rows tr")).to_have_count(3)

    await page.focus("#filter-artist")
    await page.keyboard.type("bo")
    await expect(page.locator("#artist-names option")).to_have_attribute("value", "Bob Basalt")
    await page.fill("#filter-artist", "Bob Basalt")
    await page.wait_for_url("**/tracks?label=Northern+Lights+Records&artist=Bob+Basalt")
    await expect(page.locator("#track-rows tr")).to_have_count(1)
    assert await page.locator("#track-rows td.col-title > a").all_inner_texts() == ["Bravo Pulse"]
    assert await page.evaluate("document.getElementById('track-filters').dataset.marker") == "kept"
    # A link from another page (a label's id) shows the label's name in the field.
    await page.goto(f"/tracks?label={library.labels[202]}")
    assert await page.input_value("#filter-label") == "Southbound Audio"
    await expect(page.locator("#track-rows tr")).to_have_count(3)
    assert errors == []


async def test_phones_fold_the_filters_and_never_scroll_sideways(
    page: Page,  # noqa: F811
    library: Library,  # noqa: F811
) -> None:
    errors = await beatport_media(page)
    await page.set_viewport_size(PHONE)
    paths = [
        "/tracks",
        f"/artists/{library.artists[101]}",
        f"/labels/{library.labels[201]}",
        f"/releases/{library.releases[301]}",
        f"/tracks/{library.track(1003)}",
        "/",
    ]
    for path in paths:
        await page.goto(path)
        await page.wait_for_load_state("load")
        wide = await page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
        assert wide[0] <= wide[1], (path, wide)
    await page.goto("/tracks")
    assert await page.is_visible("#filter-q")  # the search stays at hand
    assert not await page.is_visible("#filter-genre")
    assert not await page.is_visible("#filter-label")
    assert await page.get_attribute("#filter-more", "open") is None
    await page.click("#filter-more summary")
    await expect(page.locator("#filter-genre")).to_be_visible()
    assert await page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    # The artists stay on the row, under the title, while their column is hidden.
    first = page.locator("#track-rows tr").first
    assert await first.locator(".by").is_visible()
    assert not await first.locator("td.col-artists").is_visible()
    # The dashboard's tempo picture keeps its axis readable (drawn at half size here).
    await page.goto("/")
    heights = await page.locator("#bpm-histogram .tick").evaluate_all(
        "ticks => ticks.map(t => t.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 9, heights
    assert errors == []
