"""The library: `/tracks` with its filters, one track, an artist's, label's or release's tracks,
and the CSV export of whatever the filter shows."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Stream, Template

from services import catalog, chart_runs, crate_tracks, export
from services.errors import InvalidRequest
from services.forms import yes_no
from services.track_filter import (
    MAX_NAME_CHARS,
    NAMED,
    SORTS,
    SPOTIFY_STATES,
    parse_filter,
)
from web.collect import FormErrors
from web.errors import error_response
from web.paths import NOT_FOUND, RowId, existing
from web.responses import invalid_answer, json_answer, wanted
from web.security import api_error_responses

# The filter's values refused, in words (by field).
FILTER_REFUSED = {
    **api_error_responses(),
    422: ResponseSpec(FormErrors, description="The filter is not valid.", generate_examples=False),
}
# Litestar adds "; charset=utf-8" to a text/ media type itself: naming it here too gave
# a Content-Type with two charsets.
CSV_MEDIA_TYPE = "text/csv"


def export_headers(*, excel: bool) -> dict[str, str]:
    """The download's name (the spreadsheet flavour has its own) and no caching."""
    name = "crate-tracks-excel.csv" if excel else "crate-tracks.csv"
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


class TrackController(Controller):
    """`/tracks`, `/tracks/{id}` and `/tracks/export.csv`."""

    path = "/tracks"

    @get("/", name="tracks", responses=FILTER_REFUSED)
    async def index(self, request: HTMXRequest) -> Response[Any]:
        """The whole library, filtered, sorted and paged."""
        choices = wanted(request) == "page"  # the filter form's choices: only a page shows them
        # The crates' names (the rows' "add to crate" menu) are read beside the page.
        page, crates = await asyncio.gather(
            catalog.browse_tracks(request.query_params, choices=choices), _crate_choices(request)
        )
        assert page is not None  # nothing is fixed by the path here
        return list_response(request, page, base="/tracks", crates=crates)

    @get("/names", name="tracks_names", include_in_schema=False)
    async def names(self, request: HTMXRequest) -> Response[Any]:
        """Suggestions for the list's label or artist field: the library's names starting
        with what was typed (`?label=` or `?artist=`), as <option>s for its <datalist>."""
        kind = next((name for name in NAMED if name in request.query_params), None)
        text = str(request.query_params.get(kind) or "")[:MAX_NAME_CHARS] if kind else ""
        found = await catalog.suggest_names(kind, text) if kind else []
        if wanted(request) == "json":
            return json_answer({"names": found})
        return HTMXTemplate(
            template_name="tracks/_names.html",
            context={"names": found},
            headers={"Cache-Control": "private, max-age=60"},
        )

    @get("/{track_id:int}", name="track", responses=NOT_FOUND)
    async def show(self, track_id: RowId) -> Template:
        """One track: every Beatport field, previews, the Spotify match, who saw it."""
        missing = f"There is no track {track_id} in the library."
        track = await catalog.get_track(existing(track_id, missing))
        if track is None:
            raise NotFoundException(missing)
        raw = json.dumps(track["beatport_json"], indent=2, ensure_ascii=False, sort_keys=True)
        crates = await crate_tracks.crate_choices()
        runs = await chart_runs.track_runs(track["id"])
        context = {"track": track, "raw_json": raw, "crate_choices": crates, "runs": runs}
        return Template("tracks/detail.html", context=context)

    @get(
        "/export.csv",
        name="tracks_export",
        media_type=CSV_MEDIA_TYPE,
        responses=FILTER_REFUSED,
    )
    async def export(self, request: HTMXRequest) -> Response[Any]:
        """Every track under the filter (all pages) as CSV, streamed in chunks; `excel=1`
        for the spreadsheet flavour (a byte order mark, the length as m:ss too)."""
        excel = yes_no(request.query_params.get("excel"))
        try:
            track_filter = parse_filter(request.query_params)
            if excel is None:
                raise InvalidRequest({"excel": "Excel is either on (1) or off (0)."})
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            return error_response(request, 422, str(exc))
        return Stream(
            export.export_csv(track_filter, excel=excel),
            media_type=CSV_MEDIA_TYPE,
            headers=export_headers(excel=excel),
        )


