"""Web mode: a Target's public Beatport page, fetched as a browser would and read for tracks.

The page's address comes from `Target.web_path` and the configured BEATPORT_WEB_URL;
reading the page is `services.beatport.pages`, naming it `services.beatport.names`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from services.beatport.names import page_name, tracks_name
from services.beatport.pages import extract_next_data, find_tracks
from services.beatport.targets import SINGLE_PAGE_KINDS, Target
from services.beatport.tracks import ParseError, TrackList, decode_json
from services.beatport.wire import BeatportError, Wire

BROWSER_USER_AGENT: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
WEB_PER_PAGE: Final = 100
# Beatport's public pages list a genre's Top 100 and Hype 100, not its releases by date:
# only the v4 API can (services.beatport.api_mode), so web mode refuses before any request.
NO_GENRE_DATES_IN_WEB_MODE: Final = (
    "Beatport's public pages cannot list a genre's releases between two dates, and Crate "
    "reads the public pages now (web mode). Use API mode for this: set BEATPORT_TOKEN (or "
    "BEATPORT_USERNAME and BEATPORT_PASSWORD) and BEATPORT_MODE=api, then restart Crate. "
    "Or paste the genre's Top 100 link instead."
)


def web_params(target: Target, page: int, per_page: int | None = None) -> dict[str, str]:
    """The query string asking for page `page` of `target` (`per_page`: the site's default)."""
    if target.kind in SINGLE_PAGE_KINDS:
        return {}
    return {"page": str(page), "per_page": str(per_page or WEB_PER_PAGE)}


class WebMode:
    """Fetch one page of a Target from Beatport's public site."""

    def __init__(self, wire: Wire, *, web_url: str, per_page: int | None) -> None:
        self._wire = wire
        self._web_url = web_url
        self._per_page = per_page

    async def fetch(self, target: Target, page: int) -> TrackList:
        """Page `page` (from 1) of `target`; raises BeatportError with a reason in words."""
        what = target.short()
        if target.kind == "genre_dates":
            raise self._wire.error(BeatportError, NO_GENRE_DATES_IN_WEB_MODE)
        asked = web_params(target, page, self._per_page)
        response = await self._wire.send(
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
        self._wire.raise_for_status(response, what)
        try:
            if "json" in response.headers.get("content-type", ""):
                data = decode_json(response.content)  # the /_next/data/… variant
                if not isinstance(data, dict):
                    raise ParseError("the JSON answer is not an object")
            else:
                data = extract_next_data(response.text)
            listing = find_tracks(data, target=target, asked=asked)
        except (ParseError, ValueError, RecursionError) as exc:
            raise self._wire.error(
                BeatportError,
                f"Beatport's page for {what} did not contain the track data Crate reads "
                f"({exc}); the site may have changed.",
            ) from None
        # The page's own object names the list; its tracks name it too, as a fallback.
        name = page_name(data, target) or tracks_name(target, listing.tracks)
        return replace(listing, name=name)
