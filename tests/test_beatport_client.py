"""The Beatport client against the fake Beatport over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.beatport.client import BeatportClient
from services.beatport.links import parse_target
from services.beatport.targets import Target, genre_target
from services.beatport.tracks import TrackList
from services.beatport.web_mode import BROWSER_USER_AGENT
from services.beatport.wire import (
    MAX_ATTEMPTS,
    BeatportAuthError,
    BeatportBlocked,
    BeatportError,
)
from services.settings import Settings
from tests.fakes.beatport import BUILD_ID, FakeBeatport

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "static-test-token-0123456789abcdef"
WINDOW = (date(2026, 1, 1), date(2026, 1, 31))


class ManualClock:
    """A monotonic clock the test moves by hand (or a RecordedSleep moves)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordedSleep:
    """A stand-in for asyncio.sleep that records each wait and returns at once."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.waits: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeBeatport]:
    """A fake Beatport with a small, known catalogue."""
    with FakeBeatport(
        tracks_per_list=40,
        per_page=25,
        charts={5: 120, 6: 0},
        labels={7: 230},
        artists={3: 30},
        releases={9: 12},
        genres={6: 150},
        api_token=TOKEN,
        release_window=WINDOW,
    ) as server:
        yield server


@pytest.fixture
def sleep() -> RecordedSleep:
    """The recorded sleep every client in these tests uses unless it needs real time."""
    return RecordedSleep()


def settings_for(fake: FakeBeatport, mode: str = "web", **changes: Any) -> Settings:
    """Settings pointing at the fake, no pause between requests."""
    base = Settings(
        beatport_mode=mode,  # type: ignore[arg-type]  # tests pass "web" or "api"
        beatport_web_url=fake.web_url,
        beatport_api_url=fake.api_url,
        beatport_min_interval=0.0,
    )
    return replace(base, **changes)


@pytest.fixture
async def web(fake: FakeBeatport, sleep: RecordedSleep) -> AsyncIterator[BeatportClient]:
    """A web-mode client."""
    async with BeatportClient(settings_for(fake), sleep=sleep, rng=random.Random(1)) as client:
        yield client


@pytest.fixture
async def api(fake: FakeBeatport, sleep: RecordedSleep) -> AsyncIterator[BeatportClient]:
    """An API-mode client with a pasted token."""
    settings = settings_for(fake, "api", beatport_token=TOKEN)
    async with BeatportClient(settings, sleep=sleep, rng=random.Random(1)) as client:
        yield client


async def collect(client: BeatportClient, target: Target, max_pages: int = 50) -> list[TrackList]:
    """Every page of a target, as the collection job walks them."""
    pages = []
    for page in range(1, max_pages + 1):
        listing = await client.fetch_page(target, page)
        pages.append(listing)
        if not listing.has_next:
            break
    return pages


async def collect_all_of(
    client: BeatportClient, fake: FakeBeatport, url: str, kind: str, list_id: int
) -> tuple[Target, list[TrackList]]:
    """Collect a URL's every page; check that they hold the fake's list, in order."""
    target = parse_target(url)
    pages = await collect(client, target)
    tracks = [t for listing in pages for t in listing.tracks]
    expected = fake.track_ids(kind, list_id)
    assert expected is not None
    assert [t.beatport_id for t in tracks] == expected
    if target.ordered:
        assert [t.position for t in tracks] == list(range(1, len(expected) + 1))
    return target, pages


KINDS = [
    ("https://www.beatport.com/top-100", "top100", 0),
    ("https://www.beatport.com/genre/techno/6/top-100", "genre_top100", 6),
    ("https://www.beatport.com/genre/techno/6/hype-100", "genre_hype100", 6),
    ("https://www.beatport.com/chart/peak-time/5", "chart", 5),
    ("https://www.beatport.com/release/an-ep/9", "release", 9),
    ("https://www.beatport.com/label/big-label/7/tracks", "label", 7),
    ("https://www.beatport.com/artist/someone/3/tracks", "artist", 3),
]


# ---------------------------------------------------------------- web mode


@pytest.mark.parametrize(("url", "kind", "list_id"), KINDS)
async def test_web_collects_every_page_of_each_kind(
    fake: FakeBeatport, web: BeatportClient, url: str, kind: str, list_id: int
) -> None:
    target, pages = await collect_all_of(web, fake, url, kind, list_id)
    assert pages[0].total_count == sum(len(listing.tracks) for listing in pages)
    for request in fake.requests:
        assert request.method == "GET"
        assert request.path == target.web_path()
        assert request.headers["user-agent"] == BROWSER_USER_AGENT
        assert "authorization" not in request.headers
    if kind in ("top100", "genre_top100", "genre_hype100"):
        assert len(fake.requests) == 1 and fake.requests[0].query == {}
    else:
        assert [r.param("page") for r in fake.requests] == [
            str(n) for n in range(1, len(pages) + 1)
        ]
        assert {r.param("per_page") for r in fake.requests} == {"100"}


async def test_web_label_with_230_tracks_takes_three_pages(web: BeatportClient) -> None:
    pages = await collect(web, parse_target("https://www.beatport.com/label/x/7/tracks"))
    assert [len(p.tracks) for p in pages] == [100, 100, 30]
    assert [(p.page, p.total_pages, p.has_next) for p in pages] == [
        (1, 3, True),
        (2, 3, True),
        (3, 3, False),
    ]
    assert all(t.label is not None and t.label.beatport_id == 7 for p in pages for t in p.tracks)


async def test_web_single_track(fake: FakeBeatport, web: BeatportClient) -> None:
    [listing] = await collect(web, parse_target("https://www.beatport.com/track/some-track/4242"))
    [track] = listing.tracks
    assert track.beatport_id == 4242
    assert track.raw == fake.track(4242)
    assert listing.has_next is False
    assert [r.path for r in fake.requests] == ["/track/some-track/4242"]


async def test_single_page_kinds_make_no_request_for_page_two(
    fake: FakeBeatport, web: BeatportClient
) -> None:
    later = await web.fetch_page(Target("top100"), 2)
    assert later == TrackList([], page=2, total_pages=1, has_next=False)
    assert fake.requests == []


async def test_web_genre_date_range_is_refused_without_a_request(
    fake: FakeBeatport, web: BeatportClient
) -> None:
    # The public pages have no list of a genre's releases by date: web mode says so in
    # words (pointing to API mode) instead of asking for a page that does not exist.
    target = genre_target(6, date(2026, 1, 1), date(2026, 1, 10), today=date(2026, 1, 1))
    with pytest.raises(BeatportError) as caught:
        await web.fetch_page(target, 1)
    assert "BEATPORT_MODE=api" in str(caught.value)
    assert fake.requests == []


async def test_web_empty_list_and_missing_fields(fake: FakeBeatport, web: BeatportClient) -> None:
    fake.set_content(empty_lists=True)
    empty = await web.fetch_page(Target("chart", 5, "x"), 1)
    assert (empty.tracks, empty.total_count, empty.has_next) == ([], 0, False)
    fake.set_content(empty_lists=False)
    fake.missing_fields()
    listing = await web.fetch_page(Target("chart", 5, "x"), 1)
    assert listing.tracks and listing.skipped == 0
    for track in listing.tracks:
        assert (track.isrc, track.bpm, track.key_name, track.camelot, track.sub_genre) == (
            None,
            None,
            None,
            None,
            None,
        )
        assert track.genre is not None and track.label is not None and track.title


async def test_web_unknown_chart_is_a_clear_404(fake: FakeBeatport, web: BeatportClient) -> None:
    with pytest.raises(BeatportError) as caught:
        await web.fetch_page(Target("chart", 77, "gone"), 1)
    assert str(caught.value) == (
        "Beatport answered 404 for chart #77: it does not exist or was removed."
    )
    assert len(fake.requests) == 1


@pytest.mark.parametrize("wall", ["cloudflare", "human-test"])
async def test_web_bot_check_fails_at_once_without_retrying(
    fake: FakeBeatport, web: BeatportClient, sleep: RecordedSleep, wall: str
) -> None:
    fake.challenge = wall
    with pytest.raises(BeatportBlocked) as caught:
        await web.fetch_page(Target("chart", 5, "x"), 1)
    message = str(caught.value)
    assert "Beatport blocked the request for chart #5 with a bot check" in message
    assert "BEATPORT_MODE=api" in message and "BEATPORT_TOKEN" in message
    assert "BEATPORT_USERNAME and BEATPORT_PASSWORD" in message
    assert len(fake.requests) == 1
    assert sleep.waits == []


async def test_web_retries_429_honouring_retry_after_seconds(
    fake: FakeBeatport, web: BeatportClient, sleep: RecordedSleep
) -> None:
    fake.fail_next(2, 429, retry_after="3")
    listing = await web.fetch_page(Target("chart", 5, "x"), 1)
    assert len(listing.tracks) == 100
    assert sleep.waits == [3.0, 3.0]
    assert len(fake.requests) == 3


async def test_web_retries_503_honouring_retry_after_date(
    fake: FakeBeatport, web: BeatportClient, sleep: RecordedSleep
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake.fail_next(1, 503, retry_after=format_datetime(when, usegmt=True))
    await web.fetch_page(Target("chart", 5, "x"), 1)
    [wait] = sleep.waits
    assert 25 <= wait <= 30


async def test_huge_retry_after_is_capped_and_zero_means_backoff(
    fake: FakeBeatport, web: BeatportClient, sleep: RecordedSleep
) -> None:
    fake.fail_next(1, 429, retry_after="20000")
    fake.fail_next(3, 503, retry_after="0")
    await web.fetch_page(Target("chart", 5, "x"), 1)
    assert sleep.waits[0] == 120.0
    # Exponential backoff with jitter: attempt n waits between 2**(n-1)/2 and 2**(n-1) s.
    for attempt, wait in enumerate(sleep.waits[1:], start=2):
        assert 2 ** (attempt - 1) / 2 <= wait <= 2 ** (attempt - 1)


async def test_web_gives_up_after_five_attempts(
    fake: FakeBeatport, web: BeatportClient, sleep: RecordedSleep
) -> None:
    fake.fail_next(10, 503)
    with pytest.raises(BeatportError) as caught:
        await web.fetch_page(Target("chart", 5, "x"), 1)
    assert "kept answering 503 for chart #5 (5 attempts)" in str(caught.value)
    assert len(fake.requests) == MAX_ATTEMPTS
    assert len(sleep.waits) == MAX_ATTEMPTS - 1


async def test_timeouts_are_retried_then_reported(fake: FakeBeatport, sleep: RecordedSleep) -> None:
    fake.latency = 0.3
    async with BeatportClient(settings_for(fake), sleep=sleep, timeout=0.05) as client:
        with pytest.raises(BeatportError, match="did not answer in time for chart #5, 5 times"):
            await client.fetch_page(Target("chart", 5, "x"), 1)
    assert len(sleep.waits) == MAX_ATTEMPTS - 1


async def test_connection_refused_is_retried_then_reported(sleep: RecordedSleep) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        beatport_mode="web", beatport_web_url=f"http://127.0.0.1:{port}", beatport_min_interval=0
    )
    async with BeatportClient(settings, sleep=sleep) as client:
        with pytest.raises(BeatportError, match="could not be reached"):
            await client.fetch_page(Target("top100"), 1)
    assert len(sleep.waits) == MAX_ATTEMPTS - 1


async def test_bad_base_url_is_reported_in_words(sleep: RecordedSleep) -> None:
    settings = Settings(
        beatport_mode="web", beatport_web_url="ftp://example.invalid", beatport_min_interval=0
    )
    async with BeatportClient(settings, sleep=sleep) as client:
        with pytest.raises(BeatportError, match="BEATPORT_WEB_URL"):
            await client.fetch_page(Target("top100"), 1)


async def test_same_host_redirects_are_followed_up_to_three(
    fake: FakeBeatport, web: BeatportClient
) -> None:
    fake.redirects["/chart/old-name/5"] = "/chart/step-one/5"
    fake.redirects["/chart/step-one/5"] = f"{fake.web_url}/chart/peak-time/5?page=1&per_page=100"
    listing = await web.fetch_page(Target("chart", 5, "old-name"), 1)
    assert len(listing.tracks) == 100
    assert [r.path for r in fake.requests] == [
        "/chart/old-name/5",
        "/chart/step-one/5",
        "/chart/peak-time/5",
    ]


async def test_redirect_loops_stop(fake: FakeBeatport, web: BeatportClient) -> None:
    fake.redirects["/chart/a/5"] = "/chart/b/5"
    fake.redirects["/chart/b/5"] = "/chart/a/5"
    with pytest.raises(BeatportError, match="more than 3 times"):
        await web.fetch_page(Target("chart", 5, "a"), 1)
    assert len(fake.requests) == 4


async def test_redirects_to_another_host_are_never_followed(
    fake: FakeBeatport, web: BeatportClient
) -> None:
    # localhost is the same machine but another host: following it would show in the log.
    fake.redirects["/chart/x/5"] = f"http://localhost:{fake.port}/stolen?from=crate"
    with pytest.raises(BeatportError) as caught:
        await web.fetch_page(Target("chart", 5, "x"), 1)
    assert "redirected the request for chart #5 to another site (localhost)" in str(caught.value)
    assert [r.path for r in fake.requests] == ["/chart/x/5"]


async def test_web_reads_the_next_data_json_route(fake: FakeBeatport, web: BeatportClient) -> None:
    # A server answering with the /_next/data/… JSON (no `props` wrapper) is understood too.
    fake.redirects["/chart/x/5"] = f"/_next/data/{BUILD_ID}/en/chart/x/5.json?page=1&per_page=100"
    listing = await web.fetch_page(Target("chart", 5, "x"), 1)
    assert [t.beatport_id for t in listing.tracks] == (fake.track_ids("chart", 5) or [])[:100]


# ---------------------------------------------------------------- politeness


async def test_requests_are_spaced_by_the_minimum_interval(fake: FakeBeatport) -> None:
    sent: list[float] = []

    async def note_start(request: httpx.Request) -> None:
        sent.append(time.monotonic())

    settings = settings_for(fake, beatport_min_interval=0.2)
    async with httpx.AsyncClient(event_hooks={"request": [note_start]}) as http:
        client = BeatportClient(settings, http=http)  # real sleep, real clock
        for page in (1, 2, 3):
            await client.fetch_page(Target("label", 7, "x"), page)
        await asyncio.gather(  # concurrent callers share the same pace
            client.fetch_page(Target("chart", 5, "x"), 1),
            client.fetch_page(Target("chart", 5, "x"), 2),
        )
    arrived = [r.time for r in fake.requests]
    assert len(sent) == len(arrived) == 5
    # Where requests leave the client, every gap is the interval, less what a busy machine
    # adds between a request's turn and httpx's request hook (the turn is taken when the
    # request really goes; 0.195 s was seen at the hook with two cores fully loaded).
    assert min(b - a for a, b in itertools.pairwise(sent)) >= 0.2 - 0.02
    # Where they reach the server, only scheduling jitter of a busy machine is allowed.
    assert min(b - a for a, b in itertools.pairwise(arrived)) >= 0.15
    assert arrived[-1] - arrived[0] >= 4 * 0.2 - 0.03


async def test_politeness_uses_the_injected_clock_and_sleep(fake: FakeBeatport) -> None:
    clock = ManualClock()
    sleep = RecordedSleep(clock)
    settings = settings_for(fake, beatport_min_interval=1.5)
    async with BeatportClient(settings, sleep=sleep, clock=clock) as client:
        for page in (1, 2, 3):
            await client.fetch_page(Target("label", 7, "x"), page)
    assert sleep.waits == [1.5, 1.5]


# ---------------------------------------------------------------- API mode


@pytest.mark.parametrize(("url", "kind", "list_id"), KINDS)
async def test_api_collects_every_page_of_each_kind(
    fake: FakeBeatport, api: BeatportClient, url: str, kind: str, list_id: int
) -> None:
    target, pages = await collect_all_of(api, fake, url, kind, list_id)
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.path.startswith("/v4/catalog/")
        # Each page of the list; a chart's name is its own object's (tracks never say it).
        named = kind == "chart" and request.path == f"/v4/catalog/charts/{list_id}/"
        assert request.param("per_page") == (None if named else "100")


@pytest.mark.parametrize(
    ("target", "path", "params"),
    [
        (Target("top100"), "/v4/catalog/tracks/top/100/", {"page": "1", "per_page": "100"}),
        (
            Target("genre_top100", 6, "t"),
            "/v4/catalog/genres/6/top/100/",
            {"page": "1", "per_page": "100", "hype": "false"},
        ),
        (
            Target("genre_hype100", 6, "t"),
            "/v4/catalog/genres/6/top/100/",
            {"page": "1", "per_page": "100", "hype": "true"},
        ),
        (Target("chart", 5, "x"), "/v4/catalog/charts/5/tracks/", {"page": "1", "per_page": "100"}),
        (
            Target("release", 9, "x"),
            "/v4/catalog/releases/9/tracks/",
            {"page": "1", "per_page": "100"},
        ),
        (Target("label", 7, "x"), "/v4/catalog/labels/7/tracks/", {"page": "1", "per_page": "100"}),
        (
            Target("artist", 3, "x"),
            "/v4/catalog/artists/3/tracks/",
            {"page": "1", "per_page": "100"},
        ),
        (Target("track", 4242, "x"), "/v4/catalog/tracks/4242/", {}),
        (
            Target("genre_dates", 6, None, date(2026, 1, 1), date(2026, 1, 31)),
            "/v4/catalog/tracks/",
            {
                "genre_id": "6",
                "publish_date": "2026-01-01:2026-01-31",
                "order_by": "-publish_date",
                "page": "1",
                "per_page": "100",
            },
        ),
    ],
)
async def test_api_endpoints(
    fake: FakeBeatport, api: BeatportClient, target: Target, path: str, params: dict[str, str]
) -> None:
    listing = await api.fetch_page(target, 1)
    assert listing.tracks
    request, *named = fake.requests
    # Only a chart asks for its name (its tracks do not say it), once, after its page 1.
    assert [r.path for r in named] == (["/v4/catalog/charts/5/"] if target.kind == "chart" else [])
    assert request.path == path
    assert {name: values[0] for name, values in request.query.items()} == params


async def test_api_genre_dates_collects_the_range(fake: FakeBeatport, api: BeatportClient) -> None:
    target = genre_target(6, date(2026, 1, 1), date(2026, 1, 31), today=date(2026, 1, 1))
    pages = await collect(api, target)
    assert [t.beatport_id for p in pages for t in p.tracks] == fake.track_ids(
        "genre_dates", 6, WINDOW
    )
    assert len(pages) == 2


async def test_api_forbidden_track_is_skipped_not_failed(
    fake: FakeBeatport, api: BeatportClient
) -> None:
    fake.forbidden_track_ids.add(777)
    listing = await api.fetch_page(Target("track", 777, "x"), 1)
    assert (listing.tracks, listing.skipped, listing.has_next) == ([], 1, False)


async def test_api_wrapped_chart_items(fake: FakeBeatport, api: BeatportClient) -> None:
    fake.wrap_chart_items = True
    listing = await api.fetch_page(Target("chart", 5, "x"), 2)
    assert [t.position for t in listing.tracks] == list(range(101, 121))


async def test_api_missing_fields_are_none(fake: FakeBeatport, api: BeatportClient) -> None:
    fake.set_content(null_fields={"isrc", "bpm", "key", "sub_genre", "release"})
    listing = await api.fetch_page(Target("artist", 3, "x"), 1)
    assert len(listing.tracks) == 30
    for track in listing.tracks:
        assert (track.isrc, track.bpm, track.camelot, track.release, track.label) == (
            None,
            None,
            None,
            None,
            None,
        )


async def test_api_page_past_the_end_is_empty(api: BeatportClient) -> None:
    listing = await api.fetch_page(Target("chart", 5, "x"), 9)
    assert (listing.tracks, listing.has_next) == ([], False)


async def test_api_retries_throttling(
    fake: FakeBeatport, api: BeatportClient, sleep: RecordedSleep
) -> None:
    fake.fail_next(1, 429, retry_after="7", path_prefix="/v4/catalog/")
    listing = await api.fetch_page(Target("chart", 5, "x"), 1)
    assert len(listing.tracks) == 100 and sleep.waits == [7.0]


async def test_auto_mode_picks_api_when_credentials_exist(fake: FakeBeatport) -> None:
    with_token = settings_for(fake, "auto", beatport_token=TOKEN)
    without = settings_for(fake, "auto")
    async with BeatportClient(with_token) as one, BeatportClient(without) as other:
        assert (one.mode, other.mode) == ("api", "web")


async def test_api_without_credentials_says_what_to_set(fake: FakeBeatport) -> None:
    async with BeatportClient(settings_for(fake, "api")) as client:
        with pytest.raises(BeatportAuthError, match="needs BEATPORT_TOKEN"):
            await client.fetch_page(Target("top100"), 1)
    assert fake.requests == []


async def test_rejected_pasted_token_never_shows_in_the_message(
    fake: FakeBeatport, sleep: RecordedSleep
) -> None:
    secret = "pasted-but-expired-token-abcdef123456"
    settings = settings_for(fake, "api", beatport_token=secret)
    async with BeatportClient(settings, sleep=sleep) as client:
        with pytest.raises(BeatportAuthError) as caught:
            await client.fetch_page(Target("chart", 5, "x"), 1)
    message = str(caught.value)
    assert "BEATPORT_TOKEN (401)" in message and "BEATPORT_USERNAME" in message
    assert secret not in message and secret not in repr(caught.value)
    assert len(fake.requests) == 1


# ---------------------------------------------------------------- login flow


def login_settings(fake: FakeBeatport, **changes: Any) -> Settings:
    """API mode with a username and password instead of a token."""
    login: dict[str, Any] = {
        "beatport_username": fake.username,
        "beatport_password": fake.password,
    }
    return settings_for(fake, "api", **(login | changes))


async def test_login_flow_gets_a_token_without_following_the_redirect(
    fake: FakeBeatport, sleep: RecordedSleep
) -> None:
    async with BeatportClient(login_settings(fake), sleep=sleep) as client:
        assert client.mode == "api"
        first = await client.fetch_page(Target("chart", 5, "x"), 1)
        second = await client.fetch_page(Target("chart", 5, "x"), 2)
    assert len(first.tracks) + len(second.tracks) == 120
    steps = [(r.method, r.path) for r in fake.requests]
    assert steps == [
        ("POST", "/v4/auth/login/"),
        ("GET", "/v4/auth/o/authorize/"),
        ("POST", "/v4/auth/o/token/"),
        ("GET", "/v4/catalog/charts/5/tracks/"),
        ("GET", "/v4/catalog/charts/5/"),  # the chart's name, once
        ("GET", "/v4/catalog/charts/5/tracks/"),
    ]
    login, authorize, token = fake.requests[:3]
    assert b'"username"' in login.body
    assert authorize.param("response_type") == "code"
    assert authorize.param("client_id")
    assert authorize.param("redirect_uri") == f"{fake.api_url}/auth/o/post-message/"
    assert "sessionid=" in authorize.headers.get("cookie", "")
    assert b"grant_type=authorization_code" in token.body
    catalog = fake.requests[3].headers["authorization"]
    assert catalog.startswith("Bearer ") and catalog != f"Bearer {TOKEN}"
    assert (fake.logins, fake.token_grants, fake.refreshes) == (1, 1, 0)


async def test_login_refreshes_before_the_token_expires(fake: FakeBeatport) -> None:
    fake.token_lifetime = 300
    clock, sleep = ManualClock(), RecordedSleep()
    async with BeatportClient(login_settings(fake), sleep=sleep, clock=clock) as client:
        await client.fetch_page(Target("chart", 5, "x"), 1)
        clock.now += 200  # still valid for longer than the 60 s margin
        await client.fetch_page(Target("chart", 5, "x"), 2)
        assert fake.refreshes == 0
        clock.now += 50  # 50 s left: renew first
        await client.fetch_page(Target("chart", 5, "x"), 1)
    assert (fake.logins, fake.refreshes) == (1, 1)
    refresh = [r for r in fake.requests if r.path == "/v4/auth/o/token/"][-1]
    assert b"grant_type=refresh_token" in refresh.body


async def test_a_401_refreshes_once_and_retries(fake: FakeBeatport, sleep: RecordedSleep) -> None:
    async with BeatportClient(login_settings(fake), sleep=sleep) as client:
        await client.fetch_page(Target("chart", 5, "x"), 1)
        fake.expire_tokens()
        listing = await client.fetch_page(Target("chart", 5, "x"), 2)
    assert len(listing.tracks) == 20
    assert (fake.logins, fake.refreshes) == (1, 1)
    paths = [r.path for r in fake.requests][3:]
    assert paths == [
        "/v4/catalog/charts/5/tracks/",
        "/v4/catalog/charts/5/",  # the chart's name
        "/v4/catalog/charts/5/tracks/",  # 401
        "/v4/auth/o/token/",  # refresh
        "/v4/catalog/charts/5/tracks/",
    ]


async def test_wrong_password_is_an_auth_error_without_the_password(
    fake: FakeBeatport, sleep: RecordedSleep
) -> None:
    settings = login_settings(fake, beatport_password="my-very-secret-password")
    async with BeatportClient(settings, sleep=sleep) as client:
        with pytest.raises(BeatportAuthError) as caught:
            await client.fetch_page(Target("top100"), 1)
    message = str(caught.value)
    assert "did not accept BEATPORT_USERNAME and BEATPORT_PASSWORD" in message
    assert "my-very-secret-password" not in message
    assert [r.path for r in fake.requests] == ["/v4/auth/login/"]


async def test_tokens_never_appear_in_any_error(fake: FakeBeatport, sleep: RecordedSleep) -> None:
    async with BeatportClient(login_settings(fake), sleep=sleep) as client:
        await client.fetch_page(Target("chart", 5, "x"), 1)
        issued = fake.requests[-1].headers["authorization"].removeprefix("Bearer ")
        errors: list[BeatportError] = []
        for attempt in (
            client.fetch_page(Target("chart", 404, "x"), 1),
            client.fetch_page(Target("release", 123456, "x"), 1),
        ):
            with pytest.raises(BeatportError) as caught:
                await attempt
            errors.append(caught.value)
        fake.fail_next(5, 502)
        with pytest.raises(BeatportError) as caught:
            await client.fetch_page(Target("chart", 5, "x"), 1)
        errors.append(caught.value)
    assert "404 for chart #404" in str(errors[0])
    for error in errors:
        assert issued not in str(error) and fake.password not in str(error)


async def test_client_works_with_a_caller_supplied_http_client(fake: FakeBeatport) -> None:
    async with httpx.AsyncClient() as http:
        client = BeatportClient(settings_for(fake), http=http)
        listing = await client.fetch_page(Target("artist", 3, "x"), 1)
        await client.aclose()  # does not close the caller's client
        assert not http.is_closed
    assert len(listing.tracks) == 30


async def test_fake_runs_as_a_process_for_benchmarks() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.fakes.beatport", "--tracks", "240", "--per-page", "150"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        web_url = (await process.stdout.readline()).decode().strip()
        api_url = (await process.stdout.readline()).decode().strip()
        assert web_url.startswith("http://127.0.0.1:") and api_url == f"{web_url}/v4"
        settings = Settings(beatport_mode="web", beatport_web_url=web_url, beatport_min_interval=0)
        async with BeatportClient(settings, per_page=150) as client:
            pages = await collect(client, Target("label", 7, "x"))
        assert [len(p.tracks) for p in pages] == [150, 90]
    finally:
        process.terminate()
        await process.communicate()
    assert process.returncode == 0
