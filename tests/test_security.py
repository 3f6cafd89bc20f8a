"""Security and bad input, over real HTTP: login, API token, CSRF, CORS, SSRF, XSS, limits.

Every test talks to the app served by uvicorn; a fake Beatport stands in for the real one
so that whatever a job would fetch stays on loopback (and is recorded).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from litestar import Litestar

from services import jobs
from services.beatport.links import parse_target
from services.beatport.tracks import BeatportTrack, Ref
from services.settings import Settings
from services.tables import Artist, Job, Label, Release, Track
from services.track_store import CollectCounts, store_tracks
from tests.conftest import (
    IN_CI,
    LiveApp,
    crate_command,
    free_port,
    make_settings,
    serve_app,
    start_crate,
    stop_process,
)
from tests.fakes.beatport import FakeBeatport
from web.app import create_app
from web.auth import SESSION_COOKIE, SESSION_LIFETIME
from web.security import MAX_BODY_BYTES, _secure_cookies

PASSWORD = "correct horse battery staple"
API_TOKEN = "crate-api-token-0123456789abcdef"
CHART_URL = "https://www.beatport.com/chart/peak-time/11"
CSP = (
    "default-src 'self'; img-src 'self' https: data:; media-src 'self' https:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
HTMX = "/static/htmx-2.0.11.min.js"
# The only scripts pages load: htmx, the tracks list's preview player, crates' forms, dig mode.
SCRIPTS = frozenset({HTMX, "/static/tracks.js", "/static/crates.js", "/static/dig.js"})
# A 1x1 PNG: what the browser gets for Beatport's artwork (no network in tests).
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8ffff3f0005fe02fea7d6a4e20000000049454e44ae426082"
)
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
CHROMIUM = Path("/usr/bin/chromium")


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
def fake() -> Iterator[FakeBeatport]:
    """A fake Beatport (web mode pages) with one small chart."""
    with FakeBeatport(charts={11: 5}, per_page=25) as server:
        yield server


def secured_settings(database_url: str, fake: FakeBeatport, **more: Any) -> Settings:
    """A password and an API token, Beatport pointed at the fake; the test's client plays
    a reverse proxy on this machine (trusted: its X-Forwarded-For names the client)."""
    values: dict[str, Any] = {
        "password": PASSWORD,
        "api_token": API_TOKEN,
        "trusted_proxies": ("127.0.0.1/32",),
        "beatport_mode": "web",
        "beatport_web_url": fake.web_url,
        "beatport_api_url": fake.api_url,
    }
    return make_settings(database_url, **(values | more))


async def serve(settings: Settings) -> AsyncIterator[LiveApp]:
    """Serve an app."""
    async for live in serve_app(create_app(settings)):
        yield live


@pytest.fixture
async def secured(sqlite_url: str, fake: FakeBeatport) -> AsyncIterator[LiveApp]:
    """The app with CRATE_PASSWORD and CRATE_API_TOKEN set (SQLite)."""
    async for live in serve(secured_settings(sqlite_url, fake)):
        yield live


@pytest.fixture
async def secured_db(database_url: str, fake: FakeBeatport) -> AsyncIterator[LiveApp]:
    """The same on each database engine."""
    async for live in serve(secured_settings(database_url, fake)):
        yield live


@pytest.fixture
async def open_app(sqlite_url: str, fake: FakeBeatport) -> AsyncIterator[LiveApp]:
    """The app without a password (the embedded default), pointed at the fake."""
    settings = make_settings(sqlite_url, beatport_mode="web", beatport_web_url=fake.web_url)
    async for live in serve(settings):
        yield live


async def csrf(live: LiveApp) -> str:
    """The CSRF token this client's browser would send (loading /login sets the cookie)."""
    token = live.http.cookies.get("csrftoken")
    if token is None:
        await live.http.get("/login")
        token = live.http.cookies.get("csrftoken")
    assert token
    return token


