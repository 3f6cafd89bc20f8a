"""Crates in Debian's Chromium, on both engines: from /tracks a row's +, ticked rows and
"Add all N matching" go into the crate picked (in place, with words saying what was
added); the crate page shows them in crate order; the keyboard reorders them (the focus
stays on the order button, Alt+↑ works); a track's page adds too. The /tracks rows stay
one line, 15 above the fold at 1366x900 with crates made, and nothing scrolls sideways at
390 px. Screenshots of /crates and a crate page land in test-artifacts/screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from services import crates
from tests.support.library import Library, store_library
from tests.test_browser import browser, library, page  # noqa: F401  (shared fixtures)
from tests.test_browser_library import DESKTOP, PHONE, beatport_media, crowded_library

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


async def order(crate_id: int) -> list[str]:
    found = await crates.get_crate(crate_id)
    from services.crate_tracks import crate_json

    body: dict[str, Any] = await crate_json(found.id)
    return [track["title"] for track in body["tracks"]]


async def settled(tab: Page) -> None:
    """Until htmx has settled the rows it swapped in (their buttons are htmx's then)."""
    await tab.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
    )


async def shoot(tab: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


async def test_adding_from_the_tracks_list_and_reordering_with_the_keyboard(
    page: Page,  # noqa: F811
    library: Library,  # noqa: F811
) -> None:
    errors = await beatport_media(page)
    await crates.create_crate("Older crate")
    crate = await crates.create_crate("Friday")
    await page.set_viewport_size(DESKTOP)
    await page.goto("/tracks")
    # The newest crate is picked; a row's + adds that row only.
    await expect(page.locator("#crate-target")).to_have_value(str(crate.id))
    alpha, bravo = library.track(1001), library.track(1002)
    await page.check(f"#pick-{bravo}")
    await page.click(f"#track-{alpha} button.add-one")
    status = page.locator("#crate-add-status")
    await expect(status).to_have_text("Friday: Added 1; the crate holds 1.")
    assert await order(crate.id) == ["Alpha Signal"]
    # Ticked rows: "Add selected" (the box of the row added already counts as there).
    await page.check(f"#pick-{alpha}")
    await page.click("#add-selected")
    await expect(status).to_have_text("Friday: Added 1, 1 already there; the crate holds 2.")
    assert not await page.is_checked(f"#pick-{bravo}")  # cleared after adding
    # "Add all N matching" the filter shown (typed in the search: htmx swaps the rows).
    await page.fill("#filter-q", "cara cobalt")
    await expect(page.locator("#results-total")).to_have_text("2")
    await expect(page.locator("#add-all")).to_have_text("Add all 2")
    await expect(page.locator("#crate-target")).to_have_value(str(crate.id))
    await page.locator("#add-all").focus()
    await page.keyboard.press("Enter")
    await expect(status).to_have_text("Friday: Added 2; the crate holds 4.")
    assert await order(crate.id) == ["Alpha Signal", "Bravo Pulse", "Charlie Drive", "Hotel Tide"]

    # The crate page: the rows in crate order; the keyboard moves Hotel Tide to the top.
    await page.goto(f"/crates/{crate.id}")
    titles = page.locator("#track-rows td.col-title > a")
    await expect(titles).to_have_text(
        ["Alpha Signal", "Bravo Pulse", "Charlie Drive", "Hotel Tide"]
    )
    await page.locator("#up-1008").focus()
    await page.keyboard.press("Enter")
    await expect(titles).to_have_text(
        ["Alpha Signal", "Bravo Pulse", "Hotel Tide", "Charlie Drive"]
    )
    await expect(page.locator("#up-1008")).to_be_focused()  # the focus stayed: press again
    await settled(page)
    await page.keyboard.press("Enter")
    await expect(titles).to_have_text(
        ["Alpha Signal", "Hotel Tide", "Bravo Pulse", "Charlie Drive"]
    )
    await expect(page.locator("#up-1008")).to_be_focused()
    await settled(page)
    await page.keyboard.press("Alt+ArrowUp")
    await expect(titles).to_have_text(
        ["Hotel Tide", "Alpha Signal", "Bravo Pulse", "Charlie Drive"]
    )
    # At the top its up button is disabled: the focus moved to a button still usable.
    await expect(page.locator("#up-1008")).to_be_disabled()
    await page.wait_for_function(
        "() => ['out-1008', 'down-1008'].includes(document.activeElement.id)"
    )
    assert await order(crate.id) == ["Hotel Tide", "Alpha Signal", "Bravo Pulse", "Charlie Drive"]
    # Take one out with the keyboard: the positions close up.
    await page.locator("#out-1002").focus()
    await page.keyboard.press("Enter")
    await expect(titles).to_have_text(["Hotel Tide", "Alpha Signal", "Charlie Drive"])
    await expect(page.locator("#track-rows td.col-pos")).to_have_text(["1", "2", "3"])
    await expect(page.locator("#crate-spotify")).to_be_visible()
    await shoot(page, "crate-page-desktop")

    # A track's page adds it to the crate picked.
    await page.goto(f"/tracks/{library.track(1005)}")
    await page.select_option("#track-crate", str(crate.id))
    await page.click("#track-add-to-crate")
    await expect(page.locator("#track-crate-add .crate-add-status")).to_have_text(
        "Friday: Added 1; the crate holds 4."
    )
    await page.goto("/crates")
    await expect(page.locator(f"#crate-{crate.id} td").nth(1)).to_have_text("4")
    await shoot(page, "crates-desktop")
    await page.set_viewport_size(PHONE)
    for path, name in ((f"/crates/{crate.id}", "crate-page-phone"), ("/crates", "crates-phone")):
        await page.goto(path)
        assert await page.evaluate("document.scrollingElement.scrollWidth <= innerWidth"), path
        await shoot(page, name)
    assert errors == []


async def test_tracks_rows_stay_one_line_with_crates_made(page: Page) -> None:  # noqa: F811
    await store_library(crowded_library())
    await crates.create_crate("A crate with a rather long name for a menu")
    errors = await beatport_media(page)
    await page.set_viewport_size(DESKTOP)
    await page.goto("/tracks")
    rows = page.locator("#track-rows tr")
    await expect(rows).to_have_count(40)
    boxes = await rows.evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect()).map(b => [b.bottom, b.height])"
    )
    assert len([b for b, _ in boxes if b <= DESKTOP["height"]]) >= 15, boxes[:20]
    assert len({round(height) for _, height in boxes}) == 1
    await shoot(page, "tracks-with-crates-desktop")
    await page.set_viewport_size(PHONE)
    await page.goto("/tracks")
    assert await page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    await shoot(page, "tracks-with-crates-phone")
    assert errors == []
