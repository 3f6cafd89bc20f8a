"""Every main page in a real browser, at desktop and phone width, as a person walks them:
no console error, no style or script the Content-Security-Policy refuses, no page error,
valid HTML, and nothing that scrolls sideways on a phone. htmx swaps are walked too:
typing in the track search, a form answered with errors in place, a live job badge."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
)
from playwright.async_api import Error as PlaywrightError

from services import crates, jobs, schedules
from services.tables import Job, Schedule
from tests.conftest import LiveApp, make_settings, serve_app
from tests.fakes.beatport import FakeBeatport
from tests.support.html_check import html_problems
from tests.support.library import Library, record_chart, store_library
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from web.app import create_app

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "walk-every-page"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# A 1x1 PNG: pictures hosted by Beatport, served from here (the tests never leave the machine).
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8ffff3f0005fe02fea7d6a4e20000000049454e44ae426082"
)

# Runs before any page script: every refusal of the Content-Security-Policy is kept on the
# window, where the walk reads it after each step.
RECORD_VIOLATIONS = """
window.__refused = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__refused.push(`${event.violatedDirective} refused ${event.blockedURI || 'inline'}`
    + ` at ${event.sourceFile || '?'}:${event.lineNumber || '?'} ${event.sample || ''}`);
}, true);
"""
STATUS_LOG = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class Walk:
    """One browser tab and everything it complained about, step by step."""

    page: Page
    width: str
    base: str
    step: str = ""
    expected_statuses: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    wide: list[str] = field(default_factory=list)
    validating: list[asyncio.Task[None]] = field(default_factory=list)
    validated: int = 0

    def console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        status = STATUS_LOG.match(message.text)
        # The browser logs every 4xx it is sent; an error page's own 404 and a form's 422
        # (errors shown in place) are meant. Any other status is a problem.
        if status and int(status[1]) in self.expected_statuses:
            return
        self.problems.append(f"{self.width} {self.step}: console {message.type}: {message.text}")

    def page_error(self, error: PlaywrightError) -> None:
        self.problems.append(f"{self.width} {self.step}: page error: {error}")

    def response(self, response: Response) -> None:
        """Every page and htmx fragment Crate sends is checked, as it arrives."""
        html = "text/html" in response.headers.get("content-type", "")
        if html and response.url.startswith(self.base):
            self.validating.append(asyncio.ensure_future(self.validate(response)))

    async def validate(self, response: Response) -> None:
        try:
            text = await response.text()
        except PlaywrightError:  # a poll the next page load cut short: nothing to read
            return
        fragment = response.request.headers.get("hx-request") == "true"
        where = f"{self.width} {self.step}: {response.request.method} {response.url}"
        self.problems += [f"{where}: HTML: {p}" for p in html_problems(text, fragment)]
        self.validated += 1

    def failed(self, request: Request) -> None:
        self.problems.append(f"{self.width} {self.step}: {request.url} failed: {request.failure}")

    async def check(self) -> None:
        """After a step: htmx at rest, then refusals, HTML problems and sideways scroll."""
        await self.page.wait_for_load_state("networkidle")
        for _ in range(400):  # (wait_for_function would eval a string: the CSP refuses that)
            busy = ".htmx-request, .htmx-settling, .htmx-swapping, .htmx-added"
            if await self.page.evaluate(f"!document.querySelector({busy!r})"):
                break
            await asyncio.sleep(0.05)
        refused: list[str] = await self.page.evaluate("window.__refused.splice(0)")
        self.problems += [f"{self.width} {self.step}: CSP: {r}" for r in refused]
        await asyncio.gather(*self.validating)
        self.validating.clear()
        extra = await self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if extra > 0:
            self.wide.append(f"{self.step} ({extra}px too wide)")

    async def visit(self, path: str, status: int = 200) -> None:
        self.step = path
        self.expected_statuses = {status} if status >= 400 else set()
        response = await self.page.goto(path)
        assert response is not None and response.status == status, (path, response)
        await self.check()
        await self.shoot(path)

    async def shoot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dashboard"
        await self.page.screenshot(path=SHOTS / f"{self.width}-{slug}.png", full_page=True)


@dataclass
class Site:
    live: LiveApp
    library: Library
    beatport: FakeBeatport


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    """A password-protected Crate with a small library, a finished chart job, two schedules
    (one whose last run failed), collecting from a fake Beatport."""
    with FakeBeatport(labels={21: 60}, per_page=20) as fake:
        settings = make_settings(
            database_url,
            password=PASSWORD,
            beatport_mode="web",
            beatport_web_url=fake.web_url,
            beatport_min_interval=0.2,  # slow enough for the badge to poll a few times
        )
        async for live in serve_app(create_app(settings)):
            library = await store_library()
            crate = await crates.create_crate("Warm-up with a long name for a phone")
            await crates.add_tracks(crate.id, [1009, 1003, 1001, 1010])
            # A chart collected twice (/charts lists it, its page shows what moved).
            target = {"kind": "chart", "beatport_id": 77, "slug": "test-chart"}
            for task_id, lineup in (
                ("walk-chart-before", [1002, 1003]),
                ("walk-chart-job", [1003, 1001, 1002]),
            ):
                await record_chart(library, lineup, task_id)
                await Job.update(
                    {
                        Job.params: json.dumps({"target": target, "label": "Chart Test Chart"}),
                        Job.done: len(lineup),
                        Job.total: len(lineup),
                    }
                ).where(Job.task_id == task_id)
            weekly = await schedules.create(
                schedules.parse_schedule_form(
                    name="Peak time chart every Monday",
                    cron="0 6 * * 1",
                    url="https://www.beatport.com/chart/peak-time-a-very-long-chart-name/11",
                )
            )
            await schedules.create(
                schedules.parse_schedule_form(
                    name="Odd days", cron="0 6 */2 * *", url="https://www.beatport.com/top-100"
                )
            )
            # The chart above followed: the dashboard shows its "This week".
            await schedules.create(
                schedules.parse_schedule_form(
                    name="Follow Chart Test Chart",
                    cron="0 6 * * 1",
                    url="https://www.beatport.com/chart/test-chart/77",
                )
            )
            await jobs.create("walk-failed-job", "collect_bp_tracks_task", {"label": "chart"})
            failed = "Beatport answered 404 for chart #11: it does not exist or was removed."
            await jobs.save_snapshot("walk-failed-job", jobs.Snapshot(state="failed", error=failed))
            await Schedule.update(
                {Schedule.last_task_id: "walk-failed-job", Schedule.last_run_at: jobs.now()}
            ).where(Schedule._meta.primary_key == weekly)
            yield Site(live, library, fake)


async def serve_pictures_here(route: Route) -> None:
    await route.fulfill(status=200, content_type="image/png", body=PIXEL)


async def open_tab(browser: Browser, site: Site, width: str) -> tuple[BrowserContext, Walk]:  # noqa: F811
    viewport = DESKTOP if width == "desktop" else PHONE
    context = await browser.new_context(base_url=site.live.url, viewport=viewport)  # type: ignore[arg-type]
    await context.add_init_script(RECORD_VIOLATIONS)
    # Everything not on this machine (cover art on Beatport's image host) is answered here.
    await context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), serve_pictures_here)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    walk = Walk(page, width, site.live.url)
    page.on("console", walk.console)
    page.on("response", walk.response)
    page.on("pageerror", walk.page_error)
    page.on("requestfailed", walk.failed)
    return context, walk


async def log_in(walk: Walk) -> None:
    await walk.visit("/login?next=/")
    walk.step = "logging in"
    await walk.page.fill("input[name=password]", PASSWORD)
    await walk.page.click("form button[type=submit]")
    await walk.page.wait_for_url("**/")
    await walk.check()


async def type_a_search(walk: Walk) -> None:
    """Typing in the search box, one character at a time, some slower than the pause
    that sends the search: requests overlap and are replaced, quietly."""
    walk.step = "/tracks, typing a search"
    page = walk.page

    async def slowly(route: Route) -> None:
        await asyncio.sleep(0.6)  # a big library's answer takes a while
        await route.continue_()

    await page.route("**/tracks?*", slowly)
    await page.goto("/tracks")
    box = page.locator("#filter-q")
    for number, letter in enumerate("alpha signal"):
        await box.press_sequentially(letter, delay=0)
        await page.wait_for_timeout(450 if number % 3 == 0 else 80)
    await page.wait_for_url("**/tracks?q=alpha+signal")
    await page.unroute("**/tracks?*", slowly)
    await walk.check()
    rows = page.locator("#track-rows td.col-title > a")
    assert await rows.all_inner_texts() == ["Alpha Signal"]
    await walk.shoot("tracks-searched")


async def use_the_collect_form(walk: Walk) -> None:
    """A refused link comes back in place; a good one brings a badge that polls to its end.
    A style a person's browser put on a field (CSSOM, which the CSP allows) must not be
    copied back as a style="" attribute when htmx swaps the panel."""
    page = walk.page
    walk.step = "/, collect form errors in place"
    walk.expected_statuses = {422}
    await page.goto("/")
    await page.evaluate("document.getElementById('collect-url').style.outline = '2px solid gold'")
    await page.fill("#collect-url", "https://example.com/top-100")
    await page.click("#collect-panel button[type=submit]")
    await page.locator("#url-error").wait_for()
    await walk.check()
    await walk.shoot("collect-refused")
    walk.step = "/, a genre with dates in web mode"
    await page.select_option("#collect-genre", "90")
    await page.fill("#collect-url", "")
    await page.fill("#collect-from", "2026-01-01")
    await page.fill("#collect-to", "2026-01-31")
    await page.click("#collect-panel button[type=submit]")
    await page.locator("#genre-error").wait_for()
    await walk.check()
    assert "API mode" in await page.inner_text("#genre-error")
    await walk.shoot("collect-genre-refused")
    walk.step = "/, collect with a live badge"
    walk.expected_statuses = set()
    await page.select_option("#collect-genre", "")
    await page.fill("#collect-from", "")
    await page.fill("#collect-to", "")
    await page.fill("#collect-url", "https://www.beatport.com/label/the-label/21/tracks")
    await page.click("#collect-panel button[type=submit]")
    badge = page.locator("#collect-panel .badge")
    await badge.wait_for()
    await page.locator("#collect-panel .badge[data-state=succeeded]").wait_for()
    await walk.check()
    await walk.shoot("collect-done")


@pytest.mark.parametrize("width", ["desktop", "phone"])
async def test_every_page_at_desktop_and_phone_width_without_a_browser_complaint(
    browser: Browser,  # noqa: F811
    site: Site,
    width: str,
) -> None:
    context, walk = await open_tab(browser, site, width)
    library = site.library
    try:
        await log_in(walk)
        for path in (
            "/",
            "/tracks",
            f"/tracks/{library.track(1001)}",
            f"/artists/{min(library.artists.values())}",
            f"/labels/{min(library.labels.values())}",
            f"/releases/{min(library.releases.values())}",
            f"/tracks?job={library.job_task_id}",
            f"/dig?job={library.job_task_id}",
            "/jobs",
            "/schedules",
            "/crates",
            f"/crates/{(await crates.list_crates())[0].id}",
            "/charts",
            "/charts/chart-77",
        ):
            await walk.visit(path)
        await walk.visit("/tracks/99999999", status=404)
        await walk.visit("/no-such-page", status=404)
        await type_a_search(walk)
        await use_the_collect_form(walk)
    finally:
        await context.close()
    assert walk.problems == [], "\n".join(walk.problems)
    assert walk.validated > 20  # every page, and the fragments htmx swapped in
    if width == "phone":
        assert walk.wide == [], "pages wider than a 390 px phone"
