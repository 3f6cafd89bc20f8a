"""Fetching from Beatport, politely: public pages (web mode) or the v4 catalog API (API mode).

`BeatportClient` is what jobs use: one page of a `Target` at a time, in the mode the
settings choose. Every URL is built from a `Target` and the configured base URLs;
nothing a user typed is ever fetched.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import replace
from types import TracebackType
from typing import Literal

import httpx

from services.beatport.api_mode import ApiMode
from services.beatport.login import DEFAULT_CLIENT_ID, Tokens
from services.beatport.targets import SINGLE_PAGE_KINDS, Target
from services.beatport.tracks import TrackList
from services.beatport.web_mode import WebMode
from services.beatport.wire import Clock, SharedTransport, Sleep, Wire, open_http
from services.settings import Settings


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
        api_url = settings.beatport_api_url.rstrip("/")
        self._settings_secrets = settings.secrets()
        self._owns_http = http is None
        self._http = http or open_http(timeout, transport)
        self._wire = Wire(
            self._http,
            mode=self.mode,
            min_interval=settings.beatport_min_interval,
            backoff_base=backoff_base,
            rng=rng or random.Random(),
            sleep=sleep,
            clock=clock,
            secrets=self._secrets,
        )
        self._tokens = Tokens(
            self._wire,
            api_url=api_url,
            username=settings.beatport_username,
            password=settings.beatport_password,
            client_id=client_id,
            clock=clock,
            access_token=settings.beatport_token,
        )
        self._source: WebMode | ApiMode
        if self.mode == "web":
            web_url = settings.beatport_web_url.rstrip("/")
            self._source = WebMode(self._wire, web_url=web_url, per_page=per_page)
        else:
            self._source = ApiMode(self._wire, self._tokens, api_url=api_url, per_page=per_page)

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, every retry and redirect counted."""
        return self._wire.requests_sent

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
        result = await self._source.fetch(target, page)
        if target.kind in SINGLE_PAGE_KINDS:
            result = replace(result, has_next=False)
        return result

    def _secrets(self) -> list[str]:
        """Every value an error message must not show: settings and the tokens held now."""
        return [*self._settings_secrets, *self._tokens.secrets()]
