"""Sessions, login limits and job limits hold across web processes (real Redis).

`crate serve --workers N` runs N processes; here two apps on one Redis stand in for two
of them (each has its own memory, as processes do), served over real HTTP. A small TCP
relay in front of the real Redis stands in for an outage when the test cuts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from services.settings import Settings
from tests.conftest import LiveApp, free_port, make_settings, serve_app
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.shared import BREAKER_SECONDS, Fallback, SharedSessions, build_shared

PASSWORD = "correct horse battery staple"
API_TOKEN = "crate-api-token-0123456789abcdef"
CHART_URL = "https://www.beatport.com/chart/x/11"


def shared_settings(sqlite_url: str, redis_url: str) -> Settings:
    """A password, a token and Redis; the test's client plays a trusted local proxy."""
    return make_settings(
        sqlite_url,
        password=PASSWORD,
        api_token=API_TOKEN,
        redis_url=redis_url,
        trusted_proxies=("127.0.0.1/32",),
    )


@pytest.fixture
async def two_processes(sqlite_url: str, redis_url: str) -> AsyncIterator[tuple[LiveApp, LiveApp]]:
    """Two apps with a password, one Redis and one database, each with its own memory."""
    settings = shared_settings(sqlite_url, redis_url)
    async for first in serve_app(create_app(settings)):
        async for second in serve_app(create_app(settings)):
            yield first, second


class RedisRelay:
    """A TCP relay to the real Redis that the test can cut (an outage) and restore."""

    def __init__(self, target_url: str) -> None:
        self.port = free_port()
        self.url = target_url.replace(":6379/", f":{self.port}/")
        self._open: set[asyncio.StreamWriter] = set()
        self.cut = False
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RedisRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.cut_off()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut_off(self) -> None:
        """Redis stops answering: open connections drop, new ones are closed at once."""
        self.cut = True
        for writer in list(self._open):
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._open |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._open -= {writer, up_writer}


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


async def test_a_restart_logs_nobody_out_and_a_session_redis_forgot_is_gone(
    sqlite_url: str, redis_url: str
) -> None:
    settings = shared_settings(sqlite_url, redis_url)
    cookie = ""
    async for live in serve_app(create_app(settings)):
        assert await log_in(live, PASSWORD) == 303
        cookie = live.http.cookies.get(SESSION_COOKIE) or ""
    assert cookie
    async for live in serve_app(create_app(settings)):  # every process restarted
        live.http.cookies.set(SESSION_COOKIE, cookie)
        assert (await live.http.get("/jobs")).status_code == 200
        async with Redis.from_url(redis_url) as client:
            await client.flushdb()  # Redis lost its data (say, restarted without a disk)
        assert (await live.http.get("/jobs")).status_code == 303
        assert (await live.http.get("/jobs")).status_code == 303  # and it stays logged out


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


async def test_the_last_free_slot_goes_to_one_process_only(sqlite_url: str, redis_url: str) -> None:
    processes = [build_shared(shared_settings(sqlite_url, redis_url)) for _ in range(2)]
    limits = [process.login_failures for process in processes]
    try:
        waits = await asyncio.gather(
            *(limits[number % 2].hit("203.0.113.1") for number in range(40))
        )
        assert sum(wait is None for wait in waits) == 5
        assert all(0 < wait <= 60 for wait in waits if wait is not None)
        assert await limits[0].wait("203.0.113.1") is not None
        await limits[0].clear("203.0.113.1")
        assert await limits[1].wait("203.0.113.1") is None
        # A session kept by one process is read, and deleted, by the other.
        await processes[0].sessions.set("session-id-abc", b'{"a": 1}', expires_in=60)
        assert await processes[1].sessions.get("session-id-abc") == b'{"a": 1}'
        await limits[1].hit("203.0.113.1")
        # Neither the address nor a session id is written to Redis as such.
        async with Redis.from_url(redis_url) as client:
            keys = [str(key) for key in await client.keys("crate:*")]
        assert any("crate:session" in key for key in keys)
        assert any("crate:limit" in key for key in keys)
        assert not any("203.0.113.1" in key or "session-id" in key for key in keys)
        await processes[1].sessions.delete("session-id-abc")
        assert await processes[0].sessions.get("session-id-abc") is None
    finally:
        for process in processes:
            await process.close()


async def test_while_redis_is_down_each_process_uses_its_own_memory(
    sqlite_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]
    async with RedisRelay(redis_url) as relay:
        settings = shared_settings(sqlite_url, relay.url)
        one, other = build_shared(settings), build_shared(settings)
        fallback = Fallback(clock=lambda: clock[0])
        limit = replace(one.login_failures, fallback=fallback)
        assert one.redis is not None and other.redis is not None
        sessions = SharedSessions(one.redis, fallback)
        try:
            await sessions.set("in-redis", b"{}", expires_in=600)
            relay.cut_off()
            with caplog.at_level(logging.WARNING, logger="crate.web"):
                for _ in range(5):
                    assert await limit.hit("203.0.113.2") is None
                wait = await limit.hit("203.0.113.2")
                assert wait is not None and 0 < wait <= 60
                # A logout Redis cannot hear of holds here at once.
                await sessions.delete("in-redis")
                assert await sessions.get("in-redis") is None
                # A session made meanwhile lives in this process.
                await sessions.set("made-meanwhile", b"{}", expires_in=600)
                assert await sessions.get("made-meanwhile") == b"{}"
            warnings = [r for r in caplog.records if "Redis is not answering" in r.getMessage()]
            assert len(warnings) == 1  # once per spell, not once per call
            assert "redis://" not in warnings[0].getMessage()
            # Redis answers again; once the spell is over this process asks it again, and
            # the logout it missed reaches it, so no other process accepts the session.
            relay.cut = False
            clock[0] += BREAKER_SECONDS + 1
            assert await sessions.get("made-meanwhile") == b"{}"
            assert await other.sessions.get("in-redis") is None
        finally:
            await one.close()
            await other.close()


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
        # Limits still hold, per process.
        for attempt in range(5):
            assert await log_in(live, f"guess-{attempt}") == 401
        assert await log_in(live, PASSWORD) == 429
