"""spotipy set up for Crate, each blocking call run in a worker thread.

Crate gives spotipy its own `requests` sessions (retrying 5xx and connection errors,
never sleeping on a 429), keeps the token in memory, keeps the token endpoint's HTTP
status when it refuses (spotipy's private `SpotifyAuthBase._handle_oauth_error`,
overridden here; see tests/test_overrides.py), renews a rejected token once, and turns
every failure into an error of `services.spotify.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import spotipy
import urllib3
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials

from services.spotify.errors import (
    SpotifyError,
    SpotifyUnavailable,
    TokenRefused,
    api_error,
    token_error,
)

_T = TypeVar("_T")

# spotipy logs every HTTP error at ERROR, including the 429s and 404s Crate handles itself;
# Crate reports those in words, so spotipy's own lines would only be noise in the logs.
logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)
# At DEBUG, spotipy.oauth2 logs the token request's headers: Basic base64(id:secret).
logging.getLogger("spotipy.oauth2").setLevel(logging.INFO)


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
        raise TokenRefused(status, error, headers) from None


class SpotipySession:
    """One client-credentials spotipy client; `run` makes one call with it off the event loop.

    `requests_made` counts Web API calls (a 5xx retried inside urllib3 counts once, a
    call repeated after renewing an expired token twice); `token_requests` counts
    token fetches.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_url: str,
        token_url: str,
        requests_timeout: float,
        retries: int,
        backoff_factor: float,
    ) -> None:
        self.api_url = api_url
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
        self._spotify.prefix = api_url

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._session.close()
        self._token_session.close()

    async def run(self, call: Callable[[spotipy.Spotify], _T]) -> _T:
        """`call(spotify)` in a worker thread; its failures raised as SpotifyErrors."""
        return await asyncio.to_thread(self._call, call)

    def _call(self, call: Callable[[spotipy.Spotify], _T]) -> _T:
        """Run one blocking spotipy call, renewing the token once if Spotify rejects it."""
        for attempt in (1, 2):
            with self._lock:
                self.requests_made += 1
            try:
                result = call(self._spotify)
            except spotipy.SpotifyException as error:
                if error.http_status == 401 and attempt == 1:
                    # The cached token expired early or was revoked: fetch a new one once.
                    self._auth.cache_handler.save_token_to_cache(None)
                    continue
                raise api_error(error) from None
            except TokenRefused as error:
                raise token_error(error) from None
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
