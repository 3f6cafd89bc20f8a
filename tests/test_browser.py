"""The library in a real browser: Debian's Chromium driven by Playwright, on both engines."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

from tests.conftest import IN_CI, LiveApp
from tests.support.library import HOSTILE_TITLE, Library, store_library

pytestmark = pytest.mark.browser
# CI runs the browser, the app and both databases on two cores: give assertions time.
expect.set_options(timeout=20_000)

CHROMIUM = Path(os.environ.get("CRATE_TEST_CHROMIUM", "/usr/bin/chromium"))
HAS_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from the system (never a downloaded one)."""
    if not HAS_CHROMIUM:
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip", pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser, live_app: LiveApp) -> AsyncIterator[Page]:
    """A fresh tab on the live app; any JavaScript dialog fails the test."""
    context = await browser.new_context(base_url=live_app.url, accept_downloads=True)
    tab = await context.new_page()
    tab.set_default_timeout(20_000)
    dialogs: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    tab.on("dialog", refuse)
    try:
        yield tab
    finally:
        await context.close()
    assert dialogs == [], f"a page opened a dialog: {dialogs}"


@pytest.fixture
async def library(live_app: LiveApp) -> Library:
    """The ten-track test library in the live app's database."""
    return await store_library()


async def row_titles(page: Page) -> list[str]:
    return await page.locator("#track-rows td.col-title > a").all_inner_texts()


async def marker(page: Page) -> Any:
    """Survives swaps of the results, not a page load."""
    return await page.evaluate("document.getElementById('track-filters').dataset.marker")


async def test_filters_swap_only_the_rows_and_the_url_follows(page: Page, library: Library) -> None:
    await page.goto("/tracks")
    assert len(await row_titles(page)) == 10
    await page.evaluate("document.getElementById('track-filters').dataset.marker = 'kept'")

    await page.fill("#filter-bpm-min", "124")
    await page.fill("#filter-bpm-max", "130")
    await page.wait_for_url("**/tracks?bpm_min=124&bpm_max=130")
    await expect(page.locator("#track-rows tr")).to_have_count(4)
    bpms = await page.locator("#track-rows tr").evaluate_all("rows => rows.map(r => r.dataset.bpm)")
    assert sorted(int(bpm) for bpm in bpms) == [124, 126, 128, 130]

    await page.select_option("#filter-key", "8A")
    await page.wait_for_url("**/tracks?bpm_min=124&bpm_max=130&key=8A")
    await expect(page.locator("#track-rows tr")).to_have_count(1)
    assert await row_titles(page) == ["Alpha Signal"]

    await page.check("input[name=compatible]")
    await page.wait_for_url("**/tracks?bpm_min=124&bpm_max=130&key=8A&compatible=1")
    await expect(page.locator("#track-rows tr")).to_have_count(3)
    assert await row_titles(page) == ["Bravo Pulse", "Alpha Signal", "Charlie Drive"]
    assert await marker(page) == "kept"  # the page itself never reloaded

    # Back restores the previous filter: its URL, its rows, and the form's fields.
    await page.go_back()
    await page.wait_for_url("**/tracks?bpm_min=124&bpm_max=130&key=8A")
    await expect(page.locator("#track-rows tr")).to_have_count(1)
    assert await row_titles(page) == ["Alpha Signal"]
    assert await page.input_value("#filter-key") == "8A"
    assert not await page.is_checked("input[name=compatible]")
    await page.go_back()
    await page.wait_for_url("**/tracks?bpm_min=124&bpm_max=130")
    await expect(page.locator("#track-rows tr")).to_have_count(4)
    assert await page.input_value("#filter-bpm-min") == "124"


async def test_search_and_pages_work_from_the_keyboard(page: Page, library: Library) -> None:
    await page.goto("/tracks")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.focus("#filter-q")
    await page.keyboard.type("cobalt")
    await page.wait_for_url("**/tracks?q=cobalt")
    await expect(page.locator("#track-rows tr")).to_have_count(2)
    assert await row_titles(page) == ["Charlie Drive", "Hotel Tide"]
    # Enter submits the form through htmx as well, not a page load.
    await page.evaluate("document.getElementById('track-filters').dataset.marker = 'kept'")
    await page.fill("#filter-q", "signal")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/tracks?q=signal")
    await expect(page.locator("#track-rows tr")).to_have_count(1)
    assert await marker(page) == "kept"


async def test_a_track_opens_from_the_list(page: Page, library: Library) -> None:
    await page.goto("/tracks?q=alpha")
    await page.click("#track-rows a:text('Alpha Signal')")
    await page.wait_for_url(f"**/tracks/{library.track(1001)}")
    assert (await page.inner_text("h1")).startswith("Alpha Signal")
    preload = await page.get_attribute("audio", "preload")
    assert preload == "none"
    await page.click("details.raw summary")
    assert '"isrc": "GBTST2601001"' in await page.inner_text("details.raw pre")


async def test_export_downloads_what_the_filter_shows(page: Page, library: Library) -> None:
    await page.goto("/tracks")
    await page.select_option("#filter-spotify", "matched")
    await page.wait_for_url("**/tracks?spotify=matched")
    await expect(page.locator("#track-rows tr")).to_have_count(2)
    async with page.expect_download() as waiting:
        await page.click("#export-csv")
    download = await waiting.value
    assert download.suggested_filename == "crate-tracks.csv"
    saved = await download.path()
    text = await asyncio.to_thread(Path(saved).read_text, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["title"] for row in rows] == ["Alpha Signal", "Echo Garden"]
    assert {row["spotify_method"] for row in rows} == {"isrc", "text"}


async def test_hostile_title_is_shown_as_text(page: Page, library: Library) -> None:
    for path in ("/tracks", f"/tracks/{library.track(1009)}", f"/labels/{library.labels[204]}"):
        await page.goto(path)
        await page.wait_for_load_state("load")
        assert await page.get_by_text(HOSTILE_TITLE, exact=False).first.is_visible()
        assert await page.locator("img[onerror]").count() == 0
    await page.goto("/tracks")
    await page.fill("#filter-q", "mallory")
    await page.wait_for_url("**/tracks?q=mallory")
    await expect(page.locator("#track-rows tr")).to_have_count(1)
    assert await row_titles(page) == [HOSTILE_TITLE]  # swapped in by htmx, still text
    # The `page` fixture fails the test if any of this opened a dialog.
