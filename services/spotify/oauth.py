"""A user's Spotify login: the authorization code flow with PKCE, and refreshing its tokens.

Crate asks only for `playlist-modify-private playlist-modify-public`. With PKCE (S256)
no client secret is sent: the verifier, kept server-side between the redirect and the
callback, proves that the code comes back to the Crate that asked for it. A refresh
answer may carry a new refresh token, which replaces the old one (PKCE refresh tokens
are single-use); one Spotify no longer accepts raises `LoginRevoked`.

Tokens never appear in a message, a repr or a log line: errors say what happened in
words (Spotify's error code at most).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx

from services.retry import parse_retry_after
from services.settings import Settings
from services.spotify.errors import (
    LoginRevoked,
    SpotifyAuthError,
    SpotifyError,
    SpotifyNotConfigured,
    SpotifyRateLimited,
    SpotifyUnavailable,
)

SCOPES: Final = "playlist-modify-private playlist-modify-public"
TIMEOUT: Final = 15.0
# Renew an access token this long before Spotify says it expires.
EXPIRY_MARGIN: Final = 60.0
NOT_CONFIGURED: Final = (
    "Spotify is not configured: set SPOTIFY_CLIENT_ID (the Spotify app's client id) and "
    "register SPOTIFY_REDIRECT_URI in that app, then restart Crate."
)
REVOKED: Final = "Spotify no longer accepts Crate's login: connect again."


def s256(verifier: str) -> str:
    """The PKCE S256 challenge: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """A login Crate starts: where to send the browser, and what the callback checks."""

    url: str
    state: str = field(repr=False)
    verifier: str = field(repr=False)


def start_login(settings: Settings) -> LoginRequest:
    """A fresh state and PKCE verifier, and the authorize URL carrying their challenge."""
    if not settings.spotify_client_id:
        raise SpotifyNotConfigured(NOT_CONFIGURED)
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: 43..128 allowed
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.spotify_client_id,
            "redirect_uri": settings.spotify_redirect_uri,
            "code_challenge_method": "S256",
            "code_challenge": s256(verifier),
            "state": state,
            "scope": SCOPES,
        }
    )
    separator = "&" if "?" in settings.spotify_auth_url else "?"
    return LoginRequest(f"{settings.spotify_auth_url}{separator}{query}", state, verifier)


@dataclass(frozen=True, slots=True)
class Tokens:
    """What the token endpoint gave: the tokens, when the access token expires (Unix
    seconds), the scopes granted."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    scope: str

    @property
    def fresh(self) -> bool:
        """True while the access token has more than EXPIRY_MARGIN left."""
        return time.time() < self.expires_at - EXPIRY_MARGIN


@dataclass(frozen=True, slots=True)
class Profile:
    """Who logged in."""

    id: str
    display_name: str


def open_http() -> httpx.AsyncClient:
    """The HTTP client for Spotify's login and playlist endpoints (no redirects followed)."""
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)


async def exchange_code(
    http: httpx.AsyncClient, settings: Settings, code: str, verifier: str
) -> Tokens:
    """Trade the callback's code (and the verifier) for tokens."""
    body = await _token_call(
        http,
        settings,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.spotify_redirect_uri,
            "code_verifier": verifier,
        },
        refreshing=False,
    )
    return _tokens(body, previous_refresh=None)


async def refresh(http: httpx.AsyncClient, settings: Settings, refresh_token: str) -> Tokens:
    """New tokens for a refresh token (the answer's new refresh token when it carries one)."""
    body = await _token_call(
        http,
        settings,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        refreshing=True,
    )
    return _tokens(body, previous_refresh=refresh_token)


async def read_profile(http: httpx.AsyncClient, settings: Settings, access_token: str) -> Profile:
    """`GET /me`: the account's id and display name."""
    url = settings.spotify_api_url + "me"
    try:
        response = await http.get(url, headers={"Authorization": f"Bearer {access_token}"})
    except httpx.TimeoutException:
        raise SpotifyUnavailable("Spotify did not answer in time.") from None
    except httpx.TransportError:
        raise SpotifyUnavailable(f"Could not connect to Spotify at {_host(url)}.") from None
    if response.status_code >= 400:
        message = _web_api_message(response)
        if response.status_code == 429:
            raise _rate_limited(response)
        if response.status_code >= 500:
            raise SpotifyUnavailable(f"Spotify answered HTTP {response.status_code}.")
        raise SpotifyAuthError(
            f"Spotify would not say who logged in (HTTP {response.status_code}: {message})."
        )
    body = _json(response)
    user_id = body.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise SpotifyError("Spotify sent a profile Crate cannot read.")
    name = body.get("display_name")
    return Profile(user_id, name if isinstance(name, str) and name else user_id)


async def _token_call(
    http: httpx.AsyncClient, settings: Settings, form: dict[str, str], *, refreshing: bool
) -> Mapping[str, Any]:
    if not settings.spotify_client_id:
        raise SpotifyNotConfigured(NOT_CONFIGURED)
    url = settings.spotify_token_url
    try:
        response = await http.post(
            url,
            data={**form, "client_id": settings.spotify_client_id},
            headers={"Accept": "application/json"},
        )
    except httpx.TimeoutException:
        raise SpotifyUnavailable("Spotify's login service did not answer in time.") from None
    except httpx.TransportError:
        raise SpotifyUnavailable(
            f"Could not connect to Spotify's login service at {_host(url)}."
        ) from None
    status = response.status_code
    if status < 400:
        return _json(response)
    if status == 429:
        raise _rate_limited(response)
    if status >= 500:
        raise SpotifyUnavailable(f"Spotify's login service answered HTTP {status}.")
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, Mapping) else None
    description = body.get("error_description") if isinstance(body, Mapping) else None
    if error == "invalid_client":
        raise SpotifyAuthError(
            "Spotify does not know this app: check SPOTIFY_CLIENT_ID (and that the app "
            "still exists in Spotify's developer dashboard)."
        )
    if refreshing and error == "invalid_grant":
        raise LoginRevoked(REVOKED)
    said = f"{error}: {description}" if isinstance(description, str) else str(error or status)
    raise SpotifyAuthError(f"Spotify refused the login ({said[:200]}).")


def _tokens(body: Mapping[str, Any], *, previous_refresh: str | None) -> Tokens:
    access = body.get("access_token")
    new_refresh = body.get("refresh_token")
    refresh_token = new_refresh if isinstance(new_refresh, str) and new_refresh else None
    refresh_token = refresh_token or previous_refresh
    expires_in = body.get("expires_in")
    if not isinstance(access, str) or not access or not refresh_token:
        raise SpotifyError("Spotify's login service sent an answer Crate cannot read.")
    seconds = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
    scope = body.get("scope")
    return Tokens(access, refresh_token, time.time() + seconds, str(scope or ""))


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        raise SpotifyError("Spotify sent an answer Crate cannot read.")
    return body


def _web_api_message(response: httpx.Response) -> str:
    """Spotify's own words from a Web API error body ({"error": {"message": …}})."""
    try:
        body = response.json()
    except ValueError:
        return "no message"
    error = body.get("error") if isinstance(body, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    return str(message)[:200] if message else "no message"


def _rate_limited(response: httpx.Response) -> SpotifyRateLimited:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    wait = "" if retry_after is None else f" and asks to wait {retry_after:g} seconds"
    return SpotifyRateLimited(
        f"Spotify is rate-limiting Crate{wait}.", retry_after=retry_after, quota=False
    )


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
