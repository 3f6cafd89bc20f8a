"""The polite HTTP layer under the Beatport client: pacing, retries, redirects, bot checks.

Every request to Beatport goes through `Wire.send`: at most one per BEATPORT_MIN_INTERVAL,
retried on 408/429/5xx and network errors (Beatport's `Retry-After` when usable, else the
backoff of `services.retry`), redirects followed only on the same host, a bot check
raised at once. What fails is a `BeatportError` whose message has every secret masked.
`SharedTransport` is the one connection pool a worker's clients share.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Literal

import httpx

from services.beatport.challenge import detect_challenge
from services.redaction import redact
from services.retry import Backoff, parse_retry_after

RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
MAX_ATTEMPTS: Final = 5
MAX_WAIT: Final = 120.0
MAX_REDIRECTS: Final = 3

Sleep = Callable[[float], Awaitable[Any]]
Clock = Callable[[], float]

# At DEBUG, httpcore logs every response header: Beatport's login session cookie and the
# authorization code in the redirect. Crate never needs those lines.
logging.getLogger("httpcore").setLevel(logging.INFO)


class BeatportError(Exception):
    """Fetching from Beatport failed; the message is in words and safe to show (no secrets)."""


class BeatportBlocked(BeatportError):
    """Beatport (or Cloudflare in front of it) answered with a bot check instead of data."""


class BeatportAuthError(BeatportError):
    """The v4 API refused Crate's credentials, or there were none to use."""


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (~0.4 s)."""
    return httpx.create_ssl_context()


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool for every Beatport client of a worker process: connections
    (and TLS sessions) outlive each job's client, so a run of small jobs does not open
    a connection per job. Each client's close leaves it open; its owner closes it."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(verify=_ssl_context())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Nothing: a job's client is done, the pool is not."""

    async def close(self) -> None:
        """Close the pool's connections (at worker shutdown)."""
        await self._inner.aclose()


def open_http(timeout: float, transport: SharedTransport | None = None) -> httpx.AsyncClient:
    """An HTTP client for Beatport that follows no redirect itself (`Wire.send` decides)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        verify=_ssl_context(),
        transport=transport,
    )


class Wire:
    """Send requests to Beatport one at a time, spaced, retried, and fail in safe words.

    `secrets` gives, at the moment an error is made, every value its message must not
    show (settings and the API tokens in use). `mode` only chooses the advice a bot
    check's message gives."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        mode: Literal["web", "api"],
        min_interval: float,
        backoff_base: float,
        rng: random.Random,
        sleep: Sleep,
        clock: Clock,
        secrets: Callable[[], Iterable[str]],
    ) -> None:
        self._http = http
        self._mode = mode
        self._min_interval = max(0.0, min_interval)
        self._backoff = Backoff(first=backoff_base, cap=MAX_WAIT)
        self._rng = rng
        self._sleep = sleep
        self._clock = clock
        self._secrets = secrets
        self._turn = asyncio.Lock()
        self._next_slot = -math.inf
        self.requests_sent = 0

    async def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        json_body: Any = None,
        follow: bool = True,
    ) -> httpx.Response:
        """One logical request: paced, retried on 408/429/5xx and network errors, same-host
        redirects followed (GET only, at most 3); a bot check raises BeatportBlocked at once."""
        attempt = 0
        redirects = 0
        while True:
            attempt += 1
            await self._wait_turn()
            self.requests_sent += 1
            try:
                response = await self._http.request(
                    method,
                    url,
                    params=params,
                    data=form,
                    json=json_body,
                    headers=headers,
                    follow_redirects=False,
                )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL):
                raise self.error(
                    BeatportError,
                    "The configured Beatport address is not a valid http(s) URL "
                    "(check BEATPORT_WEB_URL and BEATPORT_API_URL).",
                ) from None
            except httpx.TransportError as exc:
                failure = (
                    "did not answer in time"
                    if isinstance(exc, httpx.TimeoutException)
                    else f"could not be reached ({type(exc).__name__})"
                )
                if attempt >= MAX_ATTEMPTS:
                    raise self.error(
                        BeatportError,
                        f"Beatport {failure} for {what}, {attempt} times in a row; "
                        "try again later.",
                    ) from None
                await self._sleep(self._retry_wait(attempt))
                continue

            status = response.status_code
            reason = detect_challenge(status, response.headers, response.text)
            if reason is not None:
                raise self._blocked(what, reason)
            if status in REDIRECT_STATUSES and follow and method == "GET":
                url = self._same_host_redirect(response, what)
                params = None  # the Location carries its own query
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise self.error(
                        BeatportError,
                        f"Beatport redirected the request for {what} more than "
                        f"{MAX_REDIRECTS} times; Crate stopped following.",
                    )
                attempt = 0
                continue
            if status in RETRY_STATUSES:
                if attempt >= MAX_ATTEMPTS:
                    raise self.error(
                        BeatportError,
                        f"Beatport kept answering {status} for {what} ({attempt} attempts); "
                        "try again later.",
                    )
                await self._sleep(self._retry_wait(attempt, response.headers.get("retry-after")))
                continue
            return response

    def raise_for_status(self, response: httpx.Response, what: str) -> None:
        """Nothing for a 2xx answer; otherwise a BeatportError saying what the status means."""
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 404:
            message = f"Beatport answered 404 for {what}: it does not exist or was removed."
        elif status in (401, 403):
            message = f"Beatport refused access to {what} (it answered {status})."
        elif status in REDIRECT_STATUSES:
            message = (
                f"Beatport answered {status} for {what} with a redirect Crate does not follow."
            )
        else:
            message = f"Beatport answered {status} for {what}."
        raise self.error(BeatportError, message)

    def error(self, kind: type[BeatportError], message: str) -> BeatportError:
        """An error whose message has every secret masked, whatever went into it."""
        return kind(redact(message, self._secrets()))

    async def _wait_turn(self) -> None:
        """At most one request per BEATPORT_MIN_INTERVAL, across every caller of this wire."""
        async with self._turn:
            wait = self._next_slot - self._clock()
            if wait > 0:
                await self._sleep(wait)
            # Counted from when this request really goes out, so sleeping late never
            # squeezes the next gap below the minimum.
            self._next_slot = self._clock() + self._min_interval

    def _retry_wait(self, attempt: int, retry_after: str | None = None) -> float:
        """Beatport's Retry-After when usable (at most MAX_WAIT), else backoff."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, MAX_WAIT)
        return self._backoff.wait(attempt, self._rng)

    def _same_host_redirect(self, response: httpx.Response, what: str) -> str:
        location = response.headers.get("location", "")
        try:
            target = response.request.url.join(location)
        except (httpx.InvalidURL, ValueError):
            target = None
        origin = response.request.url
        if (
            target is None
            or not location
            or (target.scheme, target.host, target.port)
            != (origin.scheme, origin.host, origin.port)
        ):
            host = target.host if target is not None and target.host else "an unknown place"
            raise self.error(
                BeatportError,
                f"Beatport redirected the request for {what} to another site ({host}); "
                "Crate never follows redirects away from the configured Beatport address.",
            )
        return str(target)

    def _blocked(self, what: str, reason: str) -> BeatportBlocked:
        if self._mode == "web":
            advice = (
                "Switch to API mode: set BEATPORT_MODE=api with BEATPORT_TOKEN, or with "
                "BEATPORT_USERNAME and BEATPORT_PASSWORD."
            )
        else:
            advice = "Try again later."
        message = f"Beatport blocked the request for {what} with a bot check: {reason}. {advice}"
        blocked = self.error(BeatportBlocked, message)
        assert isinstance(blocked, BeatportBlocked)
        return blocked
