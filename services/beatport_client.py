"""Fetching from Beatport, politely: public pages (web mode) or the v4 catalog API (API mode).

Every URL is built from a `Target` and the configured base URLs; nothing a user typed is
ever fetched. Parsing is left to the pure functions in `services.beatport`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from services.beatport.challenge import detect_challenge
from services.beatport.pages import extract_next_data, find_tracks
from services.beatport.targets import Target
from services.beatport.tracks import ParseError, TrackList, decode_json, parse_api_list
from services.redaction import redact
from services.retry import Backoff, parse_retry_after
from services.settings import Settings

# The public client id of Beatport's own API documentation app, which community v4
# clients use for the login flow. A setting can take over if Beatport ever rotates it.
DEFAULT_CLIENT_ID: Final = "0GIvkCltVIuPkkwSJHp6NDb3s0potTjLBQr388Dd"
BROWSER_USER_AGENT: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
API_USER_AGENT: Final = "Crate/0.1 (self-hosted Beatport collector)"
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
MAX_ATTEMPTS: Final = 5
MAX_WAIT: Final = 120.0
MAX_REDIRECTS: Final = 3
WEB_PER_PAGE: Final = 100
WEB_GENRE_DATES_PER_PAGE: Final = 50
API_MAX_PER_PAGE: Final = 100
# Renew a login token this many seconds before Beatport says it expires.
TOKEN_MARGIN: Final = 60.0
SINGLE_PAGE_KINDS: Final = frozenset({"top100", "genre_top100", "genre_hype100", "track"})

Sleep = Callable[[float], Awaitable[Any]]
Clock = Callable[[], float]

# At DEBUG, httpcore logs every response header: Beatport's login session cookie and the
# authorization code in the redirect. Crate never needs those lines.
logging.getLogger("httpcore").setLevel(logging.INFO)


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


class BeatportError(Exception):
    """Fetching from Beatport failed; the message is in words and safe to show (no secrets)."""


class BeatportBlocked(BeatportError):
    """Beatport (or Cloudflare in front of it) answered with a bot check instead of data."""


class BeatportAuthError(BeatportError):
    """The v4 API refused Crate's credentials, or there were none to use."""


