"""`SpotifyCatalog`: the Spotify Web API calls Crate makes, within Development Mode's limits.

Search by ISRC or by title and artist (at most 10 results), one track by id (never the
batch endpoint), audio features. Each call runs through `services.spotify.session`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import spotipy

from services.settings import Settings
from services.spotify.errors import NotFound, SpotifyError, SpotifyNotConfigured
from services.spotify.session import SpotipySession
from services.spotify.tracks import SpotifyTrack

SEARCH_LIMIT_MAX = 10  # Development-Mode apps get 400 "Invalid limit" above this.
AUDIO_FEATURES_BATCH = 100
_BASE62_ID = re.compile(r"^[0-9A-Za-z]{22}$")


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
        self._session = SpotipySession(
            client_id=client_id,
            client_secret=client_secret,
            api_url=self.api_url,
            token_url=token_url,
            requests_timeout=requests_timeout,
            retries=retries,
            backoff_factor=backoff_factor,
        )

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

    @property
    def requests_made(self) -> int:
        """Web API calls made so far (see the class docstring for what counts)."""
        return self._session.requests_made

    @property
    def token_requests(self) -> int:
        """Token fetches made so far."""
        return self._session.token_requests

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._session.close()

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
            # spotipy's private `_get` (see tests/test_overrides.py): one GET under its prefix.
            obj = await self._session.run(lambda spotify: spotify._get(f"tracks/{spotify_id}"))
        except NotFound:
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
            body = await self._session.run(partial(_get_audio_features, ids=batch))
            items = body.get("audio_features") if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise SpotifyError("Spotify sent an audio-features answer Crate cannot read.")
            for item in items:
                if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                    features[item["id"]] = dict(item)
        return features

    async def _search(self, query: str, limit: int) -> list[SpotifyTrack]:
        limit = max(1, min(limit, SEARCH_LIMIT_MAX))
        body = await self._session.run(
            lambda spotify: spotify.search(q=query, type="track", limit=limit, offset=0)
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


def _get_audio_features(spotify: spotipy.Spotify, *, ids: str) -> Any:
    """GET audio-features for comma-separated `ids` with spotipy's private `_get`."""
    return spotify._get("audio-features", ids=ids)
