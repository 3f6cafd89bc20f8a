"""Spotify Web API client: spotipy run in a worker thread, errors turned into Crate's own.

Designed for Development-Mode apps (2026): search `limit` at most 10, no batch
`GET /tracks?ids=`, no popularity, audio features answer 403. A 429 surfaces at
once as `SpotifyRateLimited` so the caller decides how long to wait; spotipy and
urllib3 are never allowed to sleep on `Retry-After` inside a thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import spotipy
import urllib3
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials

from services.retry import parse_retry_after
from services.settings import Settings

SEARCH_LIMIT_MAX = 10  # Development-Mode apps get 400 "Invalid limit" above this.
AUDIO_FEATURES_BATCH = 100
_BASE62_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_T = TypeVar("_T")

# spotipy logs every HTTP error at ERROR, including the 429s and 404s Crate handles itself;
# Crate reports those in words, so spotipy's own lines would only be noise in the logs.
logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)
# At DEBUG, spotipy.oauth2 logs the token request's headers: Basic base64(id:secret).
logging.getLogger("spotipy.oauth2").setLevel(logging.INFO)


class SpotifyError(Exception):
    """Spotify could not answer a request; the message says why, in words."""


class SpotifyRateLimited(SpotifyError):
    """Spotify answered 429: wait `retry_after` seconds (None: no usable Retry-After)."""

    def __init__(self, message: str, *, retry_after: float | None, quota: bool) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.quota = quota


class SpotifyAuthError(SpotifyError):
    """Spotify refused the client id/secret, or the access token it issued."""


class SpotifyForbidden(SpotifyError):
    """Spotify answered 403: this app may not use the endpoint (Development Mode)."""


class SpotifyUnavailable(SpotifyError):
    """Spotify failed with 5xx after retries, timed out, or could not be reached."""


class SpotifyNotConfigured(SpotifyError):
    """No Spotify client id/secret is configured."""


@dataclass(frozen=True, slots=True)
class SpotifyTrack:
    """The fields Crate keeps from a Spotify track object."""

    id: str
    name: str
    artists: tuple[str, ...]
    album: str
    album_id: str | None = None
    album_type: str | None = None
    album_image_url: str | None = None
    release_date: str | None = None
    release_date_precision: str | None = None
    duration_ms: int | None = None
    isrc: str | None = None
    popularity: int | None = None
    preview_url: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, obj: Mapping[str, Any]) -> SpotifyTrack:
        """Build from a Web API track object; absent fields (dev-mode responses) become None."""
        album = _mapping(obj.get("album"))
        images = [image for image in album.get("images") or () if isinstance(image, Mapping)]
        # Spotify lists images largest first, but nothing promises it: pick the widest.
        image = max(images, key=lambda i: i.get("width") or 0, default=None)
        return cls(
            id=str(obj.get("id") or ""),
            name=str(obj.get("name") or ""),
            artists=tuple(
                str(artist["name"])
                for artist in obj.get("artists") or ()
                if isinstance(artist, Mapping) and artist.get("name")
            ),
            album=str(album.get("name") or ""),
            album_id=_text(album.get("id")),
            album_type=_text(album.get("album_type")),
            album_image_url=_text(image.get("url")) if image else None,
            release_date=_text(album.get("release_date")),
            release_date_precision=_text(album.get("release_date_precision")),
            duration_ms=_integer(obj.get("duration_ms")),
            isrc=_text(_mapping(obj.get("external_ids")).get("isrc")),
            popularity=_integer(obj.get("popularity")),
            preview_url=_text(obj.get("preview_url")),
            url=_text(_mapping(obj.get("external_urls")).get("spotify")),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def build_session(*, retries: int = 3, backoff_factor: float = 0.5) -> requests.Session:
    """A requests session that retries connection errors and 5xx but never waits on a 429."""
    retry = urllib3.Retry(
        total=retries,
        connect=retries,
        # A read timeout is not retried: a slow Spotify is better reported than hammered.
        read=False,
        status=retries,
        backoff_factor=backoff_factor,
        backoff_max=10,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        # urllib3 would otherwise sleep on Retry-After (up to 6 h) inside our thread.
        respect_retry_after_header=False,
        # Hand the last 5xx back as a response so spotipy reports its real status.
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _TokenRefused(Exception):
    """The token endpoint answered with an HTTP error (status and Spotify's error code)."""

    def __init__(self, status: int, error: str | None, headers: Mapping[str, str]) -> None:
        super().__init__(f"token endpoint answered {status} ({error or 'no error code'})")
        self.status = status
        self.error = error
        self.headers = headers


class _ClientCredentials(SpotifyClientCredentials):  # type: ignore[misc]  # untyped base
    """Client-credentials flow that keeps the token endpoint's HTTP status on failure."""

    def _handle_oauth_error(self, http_error: requests.HTTPError) -> None:
        response = http_error.response
        status = response.status_code if response is not None else 0
        error: str | None = None
        try:
            body = response.json() if response is not None else None
        except ValueError:
            body = None
        if isinstance(body, Mapping) and isinstance(body.get("error"), str):
            error = body["error"]
        headers: Mapping[str, str] = response.headers if response is not None else {}
        raise _TokenRefused(status, error, headers) from None


class SpotifyCatalog:
    """Search and read Spotify's catalogue with a client-credentials app.

    `requests_made` counts Web API calls (a 5xx retried inside urllib3 counts once, a
    call repeated after renewing an expired token twice); `token_requests` counts
    token fetches.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_url: str = "https://api.spotify.com/v1/",
        token_url: str = "https://accounts.spotify.com/api/token",
        requests_timeout: float = 10.0,
        retries: int = 3,
        backoff_factor: float = 0.5,
    ) -> None:
        if not client_id or not client_secret:
            raise SpotifyNotConfigured(
                "Spotify is not configured: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET."
            )
        self.api_url = api_url.rstrip("/") + "/"
        self.token_url = token_url
        self.requests_timeout = requests_timeout
        self.requests_made = 0
        self.token_requests = 0
        self._lock = threading.Lock()
        self._token_session = build_session(retries=retries, backoff_factor=backoff_factor)
        self._token_session.hooks["response"].append(self._count_token_request)
        self._auth = _ClientCredentials(
            client_id=client_id,
            client_secret=client_secret,
            # The default CacheFileHandler writes the token to ./.cache.
            cache_handler=MemoryCacheHandler(),
            requests_session=self._token_session,
            requests_timeout=requests_timeout,
        )
        self._auth.OAUTH_TOKEN_URL = token_url
        self._session = build_session(retries=retries, backoff_factor=backoff_factor)
        self._spotify = spotipy.Spotify(
            auth_manager=self._auth,
            requests_session=self._session,
            requests_timeout=requests_timeout,
        )
        self._spotify.prefix = self.api_url

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        requests_timeout: float = 10.0,
        retries: int = 3,
        backoff_factor: float = 0.5,
    ) -> SpotifyCatalog:
        """Build from Crate's settings; raises SpotifyNotConfigured without id and secret."""
        if not settings.spotify_client_id or not settings.spotify_client_secret:
            raise SpotifyNotConfigured(
                "Spotify is not configured: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET."
            )
        return cls(
            client_id=settings.spotify_client_id,
            client_secret=settings.spotify_client_secret,
            api_url=settings.spotify_api_url,
            token_url=settings.spotify_token_url,
            requests_timeout=requests_timeout,
            retries=retries,
            backoff_factor=backoff_factor,
        )

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._session.close()
        self._token_session.close()

    async def search_isrc(self, isrc: str, *, limit: int = SEARCH_LIMIT_MAX) -> list[SpotifyTrack]:
        """Tracks Spotify files under this ISRC (one recording may be on several releases)."""
        isrc = re.sub(r"[^0-9A-Za-z]", "", isrc).upper()
        if not isrc:
            return []
        return await self._search(f"isrc:{isrc}", limit)

    async def search_text(
        self, title: str, artist: str, *, limit: int = SEARCH_LIMIT_MAX
    ) -> list[SpotifyTrack]:
        """Tracks whose title and artist match the words given (field-filtered search)."""
        # A quote inside the value would end the quoted field filter early.
        title = " ".join(title.replace('"', " ").split())
        artist = " ".join(artist.replace('"', " ").split())
        parts = [f'track:"{title}"'] if title else []
        if artist:
            parts.append(f'artist:"{artist}"')
        if not parts:
            return []
        return await self._search(" ".join(parts), limit)

    async def track(self, spotify_id: str) -> SpotifyTrack | None:
        """One track by id (never the batch endpoint); None when Spotify does not know it."""
        if not _BASE62_ID.match(spotify_id):
            return None
        try:
            obj = await self._run(lambda: self._spotify._get(f"tracks/{spotify_id}"))
        except _NotFound:
            return None
        if not isinstance(obj, Mapping) or not obj.get("id"):
            raise SpotifyError("Spotify sent a track answer Crate cannot read.")
        return SpotifyTrack.from_api(obj)

    async def audio_features(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Audio features by track id, asked in batches of 100; raises SpotifyForbidden on 403."""
        wanted = list(dict.fromkeys(i for i in ids if _BASE62_ID.match(i)))
        features: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), AUDIO_FEATURES_BATCH):
            batch = ",".join(wanted[start : start + AUDIO_FEATURES_BATCH])
            # spotipy's audio_features() warns (deprecated); the endpoint itself is the same.
            body = await self._run(partial(self._spotify._get, "audio-features", ids=batch))
            items = body.get("audio_features") if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise SpotifyError("Spotify sent an audio-features answer Crate cannot read.")
            for item in items:
                if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                    features[item["id"]] = dict(item)
        return features

    async def _search(self, query: str, limit: int) -> list[SpotifyTrack]:
        limit = max(1, min(limit, SEARCH_LIMIT_MAX))
        body = await self._run(
            lambda: self._spotify.search(q=query, type="track", limit=limit, offset=0)
        )
        tracks = body.get("tracks") if isinstance(body, Mapping) else None
        items = tracks.get("items") if isinstance(tracks, Mapping) else None
        if not isinstance(items, list):
            raise SpotifyError("Spotify sent a search answer Crate cannot read.")
        return [
            SpotifyTrack.from_api(item)
            for item in items
            if isinstance(item, Mapping) and item.get("id")
        ]

    async def _run(self, call: Callable[[], _T]) -> _T:
        return await asyncio.to_thread(self._call, call)

    def _call(self, call: Callable[[], _T]) -> _T:
        """Run one blocking spotipy call, renewing the token once if Spotify rejects it."""
        for attempt in (1, 2):
            with self._lock:
                self.requests_made += 1
            try:
                result = call()
            except spotipy.SpotifyException as error:
                if error.http_status == 401 and attempt == 1:
                    # The cached token expired early or was revoked: fetch a new one once.
                    self._auth.cache_handler.save_token_to_cache(None)
                    continue
                raise self._api_error(error) from None
            except _TokenRefused as error:
                raise self._token_error(error) from None
            except requests.Timeout:
                raise SpotifyUnavailable(
                    f"Spotify did not answer in time (timeout {self.requests_timeout:g} s)."
                ) from None
            except requests.ConnectionError:
                raise SpotifyUnavailable(f"Could not connect to Spotify at {self._host}.") from None
            except requests.RequestException as error:
                raise SpotifyUnavailable(
                    f"The request to Spotify failed ({type(error).__name__})."
                ) from None
            if result is None:
                # spotipy turns a body it cannot decode into None.
                raise SpotifyError("Spotify sent an empty or unreadable answer.")
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def _host(self) -> str:
        return urlsplit(self.api_url).netloc or self.api_url

    def _count_token_request(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.token_requests += 1

    def _api_error(self, error: spotipy.SpotifyException) -> SpotifyError:
        status = int(error.http_status or 0)
        message = _spotify_message(error.msg)
        if status == 429:
            headers = error.headers or {}
            retry_after = parse_retry_after(headers.get("Retry-After"))
            quota = error.reason == "QUOTA_EXCEEDED"
            if quota:
                text = "Spotify says this app's request quota is used up"
            else:
                text = "Spotify is rate-limiting Crate"
            wait = (
                "and did not say how long to wait"
                if retry_after is None
                else f"and asks to wait {retry_after:g} seconds"
            )
            return SpotifyRateLimited(f"{text} {wait}.", retry_after=retry_after, quota=quota)
        if status == 401:
            return SpotifyAuthError("Spotify rejected Crate's access token twice in a row.")
        if status == 403:
            return SpotifyForbidden(
                f"Spotify does not allow this app to use that endpoint (403 {message}); "
                "Development-Mode apps lose some endpoints."
            )
        if status == 404:
            return _NotFound(f"Spotify has no such item (404 {message}).")
        if status >= 500:
            return SpotifyUnavailable(f"Spotify kept failing with HTTP {status} ({message}).")
        return SpotifyError(f"Spotify refused the request: HTTP {status} ({message}).")

    def _token_error(self, error: _TokenRefused) -> SpotifyError:
        if error.status in (400, 401) and error.error in ("invalid_client", None):
            return SpotifyAuthError(
                "Spotify refused the client id/secret; check SPOTIFY_CLIENT_ID and "
                "SPOTIFY_CLIENT_SECRET."
            )
        if error.status == 429:
            retry_after = parse_retry_after(error.headers.get("Retry-After"))
            return SpotifyRateLimited(
                "Spotify is rate-limiting token requests.", retry_after=retry_after, quota=False
            )
        if error.status >= 500:
            return SpotifyUnavailable(
                f"Spotify's token endpoint kept failing with HTTP {error.status}."
            )
        return SpotifyAuthError(
            f"Spotify's token endpoint refused the request: HTTP {error.status} "
            f"({error.error or 'no reason given'})."
        )


class _NotFound(SpotifyError):
    """404 from the Web API; `track()` turns it into None."""


def _spotify_message(msg: object) -> str:
    """Spotify's own error text from a spotipy message ("<url>:\\n <message>")."""
    text = str(msg or "").rsplit(":\n", 1)[-1].strip()
    return text[:200] or "no message"
