"""The layout, dashboard, error pages and health probes, over real HTTP."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup

from tests.conftest import LiveApp, make_settings, serve_app
from web.app import create_app


async def test_dashboard_is_a_real_page_with_totals_and_empty_states(live_app: LiveApp) -> None:
    response = await live_app.http.get("/")
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert page.title is not None and "Dashboard" in page.title.text
    nav = [a.text for a in page.select("header nav a")]
    assert nav == ["Dashboard", "Tracks", "Crates", "Charts", "Jobs", "Schedules"]
    assert page.select_one("#total-tracks").text == "0"  # type: ignore[union-attr]
    assert "No tracks yet: paste a Beatport link" in page.text
    assert "No jobs yet." in page.text
    # htmx is vendored, pinned, and served by Crate itself.
    script = page.select_one("script[src^='/static/htmx-2.']")
    assert script is not None
    asset = await live_app.http.get(str(script["src"]))
    assert asset.status_code == 200 and "htmx" in asset.text[:200]
    assert (await live_app.http.get("/static/app.css")).status_code == 200
    # htmx sends the CSRF token with every request.
    assert "x-csrftoken" in str(page.body["hx-headers"])  # type: ignore[index]


async def test_jobs_page_is_empty_at_first(live_app: LiveApp) -> None:
    response = await live_app.http.get("/jobs")
    assert response.status_code == 200
    assert "No jobs yet." in response.text


async def test_unknown_page_is_a_404_page_in_the_layout(live_app: LiveApp) -> None:
    response = await live_app.http.get("/no/such/page")
    assert response.status_code == 404
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one("header nav") is not None
    assert "There is nothing at this address." in page.text
    api = await live_app.http.get("/no/such/page", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.json() == {"detail": "There is nothing at this address."}


async def test_server_error_is_a_500_page_without_internals(sqlite_url: str) -> None:
    from services.tables import Track

    app = create_app(make_settings(sqlite_url))
    async for live in serve_app(app):
        await Track.raw("DROP TABLE track_artist")
        await Track.raw("DROP TABLE job_track")
        await Track.raw("DROP TABLE track")
        response = await live.http.get("/")
        assert response.status_code == 500
        assert "Something went wrong on our side" in response.text
        assert "Traceback" not in response.text and "sqlite" not in response.text.lower()
        assert "<nav" in response.text


async def test_health_and_readiness(live_app: LiveApp) -> None:
    assert (await live_app.http.get("/healthz")).json() == {"status": "ok"}
    ready = await live_app.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "broker": "ok"}


async def test_readiness_says_what_is_down(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, redis_url="redis://127.0.0.1:1/0")
    # Redis is down from the start: the pages still come up, and readiness says why not ready.
    async for live in serve_app(create_app(settings)):
        assert (await live.http.get("/")).status_code == 200
        ready = await live.http.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["broker"].startswith("Job queue (Redis) not reachable")
        assert "database" not in body