class LibraryController(Controller):
    """`/artists/{id}`, `/labels/{id}`, `/releases/{id}`: their tracks, with the same filters."""

    @get("/artists/{artist_id:int}", name="artist", responses=NOT_FOUND)
    async def artist(self, request: HTMXRequest, artist_id: RowId) -> Response[Any]:
        """An artist's tracks, as artist or remixer."""
        return await entity_page(request, "artist", artist_id)

    @get("/labels/{label_id:int}", name="label", responses=NOT_FOUND)
    async def label(self, request: HTMXRequest, label_id: RowId) -> Response[Any]:
        """A label's tracks."""
        return await entity_page(request, "label", label_id)

    @get("/releases/{release_id:int}", name="release", responses=NOT_FOUND)
    async def release(self, request: HTMXRequest, release_id: RowId) -> Response[Any]:
        """A release's tracks."""
        return await entity_page(request, "release", release_id)


async def entity_page(request: HTMXRequest, kind: str, entity_id: int) -> Response[Any]:
    """The tracks list narrowed by the path to one artist, label or release; 404 if unknown."""
    existing(entity_id, f"There is no {kind} {entity_id} in the library.")
    page = await catalog.browse_tracks(
        request.query_params, fixed={kind: entity_id}, choices=wanted(request) == "page"
    )
    if page is None:
        raise NotFoundException(f"There is no {kind} {entity_id} in the library.")
    crates = await _crate_choices(request)
    return list_response(request, page, base=f"/{kind}s/{entity_id}", fixed=kind, crates=crates)


async def _crate_choices(request: HTMXRequest) -> list[tuple[int, str]]:
    """The crates a list's rows can go into (not read for JSON answers)."""
    return [] if wanted(request) == "json" else await crate_tracks.crate_choices()


def list_response(
    request: HTMXRequest,
    page: catalog.TrackPage,
    *,
    base: str,
    fixed: str | None = None,
    crates: list[tuple[int, str]] | None = None,
) -> Response[Any]:
    """The list as a full page, its results region alone for htmx, or JSON; 422 when refused."""
    status = 422 if page.errors else 200
    answer = wanted(request)
    if answer == "json":
        return invalid_answer(page.errors) if page.errors else json_answer(tracks_json(page))
    if page.filter is None:
        # Keep what was typed in the address bar, so a reload shows the same message.
        typed = [(name, value) for name, value in page.values.items() if value]
        query = urlencode([(name, value) for name, value in typed if name != fixed])
    else:
        query = page.filter.query(without=(fixed,) if fixed else ())
    context = {
        "page": page,
        "base": base,
        "fixed": fixed,
        "typed": typed_names(page),
        "entity": page.entities.get(fixed) if fixed else None,
        "query": query,
        "export_query": page.filter.query(without=("page",)) if page.filter else "",
        "sorts": SORTS,
        "spotify_states": SPOTIFY_STATES,
        "keys": catalog.CAMELOT,
        "crate_choices": crates or [],
    }
    if answer == "fragment":
        # The server names the URL to push, so empty form fields never clutter it.
        url = f"{base}?{query}" if query else base
        # Already there (a change and a pause in typing asked for the same filter): no
        # second history entry for one state, so Back goes to the filter before it.
        here = request.htmx.current_url_abs_path if request.htmx else None
        return HTMXTemplate(
            template_name="tracks/_results.html",
            context=context,
            status_code=status,
            push_url=False if here == url else url,
        )
    return Template("tracks/index.html", context=context, status_code=status)


def typed_names(page: catalog.TrackPage) -> dict[str, str]:
    """What the label and artist fields show: the name typed, or the name of the one an id
    (a link from another page) chose."""
    shown = {}
    for name in NAMED:
        value = page.values.get(name, "")
        known = page.entities.get(name)
        if page.filter is not None and getattr(page.filter, f"{name}_name"):
            value = getattr(page.filter, f"{name}_name")
        elif known and value.strip().isdigit():
            value = known.name
        shown[name] = value
    return shown


def tracks_json(page: catalog.TrackPage) -> dict[str, Any]:
    """The page for API clients."""
    return {
        "total": page.total if not page.capped else None,
        "total_at_least": min(page.total, page.cap),
        "page": page.page,
        "has_next": page.has_next,
        "tracks": [
            {
                "id": row.id,
                "title": row.title,
                "mix_name": row.mix_name,
                "artists": [artist.name for artist in row.artists],
                "remixers": [remixer.name for remixer in row.remixers],
                "label": row.label.name if row.label else None,
                "genre": row.genre.name if row.genre else None,
                "bpm": row.bpm,
                "key": row.key_name,
                "camelot": row.camelot,
                "release_date": row.released.isoformat() if row.released else None,
                "spotify": row.spotify,
                "beatport_id": row.beatport_id,
                "triage": row.triage,
                "rerelease": row.rerelease,
            }
            for row in page.rows
        ],
    }
