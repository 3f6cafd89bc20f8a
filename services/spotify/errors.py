"""Crate's Spotify errors, and spotipy's (or an HTTP answer's) failures turned into them.

A 429 becomes `SpotifyRateLimited` (with Spotify's `Retry-After` and whether the app's
quota is used up), refused credentials `SpotifyAuthError` (a user's login Spotify no
longer accepts: `LoginRevoked`), a forbidden endpoint `SpotifyForbidden`, 5xx and
network trouble `SpotifyUnavailable`. Every message is in words and holds no token.
"""

from __future__ import annotations

from collections.abc import Mapping

import spotipy

from services.retry import parse_retry_after


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


class LoginRevoked(SpotifyAuthError):
    """Spotify no longer accepts the user's login (revoked, or its refresh token is spent)."""


class SpotifyForbidden(SpotifyError):
    """Spotify answered 403: this app may not use the endpoint (Development Mode)."""


class SpotifyUnavailable(SpotifyError):
    """Spotify failed with 5xx after retries, timed out, or could not be reached."""


class SpotifyNotConfigured(SpotifyError):
    """No Spotify client id/secret is configured."""


class NotFound(SpotifyError):
    """404 from the Web API; `SpotifyCatalog.track()` turns it into None."""


class TokenRefused(Exception):
    """The token endpoint answered with an HTTP error (status and Spotify's error code)."""

    def __init__(self, status: int, error: str | None, headers: Mapping[str, str]) -> None:
        super().__init__(f"token endpoint answered {status} ({error or 'no error code'})")
        self.status = status
        self.error = error
        self.headers = headers


def api_error(error: spotipy.SpotifyException) -> SpotifyError:
    """The Crate error for a Web API call spotipy reports as failed."""
    status = int(error.http_status or 0)
    message = _spotify_message(error.msg)
    if status == 401:
        return SpotifyAuthError("Spotify rejected Crate's access token twice in a row.")
    headers = error.headers or {}
    return status_error(
        status, message, headers.get("Retry-After"), quota=error.reason == "QUOTA_EXCEEDED"
    )


def status_error(
    status: int, message: str, retry_after_header: str | None, *, quota: bool = False
) -> SpotifyError:
    """The Crate error for a Web API answer with this HTTP status and Spotify's message."""
    if status == 429:
        retry_after = parse_retry_after(retry_after_header)
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
        return SpotifyAuthError(f"Spotify refused Crate's access token (401 {message}).")
    if status == 403:
        return SpotifyForbidden(
            f"Spotify does not allow this app to use that endpoint (403 {message}); "
            "Development-Mode apps lose some endpoints."
        )
    if status == 404:
        return NotFound(f"Spotify has no such item (404 {message}).")
    if status >= 500:
        return SpotifyUnavailable(f"Spotify kept failing with HTTP {status} ({message}).")
    return SpotifyError(f"Spotify refused the request: HTTP {status} ({message}).")


def token_error(error: TokenRefused) -> SpotifyError:
    """The Crate error for a token request Spotify refused."""
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


def _spotify_message(msg: object) -> str:
    """Spotify's own error text from a spotipy message ("<url>:\\n <message>")."""
    text = str(msg or "").rsplit(":\n", 1)[-1].strip()
    return text[:200] or "no message"
