"""The current user's playlists, as a Development-Mode app may reach them in 2026.

Only `POST /me/playlists` creates a playlist and only `/playlists/{id}/items` changes
its contents (`/users/{id}/playlists` and `/playlists/{id}/tracks` answer 403 to such
apps, so Crate never calls them). At most 100 URIs go in one request. A 401 refreshes
the login once and tries again; every other failure is raised as an error of
`services.spotify.errors` for the caller to wait out or report (nothing sleeps here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit

import httpx

from services.spotify.errors import (
    NotFound,
    SpotifyAuthError,
    SpotifyError,
    SpotifyForbidden,
    SpotifyUnavailable,
    status_error,
)

MAX_URIS: Final = 100
LIST_LIMIT: Final = 50


class TokenSource(Protocol):
    """Where access tokens come from (services.spotify_account.AccountTokens)."""

    async def access_token(self) -> str:
        """A fresh access token."""
        ...

    async def renew_after_401(self, used: str) -> str:
        """A new token after Spotify refused `used`."""
        ...


@dataclass(frozen=True, slots=True)
class Playlist:
    """The fields Crate reads from a playlist object."""

    id: str
    name: str
    owner_id: str
    url: str
    description: str = ""

    @classmethod
    def from_api(cls, obj: Mapping[str, Any]) -> Playlist:
        """From a Web API playlist object; SpotifyError when it has no id."""
        playlist_id = obj.get("id")
        if not isinstance(playlist_id, str) or not playlist_id:
            raise SpotifyError("Spotify sent a playlist Crate cannot read.")
        owner = obj.get("owner")
        links = obj.get("external_urls")
        url = links.get("spotify") if isinstance(links, Mapping) else None
        return cls(
            id=playlist_id,
            name=str(obj.get("name") or ""),
            owner_id=str(owner.get("id") or "") if isinstance(owner, Mapping) else "",
            url=str(url or f"https://open.spotify.com/playlist/{playlist_id}"),
            description=str(obj.get("description") or ""),
        )


class SpotifyPlaylists:
    """Create, read and fill the current user's playlists; `requests_made` counts calls."""

    def __init__(self, *, api_url: str, tokens: TokenSource, http: httpx.AsyncClient) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self._tokens = tokens
        self._http = http
        self.requests_made = 0

    async def create(self, name: str, description: str) -> Playlist:
        """`POST /me/playlists`: a new private playlist."""
        body = {"name": name, "public": False, "collaborative": False, "description": description}
        return Playlist.from_api(await self._send("POST", "me/playlists", body))

    async def get(self, playlist_id: str) -> Playlist | None:
        """`GET /playlists/{id}` (its details only); None when it is gone (404)."""
        try:
            found = await self._send(
                "GET",
                f"playlists/{_id(playlist_id)}",
                params={"fields": "id,name,description,owner(id),external_urls"},
            )
        except NotFound:
            return None
        return Playlist.from_api(found)

    async def mine(self) -> list[Playlist]:
        """The first page of the user's playlists (`GET /me/playlists`, newest first)."""
        found = await self._send("GET", "me/playlists", params={"limit": str(LIST_LIMIT)})
        items = found.get("items")
        if not isinstance(items, list):
            raise SpotifyError("Spotify sent a playlist list Crate cannot read.")
        return [Playlist.from_api(i) for i in items if isinstance(i, Mapping) and i.get("id")]

    async def rename(self, playlist_id: str, name: str) -> None:
        """`PUT /playlists/{id}`: a new name."""
        await self._send("PUT", f"playlists/{_id(playlist_id)}", {"name": name})

    async def replace_items(self, playlist_id: str, uris: list[str]) -> None:
        """`PUT /playlists/{id}/items`: the playlist becomes these (at most 100) URIs."""
        _check_batch(uris)
        await self._send("PUT", f"playlists/{_id(playlist_id)}/items", {"uris": uris})

    async def add_items(self, playlist_id: str, uris: list[str], position: int) -> None:
        """`POST /playlists/{id}/items`: insert (at most 100) URIs at `position`."""
        _check_batch(uris)
        body = {"uris": uris, "position": position}
        await self._send("POST", f"playlists/{_id(playlist_id)}/items", body)

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
    ) -> Mapping[str, Any]:
        url = self.api_url + path
        token = await self._tokens.access_token()
        for attempt in (1, 2):
            self.requests_made += 1
            try:
                response = await self._http.request(
                    method,
                    url,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TimeoutException:
                raise SpotifyUnavailable("Spotify did not answer in time.") from None
            except httpx.TransportError:
                raise SpotifyUnavailable(f"Could not connect to Spotify at {_host(url)}.") from None
            if response.status_code == 401 and attempt == 1:
                token = await self._tokens.renew_after_401(token)
                continue
            if response.status_code >= 400:
                raise _error(response)
            return _body(response)
        raise AssertionError("unreachable")  # pragma: no cover


def _check_batch(uris: list[str]) -> None:
    if len(uris) > MAX_URIS:
        raise ValueError(f"at most {MAX_URIS} URIs a request, not {len(uris)}")


def _id(playlist_id: str) -> str:
    return quote(playlist_id, safe="")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _body(response: httpx.Response) -> Mapping[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise SpotifyError("Spotify sent an answer Crate cannot read.") from None
    return body if isinstance(body, Mapping) else {}


def _error(response: httpx.Response) -> SpotifyError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, Mapping) else None
    message = str(error.get("message") or "no message")[:200] if isinstance(error, Mapping) else ""
    reason = error.get("reason") if isinstance(error, Mapping) else None
    if status == 401:
        return SpotifyAuthError(
            "Spotify refused Crate's login even after refreshing it: connect Spotify again."
        )
    if status == 403:
        return SpotifyForbidden(f"Spotify refused: {message or 'forbidden'} (403).")
    return status_error(
        status,
        message or "no message",
        response.headers.get("Retry-After"),
        quota=reason == "QUOTA_EXCEEDED",
    )
