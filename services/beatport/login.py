"""The v4 API's access token: the configured one, or one Crate gets by logging in.

With BEATPORT_USERNAME and BEATPORT_PASSWORD, Crate follows Beatport's own login flow
(session cookie, authorization code, then tokens) and refreshes the token before it
expires; with BEATPORT_TOKEN alone it sends that until Beatport refuses it.
"""

from __future__ import annotations

import asyncio
import math
from typing import Final
from urllib.parse import parse_qs, urlsplit

import httpx

from services.beatport.wire import REDIRECT_STATUSES, BeatportAuthError, Clock, Wire

# The public client id of Beatport's own API documentation app, which community v4
# clients use for the login flow. A setting can take over if Beatport ever rotates it.
DEFAULT_CLIENT_ID: Final = "0GIvkCltVIuPkkwSJHp6NDb3s0potTjLBQr388Dd"
API_USER_AGENT: Final = "Crate/0.1 (self-hosted Beatport collector)"
# Renew a login token this many seconds before Beatport says it expires.
TOKEN_MARGIN: Final = 60.0


class Tokens:
    """The access token to send to the v4 API, logging in or refreshing when needed."""

    def __init__(
        self,
        wire: Wire,
        *,
        api_url: str,
        username: str | None,
        password: str | None,
        client_id: str,
        clock: Clock,
        access_token: str | None,
    ) -> None:
        self._wire = wire
        self._api_url = api_url
        self._username = username
        self._password = password
        self._client_id = client_id
        self._clock = clock
        self._auth = asyncio.Lock()
        self._access_token = access_token
        self._refresh_token: str | None = None
        self._expires_at: float | None = None

    def secrets(self) -> list[str]:
        """The tokens held now, which no message may show."""
        return [value for value in (self._access_token, self._refresh_token) if value]

    async def current(self) -> str:
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

    async def renew_after_401(self, used: str) -> str:
        """After a 401: refresh (or log in again) once; another caller may already have."""
        async with self._auth:
            if self._access_token and self._access_token != used:
                return self._access_token
            return await self._new_token(
                "Beatport's API refused BEATPORT_TOKEN (401): it has probably expired. Paste a "
                "fresh token, or set BEATPORT_USERNAME and BEATPORT_PASSWORD so Crate can log in."
            )

    def _has_login(self) -> bool:
        return bool(self._username and self._password)

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
        raise self._wire.error(BeatportAuthError, without_credentials)

    async def _login(self) -> str:
        """The v4 login flow: session cookie, authorization code, then tokens."""
        redirect_uri = f"{self._api_url}/auth/o/post-message/"
        login = await self._wire.send(
            "POST",
            f"{self._api_url}/auth/login/",
            json_body={"username": self._username, "password": self._password},
            headers={"Accept": "application/json", "User-Agent": API_USER_AGENT},
            what="the Beatport login",
        )
        if login.status_code != 200:
            raise self._wire.error(
                BeatportAuthError,
                "Beatport did not accept BEATPORT_USERNAME and BEATPORT_PASSWORD "
                f"(the login answered {login.status_code}).",
            )
        cookie = "; ".join(f"{name}={value}" for name, value in login.cookies.items())
        authorize = await self._wire.send(
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
            raise self._wire.error(
                BeatportAuthError,
                "Beatport's login worked but it gave no authorization code "
                f"(the authorize step answered {authorize.status_code}).",
            )
        token = await self._wire.send(
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
        response = await self._wire.send(
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
            raise self._wire.error(
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
            raise self._wire.error(
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