async def log_in(
    live: LiveApp,
    password: str = PASSWORD,
    next_path: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Submit the login form."""
    data = {"password": password, "_csrf_token": await csrf(live)}
    if next_path is not None:
        data["next"] = next_path
    return await live.http.post("/login", data=data, headers=headers or {})


async def settle(within: float = 30.0) -> None:
    """Wait until every job this test started has ended (none left running at shutdown)."""
    deadline = time.monotonic() + within
    while await Job.count().where(Job.state.is_in(list(jobs.ACTIVE_STATES))):
        assert time.monotonic() < deadline, await Job.select(Job.task_id, Job.state)
        await asyncio.sleep(0.05)


def bearer(token: str = API_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def sample_path(app: Litestar, path_format: str, types: dict[str, Any]) -> str:
    """A concrete path for a route: ints 1, strings 'x', the static route app.css."""
    path = path_format
    for name, kind in types.items():
        value = "app.css" if name == "file_path" else ("1" if kind is int else "x")
        path = path.replace("{" + name + "}", value)
    return path


def every_route(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) for every route the app has, whoever added it."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        parameters = route.path_parameters
        types = {name: p.type for name, p in parameters.items()}
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            found.append((method, sample_path(app, route.path_format, types)))
    return found


PUBLIC = {"/healthz", "/readyz", "/login", "/static/app.css"}


# ------------------------------------------------------------------ login


async def test_every_route_needs_a_login_except_the_probes_static_files_and_login(
    secured: LiveApp,
) -> None:
    routes = every_route(secured.app)
    assert ("GET", "/tracks") in routes and ("POST", "/collect/beatport/collect") in routes
    token = await csrf(secured)
    for method, path in routes:
        if path in PUBLIC:
            if method == "GET":
                response = await secured.http.get(path)
                assert response.status_code == 200, (path, response.status_code)
            continue
        where = f"{method} {path}"
        # A browser: the page redirects to the login, coming back here afterwards.
        if method == "GET":
            response = await secured.http.get(path)
            assert response.status_code == 303, where
            location = response.headers["location"]
            assert location.startswith("/login"), where
            expected_next = path if path != "/" else None
            assert parse_qs(urlsplit(location).query).get("next") == (
                [expected_next] if expected_next else None
            ), where
        else:
            response = await secured.http.request(
                method, path, data={"_csrf_token": token, "url": CHART_URL}
            )
            assert response.status_code == 303, where
            assert response.headers["location"] == "/login", where
        # An API client: 401 in words, and a hint about the bearer token.
        response = await secured.http.request(
            method, path, headers={"Accept": "application/json"}, json={"url": CHART_URL}
        )
        assert response.status_code == 401, where
        assert "CRATE_API_TOKEN" in response.json()["detail"], where
        assert response.headers["www-authenticate"].startswith("Bearer")
        # htmx: HX-Redirect to the login, coming back to the page the user is on.
        response = await secured.http.request(
            method,
            path,
            headers={
                "HX-Request": "true",
                "HX-Current-URL": f"{secured.url}/tracks?q=deep",
                "x-csrftoken": token,
            },
        )
        assert response.status_code == 401, where
        assert response.headers["hx-redirect"] == "/login?next=%2Ftracks%3Fq%3Ddeep", where
    # Nothing was queued by any of it.
    assert await Job.count() == 0


async def test_login_sets_a_protected_session_cookie_and_logout_ends_it(secured: LiveApp) -> None:
    first = await secured.http.get("/tracks?q=a")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Ftracks%3Fq%3Da"
    form = page(await secured.http.get(first.headers["location"]))
    assert form.select_one("input[name=password][type=password]") is not None
    assert form.select_one("input[name=_csrf_token]") is not None
    assert form.select_one("input[name=next]")["value"] == "/tracks?q=a"  # type: ignore[index]
    assert form.select_one("form.logout") is None  # not logged in: no logout button

    wrong = await log_in(secured, "not the password", "/tracks?q=a")
    assert wrong.status_code == 401
    assert "That password is not right." in wrong.text
    assert "not the password" not in wrong.text  # never echoed back
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")

    right = await log_in(secured, PASSWORD, "/tracks?q=a")
    assert right.status_code == 303 and right.headers["location"] == "/tracks?q=a"
    cookie = right.headers["set-cookie"]
    # The cookie holds only a random id; the session itself stays on the server.
    assert re.fullmatch(rf"{SESSION_COOKIE}=[0-9a-f]{{64}}", cookie.split(";")[0])
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=lax", "max-age=604800"} <= attributes
    assert "secure" not in attributes  # plain http here; see the https test
    session_value = secured.http.cookies[SESSION_COOKIE]

    dashboard = await secured.http.get("/")
    assert dashboard.status_code == 200
    logout_form = page(dashboard).select_one("header form.logout")
    assert logout_form is not None and logout_form["action"] == "/logout"
    assert logout_form.select_one("input[name=_csrf_token]") is not None
    # Already logged in: the login page sends the user on.
    again = await secured.http.get("/login?next=/jobs")
    assert again.status_code == 303 and again.headers["location"] == "/jobs"

    # Logout needs the CSRF token too (a cross-site form cannot log anyone out).
    forged = await secured.http.post("/logout", data={})
    assert forged.status_code == 403
    out = await secured.http.post("/logout", data={"_csrf_token": await csrf(secured)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert (await secured.http.get("/")).status_code == 303
    # A copy of the old cookie is refused too.
    async with httpx.AsyncClient(base_url=secured.url) as other:
        replay = await other.get("/", headers={"Cookie": f"{SESSION_COOKIE}={session_value}"})
        assert replay.status_code == 303


async def test_session_cookie_is_secure_when_the_browser_came_over_https(
    secured: LiveApp,
) -> None:
    # A TLS proxy in front says so in X-Forwarded-Proto.
    response = await log_in(secured, headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 303
    attributes = {part.strip().lower() for part in response.headers["set-cookie"].split(";")}
    assert "secure" in attributes and "httponly" in attributes


async def test_every_cookie_is_secure_over_https_and_only_then(secured: LiveApp) -> None:
    for proto, secure in (("https", True), ("http", False)):
        secured.http.cookies.clear()
        form = await secured.http.get("/login", headers={"X-Forwarded-Proto": proto})
        cookies = form.headers.get_list("set-cookie")
        assert any(cookie.startswith("csrftoken=") for cookie in cookies)
        for cookie in cookies:
            attributes = {part.strip().lower() for part in cookie.split(";")}
            assert ("secure" in attributes) is secure, cookie
            assert "httponly" in attributes


def session_cookies(response: httpx.Response) -> list[str]:
    """The Set-Cookie headers of the session cookie."""
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]


async def stored_session(live: LiveApp, session_id: str) -> dict[str, Any]:
    """The session's data as the app's store keeps it."""
    data = await live.app.stores.get("sessions").get(session_id)
    assert data is not None
    stored: dict[str, Any] = json.loads(data)
    return stored


async def test_a_session_in_use_is_renewed_once_a_day_and_a_logout_still_ends_it(
    secured: LiveApp,
) -> None:
    store = secured.app.stores.get("sessions")
    assert (await log_in(secured)).status_code == 303
    session_id = secured.http.cookies.get(SESSION_COOKIE)
    assert session_id
    assert SESSION_LIFETIME - 60 <= (await store.expires_in(session_id) or 0) <= SESSION_LIFETIME
    assert session_cookies(await secured.http.get("/jobs")) == []  # fresh: nothing to renew

    # Two days on, with two days of the session's lifetime gone (as the store would have it).
    two_days = 2 * 24 * 3600
    data = await stored_session(secured, session_id)
    data["renewed"] -= two_days
    await store.set(session_id, json.dumps(data), expires_in=SESSION_LIFETIME - two_days)
    renewed = await secured.http.get("/jobs")
    assert renewed.status_code == 200
    (header,) = session_cookies(renewed)
    attributes = {part.strip().lower() for part in header.split(";")}
    assert "httponly" in attributes and f"max-age={SESSION_LIFETIME}" in attributes
    assert secured.http.cookies.get(SESSION_COOKIE) == session_id  # the same session, renewed
    assert SESSION_LIFETIME - 60 <= (await store.expires_in(session_id) or 0) <= SESSION_LIFETIME
    assert (await stored_session(secured, session_id))["renewed"] >= data["renewed"] + two_days
    assert session_cookies(await secured.http.get("/jobs")) == []  # once a day, not per request

    # A session left unused for its whole lifetime has expired: its cookie opens nothing.
    await store.set(session_id, json.dumps(data), expires_in=-1)
    stale = await secured.http.get("/jobs")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/login")

    # A logout ends the session whichever copy of its cookie comes back later.
    assert (await log_in(secured)).status_code == 303
    latest = secured.http.cookies.get(SESSION_COOKIE)
    assert latest and latest != session_id  # every login gets a new id
    assert (await secured.http.get("/jobs")).status_code == 200
    out = await secured.http.post("/logout", data={"_csrf_token": await csrf(secured)})
    assert out.status_code == 303 and len(session_cookies(out)) == 1
    assert await store.get(latest) is None
    for copy in (session_id, latest):
        replay = await secured.http.get("/jobs", headers={"Cookie": f"{SESSION_COOKIE}={copy}"})
        assert replay.status_code == 303


def test_a_cookie_is_marked_secure_by_its_attributes_not_its_value() -> None:
    message: Any = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"set-cookie", b"a=insecure-value; Path=/"),
            (b"set-cookie", b"b=1; Path=/; Secure"),
            (b"content-type", b"text/html"),
        ],
    }
    _secure_cookies(message)
    assert message["headers"] == [
        (b"set-cookie", b"a=insecure-value; Path=/; Secure"),
        (b"set-cookie", b"b=1; Path=/; Secure"),
        (b"content-type", b"text/html"),
    ]


async def test_made_up_and_foreign_session_cookies_are_refused(
    sqlite_url: str, fake: FakeBeatport, tmp_path: Path
) -> None:
    settings = secured_settings(sqlite_url, fake, data_dir=tmp_path)
    valid = ""
    async for live in serve(settings):
        assert (await log_in(live)).status_code == 303
        valid = live.http.cookies.get(SESSION_COOKIE) or ""
        on_disk = [path.name for path in (tmp_path / "sessions").iterdir()]
    assert valid and valid not in on_disk  # the store's keys are not the ids themselves
    cases = {
        "valid": (valid, 200),
        "made up": ("0" * 64, 303),
        "one character changed": (valid[:-1] + ("0" if valid[-1] != "0" else "1"), 303),
        "the key the store files it under": (on_disk[0], 303),
        "garbage": ("v1.a.b.c", 303),
        "huge": ("9" * 5000, 303),
        "empty": ("", 303),
    }
    # A restart logs nobody out: the same session opens the pages of a new process.
    async for live in serve(settings):
        async with httpx.AsyncClient(base_url=live.url) as browser:
            for name, (value, status) in cases.items():
                response = await browser.get(
                    "/jobs", headers={"Cookie": f"{SESSION_COOKIE}={value}"}
                )
                assert response.status_code == status, name
    # A new password, or a new secret key, logs everyone out.
    for changed in (
        replace(settings, password="another password"),
        replace(settings, secret_key="another-secret-key-xyz"),
    ):
        async for live in serve(changed):
            async with httpx.AsyncClient(base_url=live.url) as browser:
                response = await browser.get(
                    "/jobs", headers={"Cookie": f"{SESSION_COOKIE}={valid}"}
                )
                assert response.status_code == 303, changed
                # The stale session is deleted once the browser reaches the login page.
                await browser.get("/login", headers={"Cookie": f"{SESSION_COOKIE}={valid}"})
    async for live in serve(settings):
        async with httpx.AsyncClient(base_url=live.url) as browser:
            response = await browser.get("/jobs", headers={"Cookie": f"{SESSION_COOKIE}={valid}"})
            assert response.status_code == 303  # not revived by going back to the old password


async def test_a_login_always_starts_a_new_session_and_visitors_leave_nothing_behind(
    sqlite_url: str, fake: FakeBeatport, tmp_path: Path
) -> None:
    async for live in serve(secured_settings(sqlite_url, fake, data_dir=tmp_path)):
        # Looking around without logging in (and failing to) stores no session.
        for response in (
            await live.http.get("/"),
            await live.http.get("/login"),
            await log_in(live, "wrong"),
            await live.http.get("/jobs", headers=bearer()),
        ):
            assert session_cookies(response) == []
        assert not (tmp_path / "sessions").exists()
        # An id planted in the browser beforehand (session fixation) is never used.
        planted = "a" * 64
        live.http.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
        assert (await log_in(live)).status_code == 303
        issued = live.http.cookies.get(SESSION_COOKIE)
        assert issued and issued != planted
        async with httpx.AsyncClient(base_url=live.url) as attacker:
            replay = await attacker.get("/jobs", headers={"Cookie": f"{SESSION_COOKIE}={planted}"})
            assert replay.status_code == 303
        # Logging in again replaces the session (the old id is deleted).
        assert (await log_in(live)).status_code == 303
        again = live.http.cookies.get(SESSION_COOKIE)
        assert again and again != issued
        async with httpx.AsyncClient(base_url=live.url) as other:
            old = await other.get("/jobs", headers={"Cookie": f"{SESSION_COOKIE}={issued}"})
            assert old.status_code == 303
        assert (await live.http.get("/jobs")).status_code == 200


async def test_login_form_needs_the_csrf_token_even_as_json(secured: LiveApp) -> None:
    await csrf(secured)
    no_token = await secured.http.post("/login", data={"password": PASSWORD})
    assert no_token.status_code == 403
    assert "did not come from Crate" in no_token.text
    as_json = await secured.http.post("/login", json={"password": PASSWORD})
    assert as_json.status_code == 403
    assert SESSION_COOKIE not in secured.http.cookies


HOSTILE_NEXT = [
    "//evil.example/",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "//evil.example@crate/",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:%20a=b",
    "/%2f%2fevil.example",
    "evil.example",
    "/login",
    "/logout",
    "/" + "a" * 3000,
    "/ｅｖｉｌ",
]


async def test_next_only_ever_leads_to_a_local_path(secured: LiveApp) -> None:
    for hostile in HOSTILE_NEXT:
        response = await log_in(secured, next_path=hostile)
        assert response.status_code == 303, hostile
        assert response.headers["location"] == "/", hostile
        # The login page itself never renders a hostile next into its form either.
        async with httpx.AsyncClient(base_url=secured.url) as stranger:
            form = await stranger.get("/login", params={"next": hostile})
            hidden = page(form).select_one("input[name=next]")
            assert hidden is not None and hidden["value"] == "/", hostile
    for local in ["/jobs", "/tracks?q=a&bpm_min=120", "/tracks/1", "/tasks/status/abc"]:
        response = await log_in(secured, next_path=local)
        assert response.headers["location"] == local


async def test_failed_logins_are_slowed_then_refused_per_address(secured: LiveApp) -> None:
    for attempt in range(5):
        started = time.monotonic()
        response = await log_in(secured, f"guess-{attempt}")
        assert response.status_code == 401
        assert time.monotonic() - started >= 0.25  # slowed down
    # The sixth try is refused even with the right password, in words, with Retry-After.
    refused = await log_in(secured, PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins from your address" in page(refused).text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert SESSION_COOKIE not in secured.http.cookies
    # Bearer guesses from that address are refused as well.
    api = await secured.http.get("/jobs", headers=bearer())
    assert api.status_code == 429 and "Retry-After" in api.headers
    # Another address (behind the same trusted proxy) is not affected.
    elsewhere = await log_in(secured, PASSWORD, headers={"X-Forwarded-For": "203.0.113.7"})
    assert elsewhere.status_code == 303


@pytest.mark.parametrize("proxy", ["none", "trusted"])
async def test_a_changing_x_forwarded_for_does_not_escape_the_login_limit(
    sqlite_url: str, fake: FakeBeatport, proxy: str
) -> None:
    # Without CRATE_TRUSTED_PROXIES the header means nothing: the socket's address counts.
    # Behind a trusted proxy, the proxy appends the address it saw (here 198.51.100.20):
    # whatever the client put before it, or trusted hops after it, change nothing.
    trusted = ("127.0.0.1/32", "10.0.0.0/8") if proxy == "trusted" else ()
    client = "198.51.100.20"
    async for live in serve(secured_settings(sqlite_url, fake, trusted_proxies=trusted)):

        def forged(number: int) -> dict[str, str]:
            chain = f"203.0.113.{number}, 192.0.2.{number}"
            if proxy == "trusted":
                chain += f", {client}" + (", 10.1.2.3" if number % 2 else "")
            return {"X-Forwarded-For": chain}

        for number in range(5):
            response = await log_in(live, f"guess-{number}", headers=forged(number))
            assert response.status_code == 401, number
        refused = await log_in(live, PASSWORD, headers=forged(99))
        assert refused.status_code == 429
        api = await live.http.get("/jobs", headers={**bearer(), **forged(98)})
        assert api.status_code == 429
        if proxy == "trusted":  # another client behind the same proxy may still log in
            other = {"X-Forwarded-For": "203.0.113.1, 198.51.100.21"}
            assert (await log_in(live, PASSWORD, headers=other)).status_code == 303


async def test_without_a_password_everything_is_open_and_there_is_no_login(
    open_app: LiveApp,
) -> None:
    dashboard = await open_app.http.get("/")
    assert dashboard.status_code == 200
    assert page(dashboard).select_one("form.logout") is None
    login = await open_app.http.get("/login?next=/jobs")
    assert login.status_code == 303 and login.headers["location"] == "/jobs"
    # A bearer header means nothing then, and does not skip CSRF for forms.
    posted = await open_app.http.post(
        "/collect/beatport/collect", data={"url": CHART_URL}, headers=bearer()
    )
    assert posted.status_code == 403


# ------------------------------------------------------------------ API token


async def test_the_api_token_opens_every_route_and_skips_csrf(
    secured_db: LiveApp, fake: FakeBeatport
) -> None:
    headers = bearer()
    for method, path in every_route(secured_db.app):
        if method == "GET" and path not in PUBLIC:
            response = await secured_db.http.get(path, headers=headers)
            # Opened: answered, not refused (a Spotify callback without its state is a 400
            # in words, connecting without SPOTIFY_CLIENT_ID a 409).
            assert response.status_code < 500, (path, response.status_code)
            assert response.status_code not in (401, 403), (path, response.status_code)
    started = await secured_db.http.post(
        "/collect/beatport/collect", json={"url": CHART_URL}, headers=headers
    )
    assert started.status_code == 202, started.text
    secured_db.http.headers.update(headers)
    done = await secured_db.wait_for_state(started.json()["task_id"], ("succeeded", "failed"))
    assert done["state"] == "succeeded" and done["counts"]["new"] == 5
    # A form post with the token needs no CSRF token (a browser cannot send this header).
    form = await secured_db.http.post("/collect/beatport/collect", data={"url": CHART_URL})
    assert form.status_code == 303
    assert await Job.count() == 2
    await settle()


async def test_wrong_or_unconfigured_api_tokens_are_refused(
    secured: LiveApp, sqlite_url: str, fake: FakeBeatport
) -> None:
    for header in [f"Bearer {API_TOKEN}x", "Bearer", f"Basic {API_TOKEN}", API_TOKEN]:
        response = await secured.http.get("/jobs", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json() == {"detail": "The API token is not valid."}
    # Without CRATE_API_TOKEN only the session works, whatever is sent.
    async for live in serve(secured_settings(sqlite_url, fake, api_token=None)):
        response = await live.http.get("/jobs", headers=bearer())
        assert response.status_code == 401
        assert "no API token configured" in response.json()["detail"]
        assert (await log_in(live)).status_code == 303
        assert (await live.http.get("/jobs")).status_code == 200


# ------------------------------------------------------------------ CSRF and CORS


async def test_browser_posts_need_the_csrf_token_json_does_not(
    secured: LiveApp, fake: FakeBeatport
) -> None:
    assert (await log_in(secured)).status_code == 303
    token = await csrf(secured)
    for path in ["/collect/beatport/collect", "/collect/spotify/enrich", "/tasks/x/cancel"]:
        forged = await secured.http.post(path, data={"url": CHART_URL})
        assert forged.status_code == 403, path
        assert "did not come from Crate" in forged.text
        text_plain = await secured.http.post(
            path, content=b"url=x", headers={"Content-Type": "text/plain"}
        )
        assert text_plain.status_code == 403, path
    ok = await secured.http.post(
        "/collect/beatport/collect", data={"url": CHART_URL, "_csrf_token": token}
    )
    assert ok.status_code == 303
    via_htmx = await secured.http.post(
        "/collect/beatport/collect",
        data={"url": CHART_URL},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert via_htmx.status_code == 200
    as_json = await secured.http.post("/collect/beatport/collect", json={"url": CHART_URL})
    assert as_json.status_code == 202
    assert await Job.count() == 3
    await settle()


async def test_no_cors_is_ever_granted(secured: LiveApp) -> None:
    evil = {"Origin": "https://evil.example"}
    preflight = await secured.http.options(
        "/collect/beatport/collect",
        headers={
            **evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    simple = await secured.http.get("/healthz", headers=evil)
    api = await secured.http.get("/jobs", headers={**evil, **bearer()})
    for response in (preflight, simple, api):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


# ------------------------------------------------------------------ headers


async def test_security_headers_are_on_every_kind_of_response(
    secured: LiveApp, sqlite_url: str
) -> None:
    responses = {
        "login page": await secured.http.get("/login"),
        "redirect to login": await secured.http.get("/"),
        "401 JSON": await secured.http.get("/", headers={"Accept": "application/json"}),
        "probe": await secured.http.get("/healthz"),
        "static file": await secured.http.get("/static/app.css"),
        "unknown path": await secured.http.get("/no/such/page"),
        "wrong method": await secured.http.delete("/healthz"),
        "schema": await secured.http.get("/schema", headers=bearer()),
        "page": await secured.http.get("/jobs", headers=bearer()),
        "413": await secured.http.post(
            "/collect/beatport/collect",
            content=b"x" * (MAX_BODY_BYTES + 1),
            headers={**bearer(), "Content-Type": "application/json"},
        ),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers.get("content-security-policy") == CSP, name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("referrer-policy") == "same-origin", name
        assert headers.get("x-frame-options") == "DENY", name
    # Behind the login nothing is cached; static files are.
    assert responses["page"].headers["cache-control"] == "no-store"
    assert "no-store" not in responses["static file"].headers.get("cache-control", "")
    # A server error page too.
    app = create_app(make_settings(sqlite_url, password=PASSWORD, api_token=API_TOKEN))
    async for live in serve_app(app):
        await Track.raw("DROP TABLE job_track")
        await Track.raw("DROP TABLE track_artist")
        await Track.raw("DROP TABLE track")
        broken = await live.http.get("/", headers=bearer())
        assert broken.status_code == 500
        assert broken.headers["content-security-policy"] == CSP


async def test_pages_have_no_inline_script_style_or_handler(
    secured: LiveApp, fake: FakeBeatport
) -> None:
    # Something in every region of the pages first: a collected chart and its job.
    secured.http.headers.update(bearer())
    started = await secured.http.post("/collect/beatport/collect", json={"url": CHART_URL})
    await secured.wait_for_state(started.json()["task_id"], ("succeeded",))
    track = await Track.select(Track._meta.primary_key).first()
    assert track is not None
    paths = ["/", "/jobs", "/tracks", f"/tracks/{track['id']}", "/dig", "/no/such/page"]
    async with httpx.AsyncClient(base_url=secured.url) as stranger:
        pages = [await stranger.get("/login")]
    pages += [await secured.http.get(path) for path in paths]
    for response in pages:
        where = str(response.url)
        soup = page(response)
        for script in soup.find_all("script"):
            assert script.get("src") in SCRIPTS and not script.text.strip(), where
        assert not soup.find_all("style"), where
        for tag in soup.find_all(True):
            assert "style" not in tag.attrs, (where, str(tag)[:120])
            assert not [a for a in tag.attrs if a.startswith(("on", "hx-on"))], (where, str(tag))
            for name in ("href", "src", "action"):
                value = str(tag.get(name) or "")
                assert not value.lower().startswith("javascript:"), (where, str(tag))


# ------------------------------------------------------------------ SSRF: hostile links


API_CHART_PATH = "/v4/catalog/charts/11/tracks/"
MOVED = {"web": "/chart/moved-here/11", "api": "/v4/catalog/charts/11/tracks"}
HOSTILE_LINKS: list[tuple[str, str]] = [
    ("user name before the host", "https://user@www.beatport.com/top-100"),
    ("user and password", "https://user:pass@www.beatport.com/top-100"),
    ("real host hidden after @", "https://www.beatport.com@evil.example/top-100"),
    ("a port", "https://www.beatport.com:8080/top-100"),
    ("port 443 spelled out", "https://www.beatport.com:443/top-100"),
    ("IPv4 loopback", "http://127.0.0.1/top-100"),
    ("cloud metadata address", "http://169.254.169.254/latest/meta-data/"),
    ("IPv6 loopback", "http://[::1]/top-100"),
    ("IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/top-100"),
    ("decimal IP", "http://2130706433/top-100"),
    ("hex IP", "http://0x7f000001/top-100"),
    ("octal IP", "http://0177.0.0.1/top-100"),
    ("short IP", "http://127.1/top-100"),
    ("look-alike suffix", "https://beatport.com.evil.example/top-100"),
    ("look-alike www suffix", "https://www.beatport.com.evil.example/top-100"),
    ("missing dot", "https://wwwbeatport.com/top-100"),
    ("other top-level domain", "https://beatport.co/top-100"),
    ("other Beatport host", "https://api.beatport.com/v4/catalog/tracks/"),
    ("subdomain", "https://evil.www.beatport.com/top-100"),
    ("trailing dot", "https://www.beatport.com./top-100"),
    ("file:", "file:///etc/passwd"),
    ("javascript:", "javascript:alert(1)"),
    ("gopher:", "gopher://127.0.0.1:6379/_FLUSHALL"),
    ("data:", "data:text/html,<script>alert(1)</script>"),
    ("ftp:", "ftp://www.beatport.com/top-100"),
    ("scheme-relative", "//www.beatport.com/top-100"),
    ("no scheme", "www.beatport.com/top-100"),
    ("encoded dots", "https://www.beatport.com/%2e%2e/%2e%2e/top-100"),
    ("encoded slash", "https://www.beatport.com/chart/x%2F..%2F/11"),
    ("encoded @ in the host", "https://www.beatport.com%40evil.example/top-100"),
    ("encoded host letter", "https://%77ww.beatport.com/top-100"),
    ("backslash before @", "https://www.beatport.com\\@evil.example/top-100"),
    ("backslashes for slashes", "https:\\\\evil.example\\top-100"),
    ("dot segments", "https://www.beatport.com/chart/../../v4/auth/11"),
    ("Greek omicron", "https://www.beatp\u03bfrt.com/top-100"),
    ("Cyrillic e", "https://www.b\u0435atport.com/top-100"),
    ("full-width dots", "https://www\uff0ebeatport\uff0ecom/top-100"),
    ("punycode host", "https://www.xn--beatprt-7of.com/top-100"),
    ("zero-width space", "https://www.beatport.com\u200b/top-100"),
    ("header injection", "https://www.beatport.com/top-100\r\nHost: evil.example"),
    ("NUL byte", "https://www.beatport.com/top-100\x00.evil.example"),
    ("not a list page", "https://www.beatport.com/account/profile"),
    ("over-long", "https://www.beatport.com/chart/" + "a" * 2100 + "/11"),
    ("empty", ""),
]


async def test_hostile_links_are_refused_in_words_and_nothing_is_fetched(
    secured_db: LiveApp, fake: FakeBeatport
) -> None:
    assert (await log_in(secured_db)).status_code == 303
    token = await csrf(secured_db)
    for number, (name, link) in enumerate(HOSTILE_LINKS):
        # Each link from its own address (through the trusted local proxy), so the
        # job rate limit (30 posts a minute per address) stays out of the way.
        address = {"X-Forwarded-For": f"198.18.0.{number + 1}"}
        api = await secured_db.http.post(
            "/collect/beatport/collect", json={"url": link}, headers=address
        )
        assert api.status_code == 422, (name, api.status_code, api.text)
        detail = api.json()["detail"]
        assert len(detail.split()) >= 5, (name, detail)  # a sentence, not a code
        form = await secured_db.http.post(
            "/collect/beatport/collect",
            data={"url": link},
            headers={"HX-Request": "true", "x-csrftoken": token, **address},
        )
        assert form.status_code == 422, name
        error = page(form).select_one("#collect-panel .field-error")
        assert error is not None and len(error.text.split()) >= 5, name
        # A recurring collection is checked the same way.
        schedule = await secured_db.http.post(
            "/schedules", json={"name": name, "cron": "0 6 * * *", "url": link}, headers=address
        )
        assert schedule.status_code in (404, 422), (name, schedule.status_code)
    assert await Job.count() == 0
    assert fake.requests == []
    # The control: a real link is accepted, and fetched from the configured base URL only.
    control = "http://beatport.com/chart/anything/11"
    accepted = await secured_db.http.post("/collect/beatport/collect", json={"url": control})
    assert accepted.status_code == 202
    await secured_db.wait_for_state(accepted.json()["task_id"], ("succeeded",))
    assert {r.path for r in fake.requests} == {parse_target(control).web_path()}


@pytest.mark.parametrize("mode", ["web", "api"])
async def test_redirects_to_another_host_are_not_followed(
    sqlite_url: str, fake: FakeBeatport, mode: str
) -> None:
    path = parse_target(CHART_URL).web_path() if mode == "web" else API_CHART_PATH
    with (
        FakeBeatport(charts={11: 5}, api_token="elsewhere-token") as elsewhere,
        FakeBeatport(charts={11: 5}, api_token="bp-token-123456") as origin,
    ):
        settings = secured_settings(
            sqlite_url,
            origin,
            beatport_mode=mode,
            beatport_token="bp-token-123456" if mode == "api" else None,
        )
        async for live in serve(settings):
            live.http.headers.update(bearer())
            for location in [
                "http://127.0.0.1:1/elsewhere",
                f"{elsewhere.web_url}{path}",
                f"https://127.0.0.1:{origin.port}{path}",
                "http://evil.example/steal",
                "//evil.example/steal",
            ]:
                origin.redirects[path] = location
                started = await live.http.post("/collect/beatport/collect", json={"url": CHART_URL})
                done = await live.wait_for_state(started.json()["task_id"], ("succeeded", "failed"))
                assert done["state"] == "failed", location
                assert "redirected the request" in done["error"], done["error"]
                assert "never follows redirects away" in done["error"]
            # Same host, another path: followed, and the job succeeds.
            origin.redirects = {path: MOVED[mode]}
            started = await live.http.post("/collect/beatport/collect", json={"url": CHART_URL})
            done = await live.wait_for_state(started.json()["task_id"], ("succeeded", "failed"))
            assert done["state"] == "succeeded", done
    assert elsewhere.requests == []  # never reached: no request, no token


# ------------------------------------------------------------------ XSS: scraped text


def hostile_track(beatport_id: int) -> BeatportTrack:
    """A track whose every text field is an attack, as a compromised page could carry."""
    return BeatportTrack(
        beatport_id=beatport_id,
        title=SCRIPT,
        mix_name=IMG,
        slug='x"><script>alert(2)</script>',
        artists=(Ref(910001, IMG, "a"),),
        remixers=(Ref(910002, SCRIPT, "r"),),
        isrc=None,
        bpm=124,
        key_name="A Minor",
        camelot="8A",
        genre=Ref(5, SCRIPT, "g"),
        sub_genre=None,
        label=Ref(910003, IMG, "l"),
        release=Ref(910004, SCRIPT, "r"),
        catalog_number=IMG,
        length_ms=300_000,
        publish_date=date(2026, 1, 5),
        new_release_date=date(2026, 1, 5),
        pre_order=False,
        exclusive=False,
        is_hype=False,
        sample_url=None,
        sample_start_ms=None,
        sample_end_ms=None,
        waveform_url=None,
        artwork_url=None,
        price_display=None,
        raw={"name": SCRIPT},
    )


def assert_inert(html: str, where: str) -> BeautifulSoup:
    """No script but Crate's own, no event handler, no injected element: the attacks are text."""
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        assert script.get("src") in SCRIPTS and not script.text.strip(), (where, str(script))
    for tag in soup.find_all(True):
        handlers = [name for name in tag.attrs if name.lower().startswith("on")]
        assert not handlers, (where, str(tag)[:200])
    assert not soup.select("img[src=x]"), where
    assert SCRIPT not in html and IMG not in html, where
    return soup


async def test_scraped_text_and_job_details_are_shown_as_text(
    secured_db: LiveApp,
) -> None:
    live = secured_db
    await store_tracks([hostile_track(920001)], CollectCounts())
    await jobs.create("hostile-job", "collect_bp_tracks_task", {"label": SCRIPT, "url": IMG})
    await jobs.save_snapshot("hostile-job", jobs.Snapshot(state="failed", error=SCRIPT))
    await jobs.create("hostile-running", "collect_bp_tracks_task", {"label": IMG, "url": SCRIPT})
    await jobs.save_snapshot("hostile-running", jobs.Snapshot(state="running", phase=IMG))
    track = await Track.select(Track._meta.primary_key).first()
    artist = (
        await Artist.select(Artist._meta.primary_key).where(Artist.beatport_id == 910001).first()
    )
    label = await Label.select(Label._meta.primary_key).first()
    release = await Release.select(Release._meta.primary_key).first()
    assert track and artist and label and release
    live.http.headers.update(bearer())

    shown_as_text = {
        "/": [SCRIPT, IMG],
        "/jobs": [SCRIPT, IMG],
        "/tasks/status/hostile-job": [SCRIPT],
        "/tasks/status/hostile-running": [IMG],
        "/tracks": [SCRIPT, IMG],
        f"/tracks/{track['id']}": [SCRIPT, IMG],
        f"/artists/{artist['id']}": [SCRIPT, IMG],
        f"/labels/{label['id']}": [SCRIPT, IMG],
        f"/releases/{release['id']}": [SCRIPT, IMG],
        "/tracks?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E": [],
        "/tasks/status/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E": [IMG],
    }
    for path, texts in shown_as_text.items():
        response = await live.http.get(path)
        soup = assert_inert(response.text, path)
        if response.status_code == 200 or path.startswith("/tasks/status/%22"):
            for text in texts:
                assert text in soup.get_text(), (path, text)
        else:
            assert response.status_code == 404, (path, response.status_code)  # page not built yet

    # What a user typed comes back escaped in the form, too.
    token = await csrf(live)
    typed = await live.http.post(
        "/collect/beatport/collect",
        data={"url": '"><script>alert(3)</script>', "genre": IMG},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert typed.status_code == 422
    soup = assert_inert(typed.text, "collect form")
    field = soup.select_one("#collect-url")
    assert field is not None and field["value"] == '"><script>alert(3)</script>'


# ------------------------------------------------------------------ limits


async def test_bodies_over_the_limit_get_413_in_words(secured: LiveApp) -> None:
    assert (await log_in(secured)).status_code == 303
    token = await csrf(secured)
    big = "x" * (MAX_BODY_BYTES + 10)
    as_json = await secured.http.post(
        "/collect/beatport/collect",
        content=json.dumps({"url": big}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert as_json.status_code == 413
    assert as_json.json() == {
        "detail": "What was sent is too large: Crate accepts at most 1 MB in one request."
    }
    as_form = await secured.http.post(
        "/collect/beatport/collect", data={"url": big, "_csrf_token": token}
    )
    assert as_form.status_code == 413
    assert "too large" in page(as_form).select_one(".error-detail").text  # type: ignore[union-attr]
    via_htmx = await secured.http.post(
        "/collect/beatport/collect",
        data={"url": big},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert via_htmx.status_code == 413
    assert via_htmx.headers["hx-reswap"] == "beforeend"
    assert page(via_htmx).select_one("p.field-error[role=alert]") is not None

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    streamed = await secured.http.post(
        "/collect/beatport/collect",
        content=chunks(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert streamed.status_code == 413
    assert "too large" in streamed.json()["detail"]
    # Long fields under the body limit: refused per field, in words.
    long_field = await secured.http.post("/collect/beatport/collect", json={"url": "x" * 5000})
    assert long_field.status_code == 422
    assert "too long" in long_field.json()["errors"]["url"]
    assert await Job.count() == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"text"', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b'{"url": {"nested": [1, 2]}, "max_pages": 1e999}', "application/json"),
        (b"url=%ZZ&&&=", "application/x-www-form-urlencoded"),
        (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "multipart/form-data"),
    ],
)
async def test_malformed_bodies_are_answered_in_words_never_500(
    secured: LiveApp, content: bytes, content_type: str
) -> None:
    boundary = "; boundary=b" if content_type.startswith("multipart") else ""
    response = await secured.http.post(
        "/collect/beatport/collect",
        content=content,
        headers={**bearer(), "Content-Type": content_type + boundary, "Accept": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert await Job.count() == 0


async def test_job_creation_is_rate_limited_per_client(secured: LiveApp) -> None:
    secured.http.headers.update(bearer())
    for _ in range(30):
        response = await secured.http.post("/collect/beatport/collect", json={"url": "nope"})
        assert response.status_code == 422
    limited = await secured.http.post("/collect/beatport/collect", json={"url": CHART_URL})
    assert limited.status_code == 429
    assert limited.json()["detail"].startswith("Too many jobs started from your address")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    as_page = await secured.http.post("/collect/spotify/enrich", data={})
    assert as_page.status_code == 429
    assert "Too many jobs started" in page(as_page).select_one(".error-detail").text  # type: ignore[union-attr]
    via_htmx = await secured.http.post(
        "/collect/beatport/collect", data={"url": CHART_URL}, headers={"HX-Request": "true"}
    )
    assert via_htmx.status_code == 429 and "Too many jobs" in via_htmx.text
    # Other pages still work, and another client may still start jobs.
    assert (await secured.http.get("/jobs")).status_code == 200
    other = await secured.http.post(
        "/collect/beatport/collect",
        json={"url": CHART_URL},
        headers={"X-Forwarded-For": "198.51.100.4"},
    )
    assert other.status_code == 202
    assert await Job.count() == 1
    # New schedules count too (each starts jobs later on its own).
    schedule = await secured.http.post(
        "/schedules", json={"name": "nightly", "cron": "0 6 * * *", "url": CHART_URL}
    )
    assert schedule.status_code in (404, 429)
    await settle()


NUL_ADDRESSES = [
    ("GET", "/tasks/status/%00"),
    ("GET", "/tasks/status/abc%00def"),
    ("POST", "/tasks/%00/cancel"),
    ("GET", "/tracks?q=%00"),
    ("GET", "/tracks?q=deep%00house&genre=5"),
    ("GET", "/tracks/export.csv?label=%00"),
    ("GET", "/jobs?page=%00"),
    ("GET", "/artists/1?q=%00"),
]


async def test_nul_bytes_in_the_address_are_refused_in_words(secured_db: LiveApp) -> None:
    secured_db.http.headers.update(bearer())
    for method, path in NUL_ADDRESSES:
        api = await secured_db.http.request(method, path, headers={"Accept": "application/json"})
        assert api.status_code == 400, (path, api.status_code, api.text)
        assert "NUL character" in api.json()["detail"], path
        browser = await secured_db.http.request(method, path)
        assert browser.status_code == 400, path
        assert "NUL character" in page(browser).select_one(".error-detail").text  # type: ignore[union-attr]
    # A literal "%00" typed into the search box arrives as %2500: that is just text.
    assert (await secured_db.http.get("/tracks?q=%2500")).status_code == 200


HOSTILE_QUERY_VALUES = [
    "'; DROP TABLE track; --",
    "\\' OR '1'='1",
    "%",
    "_",
    "\\",
    "x" * 5000,
    "-1",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "2026-02-30",
    "<script>alert(1)</script>",
    "\u202eevil",
    "\ud7ff\ue000\U0010ffff",
]
TRACK_FILTERS = [
    "q",
    "genre",
    "bpm_min",
    "bpm_max",
    "key",
    "compatible",
    "label",
    "artist",
    "released_from",
    "released_to",
    "spotify",
    "sort",
    "page",
    "job",
]


async def test_hostile_filter_values_never_cause_a_server_error(secured_db: LiveApp) -> None:
    await store_tracks([hostile_track(940001)], CollectCounts())
    secured_db.http.headers.update(bearer())
    paths = ["/tracks", "/tracks/export.csv", "/jobs"]
    artist = await Artist.select(Artist._meta.primary_key).first()
    assert artist is not None
    paths.append(f"/artists/{artist['id']}")
    server_errors = []
    for path in paths:
        for name in TRACK_FILTERS:
            for value in HOSTILE_QUERY_VALUES:
                response = await secured_db.http.get(path, params={name: value})
                if response.status_code >= 500:
                    server_errors.append(f"{path}?{name}={value[:40]!r}")
    assert not server_errors, server_errors
    assert await Track.count() == 1  # and nothing was dropped


HUGE_PAGE = "99999999999999999999999"


async def test_a_huge_jobs_page_number_is_not_a_server_error(secured_db: LiveApp) -> None:
    response = await secured_db.http.get("/jobs", params={"page": HUGE_PAGE}, headers=bearer())
    assert response.status_code < 500


# ------------------------------------------------------------------ crate serve


def serve_command(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crate_command("serve", *args), env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "host_env"),
    [
        (["--host", "0.0.0.0"], None),
        ([], "0.0.0.0"),
        (["--host", "::"], None),
        (["--host", "192.0.2.10"], None),
        (["--host", "crate.example"], None),
    ],
)
def test_serve_refuses_to_listen_beyond_loopback_without_a_password(
    tmp_path: Path, process_env: dict[str, str], args: list[str], host_env: str | None
) -> None:
    env = dict(process_env)
    if host_env:
        env["CRATE_HOST"] = host_env
    result = serve_command(args, env, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "CRATE_PASSWORD is not set" in result.stderr
    assert "CRATE_API_TOKEN" in result.stderr and "--host 127.0.0.1" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_serve_listens_beyond_loopback_once_a_password_is_set(
    tmp_path: Path, process_env: dict[str, str]
) -> None:
    port = free_port()
    env = {**process_env, "CRATE_PASSWORD": PASSWORD, "CRATE_HOST": "0.0.0.0"}
    server = start_crate(["serve", "--port", str(port)], env, tmp_path / "serve.log", tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert health.status_code == 200
        home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert home.status_code == 303 and home.headers["location"] == "/login"
    finally:
        stop_process(server)


# ------------------------------------------------------------------ a real browser


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing; CI=true, so this is a failure, not a skip")
    pytest.skip(f"{CHROMIUM} is missing")


WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.mark.browser
async def test_in_a_browser_the_csp_holds_and_htmx_still_works(
    sqlite_url: str, fake: FakeBeatport
) -> None:
    chromium_or_skip()
    settings = secured_settings(sqlite_url, fake)
    await store_tracks([hostile_track(930001)], CollectCounts())
    await Track.update({Track.spotify_url: "javascript:alert(document.domain)"}).where(
        Track.beatport_id == 930001
    )
    hostile = await Track.select(Track._meta.primary_key).first()
    assert hostile is not None
    async for live in serve(settings):
        await drive_the_browser(live, hostile["id"])


async def drive_the_browser(live: LiveApp, hostile_track_id: int) -> None:
    """Log in, use the forms, visit the pages, log out; watching the console throughout."""
    from playwright.async_api import Dialog, Route, async_playwright

    async def artwork(route: Route) -> None:
        await route.fulfill(status=200, content_type="image/png", body=PIXEL)

    console: list[str] = []
    dialogs: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            context = await browser.new_context()
            # Beatport's artwork (the tracks list shows it small) from here, not the network.
            await context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), artwork)
            await context.add_init_script(WATCH_CSP)
            tab = await context.new_page()
            tab.on("console", lambda m: console.append(f"{m.type}: {m.text} @ {m.location['url']}"))
            tab.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            tab.on("dialog", on_dialog)

            # Not logged in: the dashboard sends the browser to the login form.
            await tab.goto(f"{live.url}/")
            assert urlsplit(tab.url).path == "/login"
            await tab.fill("#login-password", PASSWORD)
            await tab.click("button[type=submit]")
            await tab.wait_for_url(f"{live.url}/")
            assert await tab.text_content("h1") == "Dashboard"

            # htmx loaded, configured from the meta tag, and injected no <style>.
            assert await tab.evaluate("window.htmx && htmx.version") == "2.0.11"
            assert await tab.evaluate("htmx.config.includeIndicatorStyles") is False
            assert await tab.evaluate("document.querySelectorAll('style').length") == 0

            # A bad link: the error is swapped into the panel, no page load.
            await tab.evaluate("window.__stayed = true")
            await tab.fill("#collect-url", "https://www.beatport.com.evil.example/top-100")
            await tab.click("#collect-panel button[type=submit]")
            error = tab.locator("#collect-panel .field-error")
            await error.wait_for(timeout=10_000)
            assert "Only links on www.beatport.com" in (await error.text_content() or "")
            assert await tab.evaluate("window.__stayed") is True

            # A good link: the badge appears and polls itself to "done".
            await tab.fill("#collect-url", CHART_URL)
            await tab.click("#collect-panel button[type=submit]")
            await tab.locator("#collect-panel .badge-succeeded").wait_for(timeout=20_000)
            assert await tab.evaluate("window.__stayed") is True
            assert await tab.evaluate("window.__csp") == []

            for path in ["/jobs", "/tracks", f"/tracks/{hostile_track_id}"]:
                await tab.goto(f"{live.url}{path}")
                assert await tab.evaluate("window.__csp") == [], path
            assert not [m for m in console if "Content Security Policy" in m], console
            errors = [m for m in console if m.startswith(("error", "pageerror"))]
            # The refused link is the one error (the icon is ours, so no favicon.ico 404).
            assert not [m for m in errors if "status of 422" not in m], console
            assert dialogs == []

            # The CSP is the last line: a javascript: link from scraped data is blocked.
            spotify_link = tab.locator("a", has_text="Open in Spotify")
            if await spotify_link.count():
                await spotify_link.click()
                await asyncio.sleep(0.5)
                assert dialogs == []
                assert any("Content Security Policy" in m for m in console), console

            # Logging out lands on the login form; the dashboard is closed again.
            await tab.goto(f"{live.url}/")
            await tab.click("header form.logout button")
            await tab.wait_for_url(re.compile(r"/login"))
            await tab.goto(f"{live.url}/jobs")
            assert urlsplit(tab.url).path == "/login"
        finally:
            await browser.close()
