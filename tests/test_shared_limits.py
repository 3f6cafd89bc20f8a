"""Login limits, job limits and logouts hold across web processes (real Redis).

`crate serve --workers N` runs N processes; here two apps on one Redis stand in for two
of them (each has its own memory, as processes do), served over real HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.conftest import LiveApp, free_port, make_settings, serve_app
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.shared import BREAKER_SECONDS, SharedLimiter, SharedLogouts, SharedRedis

PASSWORD = "correct horse battery staple"
API_TOKEN = "crate-api-token-0123456789abcdef"
CHART_URL = "https://www.beatport.com/chart/x/11"


@pytest.fixture
async def two_processes(sqlite_url: str, redis_url: str) -> AsyncIterator[tuple[LiveApp, LiveApp]]:
    """Two apps with a password, one Redis and one database, each with its own memory."""
    settings = make_settings(
        sqlite_url, password=PASSWORD, api_token=API_TOKEN, redis_url=redis_url
    )
    async for first in serve_app(create_app(settings)):
        async for second in serve_app(create_app(settings)):
            yield first, second


async def csrf(live: LiveApp) -> str:
    """The CSRF token this client's browser would send (loading /login sets the cookie)."""
    await live.http.get("/login")
    token = live.http.cookies.get("csrftoken")
    assert token
    return token


async def log_in(live: LiveApp, password: str) -> int:
    """Submit the login form; the status code."""
    response = await live.http.post(
        "/login", data={"password": password, "_csrf_token": await csrf(live)}
    )
    return response.status_code


async def test_failed_logins_count_across_processes(
    two_processes: tuple[LiveApp, LiveApp],
) -> None:
    first, second = two_processes
    for attempt in range(3):
        assert await log_in(first, f"guess-{attempt}") == 401
    for attempt in range(2):
        assert await log_in(second, f"guess-{attempt}") == 401
    # Five failures in all from this address: both processes now refuse it, in words.
    for live in (first, second):
        refused = await live.http.post(
            "/login", data={"password": PASSWORD, "_csrf_token": await csrf(live)}
        )
        assert refused.status_code == 429
        assert "Too many failed logins from your address" in refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        api = await live.http.get("/jobs", headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert api.status_code == 429
    # Another address is not affected.
    elsewhere = await second.http.post(
        "/login",
        data={"password": PASSWORD, "_csrf_token": await csrf(second)},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert elsewhere.status_code == 303


async def test_a_logout_in_one_process_ends_the_session_in_all(
    two_processes: tuple[LiveApp, LiveApp],
) -> None:
    first, second = two_processes
    assert await log_in(first, PASSWORD) == 303
    cookie = first.http.cookies.get(SESSION_COOKIE)
    assert cookie
    second.http.cookies.set(SESSION_COOKIE, cookie)
    assert (await second.http.get("/jobs")).status_code == 200  # one login opens both
    out = await first.http.post("/logout", data={"_csrf_token": await csrf(first)})
    assert out.status_code == 303
    # The browser forgets the cookie; a copy of it is refused by the other process too.
    refused = await second.http.get("/jobs")
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/login")
    first.http.cookies.set(SESSION_COOKIE, cookie)
    assert (await first.http.get("/jobs")).status_code == 303


async def test_job_posts_are_limited_across_processes(
    two_processes: tuple[LiveApp, LiveApp],
) -> None:
    first, second = two_processes
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    for number in range(30):
        live = first if number % 2 else second
        response = await live.http.post(
            "/collect/beatport/collect", json={"url": "nope"}, headers=headers
        )
        assert response.status_code == 422  # refused in words, but a post all the same
    for live in (first, second):
        limited = await live.http.post(
            "/collect/beatport/collect", json={"url": CHART_URL}, headers=headers
        )
        assert limited.status_code == 429
        assert limited.json()["detail"].startswith("Too many jobs started from your address")


async def test_the_last_free_slot_goes_to_one_process_only(redis_url: str) -> None:
    redis = [SharedRedis(redis_url), SharedRedis(redis_url)]
    limiters = [SharedLimiter("race", 5, 60.0, redis=one) for one in redis]
    try:
        waits = await asyncio.gather(
            *(limiters[number % 2].hit("203.0.113.1") for number in range(40))
        )
        assert sum(wait is None for wait in waits) == 5
        assert all(0 < wait <= 60 for wait in waits if wait is not None)
        await limiters[0].reset("203.0.113.1")
        assert await limiters[1].retry_after("203.0.113.1") is None
        # Neither the address nor a session id is written to Redis as such.
        logouts = SharedLogouts(redis[0])
        await logouts.revoke("session-id-abc", expires=2**40, now=0)
        assert await SharedLogouts(redis[1]).is_revoked("session-id-abc")
        assert not await SharedLogouts(redis[1]).is_revoked("another-session")
        async with Redis.from_url(redis_url) as client:
            keys = [str(key) for key in await client.keys("crate:*")]
        assert keys and not any("203.0.113.1" in key or "session-id" in key for key in keys)
    finally:
        for one in redis:
            await one.close()


async def test_without_redis_each_process_falls_back_to_its_own_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [100.0]
    dead = SharedRedis(f"redis://127.0.0.1:{free_port()}/0", clock=lambda: clock[0])
    limiter = SharedLimiter("login", 2, 60.0, redis=dead)
    logouts = SharedLogouts(dead)
    try:
        with caplog.at_level(logging.WARNING, logger="crate.web"):
            assert await limiter.hit("203.0.113.2") is None
            assert await limiter.hit("203.0.113.2") is None
            wait = await limiter.hit("203.0.113.2")
            assert wait is not None and 0 < wait <= 60
            await logouts.revoke("session-1", expires=10**10, now=clock[0])
            assert await logouts.is_revoked("session-1")
            assert not await logouts.is_revoked("session-2")
        warnings = [r for r in caplog.records if "Redis is not answering" in r.getMessage()]
        assert len(warnings) == 1  # once per spell, not once per request
        assert "redis://" not in warnings[0].getMessage()
        clock[0] += BREAKER_SECONDS + 1  # the spell is over: Redis is asked again
        with caplog.at_level(logging.WARNING, logger="crate.web"):
            assert await limiter.retry_after("203.0.113.2") is not None
        warnings = [r for r in caplog.records if "Redis is not answering" in r.getMessage()]
        assert len(warnings) == 2
    finally:
        await dead.close()


async def test_pages_and_logins_work_while_redis_is_down(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url,
        password=PASSWORD,
        api_token=API_TOKEN,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    async for live in serve_app(create_app(settings)):
        assert await log_in(live, "wrong") == 401
        assert await log_in(live, PASSWORD) == 303
        assert (await live.http.get("/jobs")).status_code == 200
        cookie = live.http.cookies.get(SESSION_COOKIE)
        assert cookie
        assert (
            await live.http.post("/logout", data={"_csrf_token": await csrf(live)})
        ).status_code == 303
        live.http.cookies.set(SESSION_COOKIE, cookie)
        assert (await live.http.get("/jobs")).status_code == 303  # this process remembers