class BeatportClient:
    """Fetch one page of a Target at a time, in web or API mode, with retries and a rate limit."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        per_page: int | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        backoff_base: float = 1.0,
        rng: random.Random | None = None,
        timeout: float = 20.0,
        transport: SharedTransport | None = None,
    ) -> None:
        self.mode: Literal["web", "api"] = settings.effective_beatport_mode
        self._web_url = settings.beatport_web_url.rstrip("/")
        self._api_url = settings.beatport_api_url.rstrip("/")
        self._min_interval = max(0.0, settings.beatport_min_interval)
        self._username = settings.beatport_username
        self._password = settings.beatport_password
        self._settings_secrets = settings.secrets()
        self._client_id = client_id
        self._per_page = per_page
        self._backoff = Backoff(first=backoff_base, cap=MAX_WAIT)
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            verify=_ssl_context(),
            transport=transport,
        )
        self._turn = asyncio.Lock()
        self._auth = asyncio.Lock()
        self._next_slot = -math.inf
        self._access_token = settings.beatport_token
        self._refresh_token: str | None = None
        self._expires_at: float | None = None
        self.requests_sent = 0

    async def __aenter__(self) -> BeatportClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def fetch_page(self, target: Target, page: int) -> TrackList:
        """Fetch page `page` (from 1) of `target`; raises BeatportError with a reason in words."""
        if page < 1:
            raise ValueError("page numbers start at 1")
        if target.kind in SINGLE_PAGE_KINDS and page > 1:
            return TrackList([], page=page, total_pages=1, has_next=False)
        if self.mode == "web":
            result = await self._fetch_web(target, page)
        else:
            result = await self._fetch_api(target, page)
        if target.kind in SINGLE_PAGE_KINDS:
            result = replace(result, has_next=False)
        return result

    # ------------------------------------------------------------ web mode

    def _web_params(self, target: Target, page: int) -> dict[str, str]:
        if target.kind in SINGLE_PAGE_KINDS:
            return {}
        if target.kind == "genre_dates":
            return {
                "publish_date": f"{target.date_from}:{target.date_to}",
                "page": str(page),
                "per_page": str(self._per_page or WEB_GENRE_DATES_PER_PAGE),
            }
        return {"page": str(page), "per_page": str(self._per_page or WEB_PER_PAGE)}

    async def _fetch_web(self, target: Target, page: int) -> TrackList:
        what = target.short()
        asked = self._web_params(target, page)
        response = await self._send(
            "GET",
            self._web_url + target.web_path(),
            params=asked,
            headers={
                "User-Agent": BROWSER_USER_AGENT,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en-US,en;q=0.9",
            },
            what=what,
        )
        status = response.status_code
        if status == 404 and page > 1:
            return TrackList([], page=page, has_next=False)  # past the last page
        self._raise_for_status(response, what)
        try:
            if "json" in response.headers.get("content-type", ""):
                data = decode_json(response.content)  # the /_next/data/… variant
                if not isinstance(data, dict):
                    raise ParseError("the JSON answer is not an object")
            else:
                data = extract_next_data(response.text)
            return find_tracks(data, target=target, asked=asked)
        except (ParseError, ValueError, RecursionError) as exc:
            raise self._error(
                BeatportError,
                f"Beatport's page for {what} did not contain the track data Crate reads "
                f"({exc}); the site may have changed.",
            ) from None

    # ------------------------------------------------------------ API mode

    def _api_route(self, target: Target, page: int) -> tuple[str, dict[str, str]]:
        beatport_id = target.beatport_id
        paged = {"page": str(page), "per_page": str(min(self._per_page or 100, API_MAX_PER_PAGE))}
        match target.kind:
            case "track":
                return f"/catalog/tracks/{beatport_id}/", {}
            case "release" | "chart" | "label" | "artist":
                return f"/catalog/{target.kind}s/{beatport_id}/tracks/", paged
            case "genre_top100" | "genre_hype100":
                hype = "true" if target.kind == "genre_hype100" else "false"
                return f"/catalog/genres/{beatport_id}/top/100/", {
                    "page": "1",
                    "per_page": "100",
                    "hype": hype,
                }
            case "top100":
                return "/catalog/tracks/top/100/", {"page": "1", "per_page": "100"}
            case _:  # genre_dates
                return "/catalog/tracks/", {
                    "genre_id": str(beatport_id),
                    "publish_date": f"{target.date_from}:{target.date_to}",
                    "order_by": "-publish_date",
                    **paged,
                }

    async def _fetch_api(self, target: Target, page: int) -> TrackList:
        what = target.short()
        path, params = self._api_route(target, page)
        url = self._api_url + path
        token = await self._ensure_token()
        response = await self._send(
            "GET", url, params=params, headers=self._api_headers(token), what=what
        )
        if response.status_code == 401:
            token = await self._renew_after_401(token)
            response = await self._send(
                "GET", url, params=params, headers=self._api_headers(token), what=what
            )
            if response.status_code == 401:
                raise self._error(
                    BeatportAuthError,
                    f"Beatport's API refused the access token for {what} even after renewing it "
                    "(401); check BEATPORT_TOKEN or BEATPORT_USERNAME/BEATPORT_PASSWORD.",
                )
        status = response.status_code
        if status == 403 and target.kind == "track":
            # One restricted or withdrawn track: skip it, the job goes on.
            return TrackList([], skipped=1, total_count=1, page=1, total_pages=1)
        if status == 404 and page > 1:
            return TrackList([], page=page, has_next=False)  # past the last page
        self._raise_for_status(response, what)
        try:
            payload = decode_json(response.content)
            return parse_api_list(payload, use_track_number=target.kind == "release")
        except (ParseError, ValueError, RecursionError) as exc:
            raise self._error(
                BeatportError,
                f"Beatport's API answer for {what} did not contain the track data Crate reads "
                f"({exc}).",
            ) from None

    @staticmethod
    def _api_headers(token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": API_USER_AGENT,
        }

    def _has_login(self) -> bool:
        return bool(self._username and self._password)

    async def _ensure_token(self) -> str:
        """The access token to send, logging in or refreshing first when needed."""
        async with self._auth:
            if self._access_token and (
                self._expires_at is None or self._clock() < self._expires_at - TOKEN_MARGIN
            ):
                return self._access_token
            return await self._new_token(
                "Beatport API mode needs BEATPORT_TOKEN, or BEATPORT_USERNAME and "
                "BEATPORT_PASSWORD."
            )

    async def _renew_after_401(self, used: str) -> str:
        """After a 401: refresh (or log in again) once; another caller may already have."""
        async with self._auth:
            if self._access_token and self._access_token != used:
                return self._access_token
            return await self._new_token(
                "Beatport's API refused BEATPORT_TOKEN (401): it has probably expired. Paste a "
                "fresh token, or set BEATPORT_USERNAME and BEATPORT_PASSWORD so Crate can log in."
            )

    async def _new_token(self, without_credentials: str) -> str:
        """Refresh, else log in; raise `without_credentials` when neither is possible.

        Called with the auth lock held."""
        if self._refresh_token:
            try:
                return await self._refresh()
            except BeatportAuthError:
                if not self._has_login():
                    raise
        if self._has_login():
            return await self._login()
        raise self._error(BeatportAuthError, without_credentials)

    async def _login(self) -> str:
        """The v4 login flow: session cookie, authorization code, then tokens."""
        redirect_uri = f"{self._api_url}/auth/o/post-message/"
        login = await self._send(
            "POST",
            f"{self._api_url}/auth/login/",
            json_body={"username": self._username, "password": self._password},
            headers={"Accept": "application/json", "User-Agent": API_USER_AGENT},
            what="the Beatport login",
        )
        if login.status_code != 200:
            raise self._error(
                BeatportAuthError,
                "Beatport did not accept BEATPORT_USERNAME and BEATPORT_PASSWORD "
                f"(the login answered {login.status_code}).",
            )
        cookie = "; ".join(f"{name}={value}" for name, value in login.cookies.items())
        authorize = await self._send(
            "GET",
            f"{self._api_url}/auth/o/authorize/",
            params={
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
            },
            headers={"Cookie": cookie, "User-Agent": API_USER_AGENT},
            what="the Beatport login",
            follow=False,  # the code is in the Location header; never go there
        )
        location = authorize.headers.get("location", "")
        codes = parse_qs(urlsplit(location).query).get("code", [])
        if authorize.status_code not in REDIRECT_STATUSES or not codes or not codes[0]:
            raise self._error(
                BeatportAuthError,
                "Beatport's login worked but it gave no authorization code "
                f"(the authorize step answered {authorize.status_code}).",
            )
        token = await self._send(
            "POST",
            f"{self._api_url}/auth/o/token/",
            form={
                "grant_type": "authorization_code",
                "code": codes[0],
                "redirect_uri": redirect_uri,
                "client_id": self._client_id,
            },
            headers={"Accept": "application/json", "User-Agent": API_USER_AGENT},
            what="the Beatport login",
        )
        return self._store_tokens(token, "log in")

    async def _refresh(self) -> str:
        assert self._refresh_token is not None
        response = await self._send(
            "POST",
            f"{self._api_url}/auth/o/token/",
            form={
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "client_id": self._client_id,
            },
            headers={"Accept": "application/json", "User-Agent": API_USER_AGENT},
            what="the Beatport token refresh",
        )
        self._refresh_token = None  # used once, whatever happens
        return self._store_tokens(response, "refresh its access token")

    def _store_tokens(self, response: httpx.Response, doing: str) -> str:
        if response.status_code != 200:
            raise self._error(
                BeatportAuthError,
                f"Crate could not {doing} with Beatport (the token step answered "
                f"{response.status_code}).",
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        access = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(access, str) or not access:
            raise self._error(
                BeatportAuthError, f"Crate could not {doing}: Beatport's answer had no token."
            )
        assert isinstance(data, dict)
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in")
        self._access_token = access
        self._refresh_token = refresh if isinstance(refresh, str) and refresh else None
        valid_for = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else None
        )
        self._expires_at = (
            self._clock() + valid_for if valid_for and math.isfinite(valid_for) else None
        )
        return access

    # ------------------------------------------------------------ the wire

    async def _wait_turn(self) -> None:
        """At most one request per BEATPORT_MIN_INTERVAL, across every caller of this client."""
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

    async def _send(
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
                raise self._error(
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
                    raise self._error(
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
                    raise self._error(
                        BeatportError,
                        f"Beatport redirected the request for {what} more than "
                        f"{MAX_REDIRECTS} times; Crate stopped following.",
                    )
                attempt = 0
                continue
            if status in RETRY_STATUSES:
                if attempt >= MAX_ATTEMPTS:
                    raise self._error(
                        BeatportError,
                        f"Beatport kept answering {status} for {what} ({attempt} attempts); "
                        "try again later.",
                    )
                await self._sleep(self._retry_wait(attempt, response.headers.get("retry-after")))
                continue
            return response

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
            raise self._error(
                BeatportError,
                f"Beatport redirected the request for {what} to another site ({host}); "
                "Crate never follows redirects away from the configured Beatport address.",
            )
        return str(target)

    def _raise_for_status(self, response: httpx.Response, what: str) -> None:
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
        raise self._error(BeatportError, message)

    def _blocked(self, what: str, reason: str) -> BeatportBlocked:
        if self.mode == "web":
            advice = (
                "Switch to API mode: set BEATPORT_MODE=api with BEATPORT_TOKEN, or with "
                "BEATPORT_USERNAME and BEATPORT_PASSWORD."
            )
        else:
            advice = "Try again later."
        message = f"Beatport blocked the request for {what} with a bot check: {reason}. {advice}"
        blocked = self._error(BeatportBlocked, message)
        assert isinstance(blocked, BeatportBlocked)
        return blocked

    def _error(self, kind: type[BeatportError], message: str) -> BeatportError:
        """An error whose message has every secret masked, whatever went into it."""
        secrets = [
            *self._settings_secrets,
            *(value for value in (self._access_token, self._refresh_token) if value),
        ]
        return kind(redact(message, secrets))
