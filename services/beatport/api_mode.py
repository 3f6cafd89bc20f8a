"""API mode: a Target's tracks from Beatport's v4 catalog API, with a bearer token.

Each Target kind maps to one catalog route under BEATPORT_API_URL; the token comes from
`services.beatport.login`, and a 401 renews it once. The answer is read by
`services.beatport.tracks.parse_api_list`. A list is named from its tracks, or (a chart,
whose tracks never name it) from its own catalog object, asked for once, with page 1.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from services.beatport.login import API_USER_AGENT, Tokens
from services.beatport.names import ENTITIES, object_name, tracks_name
from services.beatport.targets import Target
from services.beatport.tracks import (
    ParseError,
    TrackList,
    decode_json,
    parse_api_list,
)
from services.beatport.wire import BeatportAuthError, BeatportError, Wire

API_MAX_PER_PAGE: Final = 100


def api_route(target: Target, page: int, per_page: int | None = None) -> tuple[str, dict[str, str]]:
    """The catalog path (under the API's base URL) and query for page `page` of `target`."""
    beatport_id = target.beatport_id
    paged = {"page": str(page), "per_page": str(min(per_page or 100, API_MAX_PER_PAGE))}
    match target.kind:
        case "track":
            return f"/catalog/tracks/{beatport_id}/", {}
        case "release" | "chart" | "label" | "artist":
            return f"/catalog/{target.kind}s/{beatport_id}/tracks/", paged
        case "genre_top100" | "genre_hype100":
            hype = "true" if target.kind == "genre_hype100" else "false"
            return f"/catalog/genres/{beatport_id}/top/100/", {
                "page": "1",
                "per_page": "100",
                "hype": hype,
            }
        case "top100":
            return "/catalog/tracks/top/100/", {"page": "1", "per_page": "100"}
        case _:  # genre_dates
            return "/catalog/tracks/", {
                "genre_id": str(beatport_id),
                "publish_date": f"{target.date_from}:{target.date_to}",
                "order_by": "-publish_date",
                **paged,
            }


def api_headers(token: str) -> dict[str, str]:
    """The headers of a catalog request sent with `token`."""
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": API_USER_AGENT,
    }


class ApiMode:
    """Fetch one page of a Target from the v4 catalog API."""

    def __init__(self, wire: Wire, tokens: Tokens, *, api_url: str, per_page: int | None) -> None:
        self._wire = wire
        self._tokens = tokens
        self._api_url = api_url
        self._per_page = per_page

    async def fetch(self, target: Target, page: int) -> TrackList:
        """Page `page` (from 1) of `target`; raises BeatportError with a reason in words."""
        what = target.short()
        path, params = api_route(target, page, self._per_page)
        url = self._api_url + path
        token = await self._tokens.current()
        response = await self._wire.send(
            "GET", url, params=params, headers=api_headers(token), what=what
        )
        if response.status_code == 401:
            token = await self._tokens.renew_after_401(token)
            response = await self._wire.send(
                "GET", url, params=params, headers=api_headers(token), what=what
            )
            if response.status_code == 401:
                raise self._wire.error(
                    BeatportAuthError,
                    f"Beatport's API refused the access token for {what} even after renewing it "
                    "(401); check BEATPORT_TOKEN or BEATPORT_USERNAME/BEATPORT_PASSWORD.",
                )
        status = response.status_code
        if status == 403 and target.kind == "track":
            # One restricted or withdrawn track: skip it, the job goes on.
            return TrackList([], skipped=1, total_count=1, page=1, total_pages=1)
        if status == 404 and page > 1:
            return TrackList([], page=page, has_next=False)  # past the last page
        self._wire.raise_for_status(response, what)
        try:
            payload = decode_json(response.content)
            listing = parse_api_list(payload, use_track_number=target.kind == "release")
        except (ParseError, ValueError, RecursionError) as exc:
            raise self._wire.error(
                BeatportError,
                f"Beatport's API answer for {what} did not contain the track data Crate reads "
                f"({exc}).",
            ) from None
        name = tracks_name(target, listing.tracks)
        if name is None and page == 1:
            name = await self._own_name(target, token)
        return replace(listing, name=name)

    async def _own_name(self, target: Target, token: str) -> str | None:
        """The name in the target's own catalog object (`/catalog/charts/{id}/`…); None when
        it has none or Beatport does not give it: the job is then named after its link."""
        entity = ENTITIES.get(target.kind)
        if entity is None or entity == "track":
            return None
        url = f"{self._api_url}/catalog/{entity}s/{target.beatport_id}/"
        try:
            response = await self._wire.send(
                "GET", url, headers=api_headers(token), what=f"the name of {target.short()}"
            )
            if response.status_code != 200:
                return None
            return object_name(decode_json(response.content), target)
        except (BeatportError, ParseError, RecursionError):
            return None
