"""Starting a collection in a real browser: the badge lives without a page reload."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

from services.tables import Track
from tests.conftest import make_settings, serve_app
from tests.fakes.beatport import FakeBeatport
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from web.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
async def app_page(browser: Browser, database_url: str) -> AsyncIterator[tuple[Page, FakeBeatport]]:  # noqa: F811
    """The dashboard in Chromium, with Crate collecting from a slow fake Beatport."""
    with FakeBeatport(labels={21: 1000}, per_page=25) as fake:
        settings = make_settings(
            database_url,
            beatport_mode="web",
            beatport_web_url=fake.web_url,
            beatport_min_interval=0.4,  # slow enough to watch it run
        )
        async for live in serve_app(create_app(settings)):
            context = await browser.new_context(base_url=live.url)
            tab = await context.new_page()
            tab.set_default_timeout(20_000)
            try:
                yield tab, fake
            finally:
                await context.close()


async def test_collect_form_shows_a_live_badge_until_done(
    app_page: tuple[Page, FakeBeatport],
) -> None:
    page, _fake = app_page
    await page.goto("/")
    # A mark on the page that a reload would erase.
    await page.evaluate("window.crateMarker = 'still here'")
    await page.fill("#collect-url", "https://www.beatport.com/label/deep/21/tracks")
    await page.fill("#collect-pages", "10")
    await page.click("#collect-panel button[type=submit]")
    badge = page.locator("#collect-panel .badge")
    await badge.wait_for()
    seen: list[str] = []
    for _ in range(400):
        state = await badge.get_attribute("data-state")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        if state in ("succeeded", "failed"):
            break
        await page.wait_for_timeout(50)
    assert seen[-1] == "succeeded", seen
    assert "running" in seen, seen
    assert seen.index("running") < seen.index("succeeded")
    assert await page.evaluate("window.crateMarker") == "still here"
    assert "new" in (await badge.inner_text())
    assert await Track.count() == 1000


async def test_bad_link_is_explained_in_place(app_page: tuple[Page, FakeBeatport]) -> None:
    page, fake = app_page
    await page.goto("/")
    await page.evaluate("window.crateMarker = 'still here'")
    await page.fill("#collect-url", "https://beatport.com.evil.example/top-100")
    await page.click("#collect-panel button[type=submit]")
    error = page.locator("#url-error")
    await error.wait_for()
    assert "beatport.com" in await error.inner_text()
    assert await page.evaluate("window.crateMarker") == "still here"
    assert fake.requests == []
