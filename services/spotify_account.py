"""The Spotify account Crate writes playlists for: one `spotify_login` row, tokens encrypted.

Both tokens are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256) under a key derived
from CRATE_SECRET_KEY with HKDF-SHA256, so a copy of the database alone gives no access
to the Spotify account. `AccountTokens` hands out a fresh access token, refreshing an
expired one and keeping the new refresh token Spotify's answer carries. A login Spotify
no longer accepts is kept without its tokens (the pages then offer to connect again);
disconnecting deletes the row.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.settings import Settings
from services.spotify import oauth
from services.spotify.errors import LoginRevoked, SpotifyAuthError
from services.tables import SpotifyLogin

NOT_CONNECTED: Final = "Spotify is not connected: connect it first (Connect Spotify)."
UNREADABLE: Final = (
    "Crate cannot read its Spotify login (CRATE_SECRET_KEY changed since it was made): "
    "connect again."
)
_HKDF_SALT: Final = b"crate spotify login"
_HKDF_INFO: Final = b"tokens at rest, v1"


class NotConnected(SpotifyAuthError):
    """No Spotify account is connected (or it must be connected again)."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    """The token cipher for this secret key."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8", "surrogatepass")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _key(settings: Settings) -> str:
    # A worker started without CRATE_SECRET_KEY reads the key kept in the data directory,
    # as the web process does.
    return settings.with_secret_key().secret_key


def seal(settings: Settings, token: str) -> str:
    """A token encrypted for storage."""
    return _fernet(_key(settings)).encrypt(token.encode()).decode("ascii")


def unseal(settings: Settings, stored: str) -> str:
    """A stored token decrypted; NotConnected when it cannot be (another secret key)."""
    try:
        return _fernet(_key(settings)).decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        raise NotConnected(UNREADABLE) from None


@dataclass(frozen=True, slots=True)
class Connection:
    """The connected account as pages show it (never a token)."""

    user_id: str
    display_name: str
    usable: bool  # False: Spotify refused the login since; connect again


async def connection() -> Connection | None:
    """The connected account, or None."""
    row = await _row()
    if row is None:
        return None
    return Connection(
        row["spotify_user_id"], row["display_name"] or row["spotify_user_id"], _usable(row)
    )


async def save_login(settings: Settings, tokens: oauth.Tokens, profile: oauth.Profile) -> None:
    """Keep a new login (the only one: an earlier one is replaced)."""
    values: dict[Any, Any] = {
        SpotifyLogin.spotify_user_id: profile.id,
        SpotifyLogin.display_name: profile.display_name[:400],
        SpotifyLogin.access_token: seal(settings, tokens.access_token),
        SpotifyLogin.refresh_token: seal(settings, tokens.refresh_token),
        SpotifyLogin.expires_at: tokens.expires_at,
        SpotifyLogin.scope: tokens.scope,
        SpotifyLogin.updated_at: _now(),
    }
    existing = await SpotifyLogin.select(SpotifyLogin._meta.primary_key).order_by(
        SpotifyLogin._meta.primary_key
    )
    if existing:
        first = existing[0]["id"]
        await SpotifyLogin.update(values).where(SpotifyLogin._meta.primary_key == first)
        await SpotifyLogin.delete().where(SpotifyLogin._meta.primary_key != first)
    else:
        await SpotifyLogin.insert(SpotifyLogin(values))


async def forget() -> bool:
    """Disconnect: delete the login and its tokens. False when none was connected."""
    deleted = (
        await SpotifyLogin.delete()
        .where(SpotifyLogin._meta.primary_key > 0)
        .returning(SpotifyLogin._meta.primary_key)
    )
    return bool(deleted)


class AccountTokens:
    """The connected account's access token, refreshed when it expired (or Spotify said so).

    Several jobs may refresh at once (in one process or several): a refresh writes only
    over the row it read, and a refresh Spotify refuses because another run already
    spent the refresh token takes that run's new tokens instead of failing.
    """

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._lock = asyncio.Lock()
        self.refreshes = 0

    async def user_id(self) -> str:
        """The connected account's Spotify id."""
        row = await self._usable_row()
        return str(row["spotify_user_id"])

    async def access_token(self) -> str:
        """A token to send: the stored one while fresh, else a refreshed one."""
        async with self._lock:
            row = await self._usable_row()
            if float(row["expires_at"]) - oauth.EXPIRY_MARGIN > time.time():
                return unseal(self._settings, row["access_token"])
            return await self._refresh(row)

    async def renew_after_401(self, used: str) -> str:
        """Spotify refused `used`: refresh once (unless another caller just did)."""
        async with self._lock:
            row = await self._usable_row()
            current = unseal(self._settings, row["access_token"])
            if current != used:
                return current
            return await self._refresh(row)

    async def _usable_row(self) -> dict[str, Any]:
        row = await _row()
        if row is None:
            raise NotConnected(NOT_CONNECTED)
        if not _usable(row):
            raise LoginRevoked(oauth.REVOKED)
        return row

    async def _refresh(self, row: dict[str, Any]) -> str:
        refresh_token = unseal(self._settings, row["refresh_token"])
        try:
            tokens = await oauth.refresh(self._http, self._settings, refresh_token)
        except LoginRevoked:
            again = await _row()
            taken_over = again is not None and again["refresh_token"] != row["refresh_token"]
            if again is not None and taken_over and _usable(again):
                # Another run refreshed first (spending the token this run held): use its.
                return unseal(self._settings, again["access_token"])
            await SpotifyLogin.update(
                {SpotifyLogin.access_token: "", SpotifyLogin.refresh_token: ""}
            ).where(
                (SpotifyLogin._meta.primary_key == row["id"])
                & (SpotifyLogin.refresh_token == row["refresh_token"])
            )
            raise
        self.refreshes += 1
        await SpotifyLogin.update(
            {
                SpotifyLogin.access_token: seal(self._settings, tokens.access_token),
                SpotifyLogin.refresh_token: seal(self._settings, tokens.refresh_token),
                SpotifyLogin.expires_at: tokens.expires_at,
                SpotifyLogin.scope: tokens.scope or row["scope"],
                SpotifyLogin.updated_at: _now(),
            }
        ).where(
            (SpotifyLogin._meta.primary_key == row["id"])
            & (SpotifyLogin.refresh_token == row["refresh_token"])
        )
        return tokens.access_token


async def _row() -> dict[str, Any] | None:
    row = await SpotifyLogin.select().order_by(SpotifyLogin._meta.primary_key).first()
    return row


def _usable(row: dict[str, Any]) -> bool:
    return bool(row["refresh_token"])


def _now() -> datetime:
    return datetime.now(UTC)
