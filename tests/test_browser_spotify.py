"""Connecting Spotify in a real browser: Connect, Spotify's consent page, back to Crate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from services.tables import SpotifyLogin
from tests.conftest import free_port, serve_app
from tests.fakes.spotify import FakeSpotify
from tests.support.spotify_user import user_settings
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from web.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
async def spotify_page(
    browser: Browser,  # noqa: F811
    database_url: str,
) -> AsyncIterator[tuple[Page, FakeSpotify, str]]:
    """The dashboard in Chromium; the fake Spotify shows its consent page."""
    with FakeSpotify() as fake:
        fake.accounts.consent = "page"
        port = free_port()
        async for live in serve_app(create_app(user_settings(database_url, fake, port)), port):
            context = await browser.new_context(base_url=live.url)
            tab = await context.new_page()
            tab.set_default_timeout(20_000)
            try:
                yield tab, fake, live.url
            finally:
                await context.close()


async def test_connect_spotify_through_the_real_redirects(
    spotify_page: tuple[Page, FakeSpotify, str],
) -> None:
    page, fake, url = spotify_page
    await page.goto("/")
    await page.get_by_role("link", name="Connect Spotify").click()
    # Spotify's own page (the fake's), on another origin.
    await page.wait_for_url(f"{fake.auth_url}?**")
    await expect(page.get_by_text("Log in as DJ Fake")).to_be_visible()
    await page.click("#agree")
    await page.wait_for_url(f"{url}/")
    status = page.locator("#spotify-status")
    await expect(status).to_contain_text("connected as DJ Fake")
    assert await SpotifyLogin.count() == 1
    assert "code=" not in page.url  # the callback redirected away from its one-time code

    # Disconnect swaps the line in place.
    await page.evaluate("window.crateMarker = 'kept'")
    await status.get_by_role("button", name="Disconnect").click()
    await expect(status).to_contain_text("not connected")
    assert await page.evaluate("window.crateMarker") == "kept"
    assert await SpotifyLogin.count() == 0


async def test_cancel_on_spotify_comes_back_in_words(
    spotify_page: tuple[Page, FakeSpotify, str],
) -> None:
    page, _fake, _url = spotify_page
    await page.goto("/")
    await page.get_by_role("link", name="Connect Spotify").click()
    await page.click("#cancel")
    await expect(page.get_by_role("alert")).to_contain_text("did not allow Crate")
    await expect(page.get_by_role("link", name="Connect Spotify again")).to_be_visible()
    assert await SpotifyLogin.count() == 0
