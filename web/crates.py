"""Crates: `/crates` (the list, create), `/crates/{id}` (its tracks as the tracks list shows
them, in crate order), rename, delete, adding and taking out tracks, moving them, and the
crate's CSV and M3U8. Every action answers a form (a redirect or the results fragment for
htmx) and JSON."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import parse_qsl

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Redirect, Stream, Template

from services import catalog, crate_tracks, crates
from services.crates import AddResult, CrateNotFound, CrateSummary, NotInCrate
from services.errors import InvalidRequest
from services.settings import Settings
from services.track_filter import MAX_ID, SORTS, SPOTIFY_STATES
from web.auth import safe_next
from web.errors import error_response
from web.paths import NOT_FOUND, RowId, existing
from web.responses import invalid_answer, json_answer, sent_json, wanted
from web.spotify import send_context
from web.tracks import CSV_MEDIA_TYPE, typed_names

M3U8_MEDIA_TYPE: Final = "audio/mpegurl"


def _missing(crate_id: int) -> str:
    return f"There is no crate {crate_id}."


def _crate_json(crate: CrateSummary) -> dict[str, Any]:
    return {
        "id": crate.id,
        "name": crate.name,
        "url": crate.url,
        "count": crate.count,
        "length_ms": crate.length_ms,
        "bpm_low": crate.bpm_low,
        "bpm_high": crate.bpm_high,
    }


def _added_json(result: AddResult) -> dict[str, Any]:
    return {
        "added": result.added,
        "already": result.already,
        "total": result.total,
        "capped": result.capped,
        "detail": result.words,
    }


async def _json_body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status_code=400, detail="The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise HTTPException(status_code=400, detail="The JSON body must be an object.")
    return body


async def _fields(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """A form's fields (every value of each), or a JSON body's values as text lists."""
    if sent_json(request):
        body = await _json_body(request)
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in body.items()
            if value is not None
        }
    form = await request.form()
    return {key: [str(v) for v in form.getall(key)] for key in form if key != "_csrf_token"}


def _first(fields: dict[str, list[str]], name: str) -> str:
    return (fields.get(name) or [""])[0]


async def _crate_or_404(crate_id: int) -> CrateSummary:
    try:
        return await crates.get_crate(existing(crate_id, _missing(crate_id)))
    except CrateNotFound as exc:
        raise NotFoundException(str(exc)) from None


async def list_page(
    request: HTMXRequest, *, errors: dict[str, str] | None = None, name: str = ""
) -> Response[Any]:
    """The crates with the create form (`errors` beside its field)."""
    found = await crates.list_crates()
    if wanted(request) == "json":
        return json_answer([_crate_json(crate) for crate in found])
    context = {"crates": found, "errors": errors or {}, "name": name}
    return Template("crates/index.html", context=context, status_code=422 if errors else 200)


async def crate_view(
    request: HTMXRequest, settings: Settings, crate_id: int, *, notice: str = ""
) -> Response[Any]:
    """A crate's page, its results fragment (htmx) or its JSON."""
    existing(crate_id, _missing(crate_id))
    try:
        if wanted(request) == "json":
            return json_answer(await crate_tracks.crate_json(crate_id))
        found = await crate_tracks.crate_page(crate_id, request.query_params)
    except CrateNotFound as exc:
        raise NotFoundException(str(exc)) from None
    page, crate = found.page, found.crate
    base = crate.url
    query = page.filter.query(without=("sort",)) if page.filter else ""
    context = {
        "page": page,
        "base": base,
        "fixed": None,
        "typed": typed_names(page),
        "entity": None,
        "crate": crate,
        "beatport_ids": found.beatport_ids,
        "notice": notice,
        "query": query,
        "export_query": "",
        "sorts": SORTS,
        "spotify_states": SPOTIFY_STATES,
        "keys": catalog.CAMELOT,
    }
    status = 422 if page.errors else 200
    if wanted(request) == "fragment":
        url = f"{base}?{query}" if query else base
        here = request.htmx.current_url_abs_path if request.htmx else None
        push: str | bool = False if here == url or request.method != "GET" else url
        return HTMXTemplate(
            template_name="tracks/_results.html",
            context=context,
            status_code=status,
            push_url=push,
        )
    # The send panel's context, with the crate itself (it has every field the panel reads).
    context = {**await send_context(settings, _send_crate(crate)), **context}
    return Template("tracks/index.html", context=context, status_code=status)


def _send_crate(crate: CrateSummary) -> dict[str, Any]:
    return {
        "id": crate.id,
        "name": crate.name,
        "spotify_playlist_id": crate.spotify_playlist_id,
        "spotify_playlist_url": crate.spotify_playlist_url,
    }


def _done(
    request: HTMXRequest, body: dict[str, Any], back: str, status: int = 200
) -> Response[Any]:
    """After a change: JSON, or a redirect (303) for a plain form."""
    if wanted(request) == "json":
        return json_answer(body, status_code=status)
    return Redirect(path=back, status_code=303)


class CrateController(Controller):
    """`/crates` and everything under it but `/crates/{id}/spotify` (web.spotify)."""

    path = "/crates"

    @get("/", name="crates")
    async def index(self, request: HTMXRequest) -> Response[Any]:
        """Every crate with its count, length and BPM range; the create form."""
        return await list_page(request)

    @post("/", name="crates_create", status_code=201)
    async def create(self, request: HTMXRequest) -> Response[Any]:
        """Create a crate: form (then its page) or JSON `{"name"}` → 201."""
        fields = await _fields(request)
        try:
            crate = await crates.create_crate(_first(fields, "name"))
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            return await list_page(request, errors=exc.errors, name=_first(fields, "name"))
        body = {"id": crate.id, "name": crate.name, "url": crate.url}
        return _done(request, body, crate.url, 201)

    @get("/{crate_id:int}", name="crate", responses=NOT_FOUND)
    async def show(
        self, request: HTMXRequest, crate_id: RowId, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        """The crate's tracks in crate order, with the tracks list's filters."""
        return await crate_view(request, settings, crate_id)

    @post("/{crate_id:int}/rename", name="crate_rename", status_code=200, responses=NOT_FOUND)
    async def rename(
        self, request: HTMXRequest, crate_id: RowId, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        """A new name: form or JSON `{"name"}`."""
        existing(crate_id, _missing(crate_id))
        fields = await _fields(request)
        try:
            crate = await crates.rename_crate(crate_id, _first(fields, "name"))
        except CrateNotFound as exc:
            raise NotFoundException(str(exc)) from None
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            response = await crate_view(request, settings, crate_id, notice=str(exc))
            response.status_code = 422
            return response
        return _done(request, {"id": crate.id, "name": crate.name, "url": crate.url}, crate.url)

    @post("/{crate_id:int}/delete", name="crate_delete", status_code=200, responses=NOT_FOUND)
    async def remove_crate(self, request: HTMXRequest, crate_id: RowId) -> Response[Any]:
        """Delete the crate (its tracks stay in the library)."""
        existing(crate_id, _missing(crate_id))
        try:
            await crates.delete_crate(crate_id)
        except CrateNotFound as exc:
            raise NotFoundException(str(exc)) from None
        return _done(request, {"id": crate_id, "deleted": True}, "/crates")

    @post("/{crate_id:int}/tracks", name="crate_add", status_code=200, responses=NOT_FOUND)
    async def add(self, request: HTMXRequest, crate_id: RowId) -> Response[Any]:
        """Add tracks: JSON `{"beatport_ids": […]}` or `{"filter": {…}}`; a form's `track`
        (one row's button), `selected` (checked rows) or `all` (the filter's query)."""
        existing(crate_id, _missing(crate_id))
        fields = await _fields(request)
        chosen = _first(fields, "crate").strip()  # a form's menu of crates names the crate
        if chosen.isdigit() and not sent_json(request):
            crate_id = existing(int(chosen), _missing(int(chosen)))
        try:
            result = await _add(request, crate_id, fields)
        except CrateNotFound as exc:
            raise NotFoundException(str(exc)) from None
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            return error_response(request, 422, str(exc))
        back = safe_next(_first(fields, "next") or f"/crates/{crate_id}")
        return _done(request, _added_json(result), back)

    @delete(
        "/{crate_id:int}/tracks/{beatport_id:int}",
        name="crate_track_delete",
        status_code=200,
        responses=NOT_FOUND,
    )
    async def take_out(
        self, request: HTMXRequest, crate_id: RowId, beatport_id: RowId
    ) -> Response[Any]:
        """Take one track out; the ones after it move up."""
        return await _take_out(request, crate_id, beatport_id)

    @post(
        "/{crate_id:int}/tracks/{beatport_id:int}/remove",
        name="crate_track_remove",
        status_code=200,
        responses=NOT_FOUND,
    )
    async def take_out_form(
        self, request: HTMXRequest, crate_id: RowId, beatport_id: RowId
    ) -> Response[Any]:
        """The same for a form without JavaScript."""
        return await _take_out(request, crate_id, beatport_id)

    @post(
        "/{crate_id:int}/tracks/{beatport_id:int}/move",
        name="crate_track_move",
        status_code=200,
        responses=NOT_FOUND,
    )
    async def move(
        self,
        request: HTMXRequest,
        crate_id: RowId,
        beatport_id: RowId,
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        """Move a track: `by` (-1 up, 1 down) or `to` (a position from 1)."""
        existing(crate_id, _missing(crate_id))
        fields = await _fields(request)
        errors: dict[str, str] = {}
        by, to = _first(fields, "by").strip(), _first(fields, "to").strip()
        if by not in ("", "-1", "1"):
            errors["by"] = "Move by -1 (up) or 1 (down)."
        if to and not (to.isdigit() and 1 <= int(to) <= MAX_ID):
            errors["to"] = "The position is a whole number from 1."
        if not by and not to:
            errors["by"] = "Say where to: by -1 (up), by 1 (down) or to a position."
        if errors:
            return invalid_answer(errors)
        try:
            position = await crates.move_track(
                crate_id, beatport_id, to=int(to) if to else None, by=int(by or 0)
            )
        except CrateNotFound as exc:
            raise NotFoundException(str(exc)) from None
        except NotInCrate as exc:
            raise NotFoundException(str(exc)) from None
        if wanted(request) == "fragment":
            return await crate_view(request, settings, crate_id)
        body = {"beatport_id": beatport_id, "position": position}
        return _done(request, body, safe_next(_first(fields, "next") or f"/crates/{crate_id}"))

    @get("/{crate_id:int}/export.csv", name="crate_csv", media_type=CSV_MEDIA_TYPE)
    async def export_csv(self, crate_id: RowId) -> Stream:
        """The crate as CSV: the /tracks/export.csv columns plus `position`."""
        crate = await _crate_or_404(crate_id)
        _, chunks = await crate_tracks.crate_csv(crate.id)
        return Stream(chunks, media_type=CSV_MEDIA_TYPE, headers=_download(crate, "csv"))

    @get("/{crate_id:int}/export.m3u8", name="crate_m3u8", media_type=M3U8_MEDIA_TYPE)
    async def export_m3u8(self, crate_id: RowId) -> Stream:
        """The crate as an M3U8 playlist of previews (or Spotify URIs)."""
        crate = await _crate_or_404(crate_id)
        _, lines = await crate_tracks.crate_m3u8(crate.id)
        return Stream(lines, media_type=M3U8_MEDIA_TYPE, headers=_download(crate, "m3u8"))


def _download(crate: CrateSummary, extension: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="crate-{crate.id}.{extension}"',
        "Cache-Control": "no-store",
    }


async def _add(request: HTMXRequest, crate_id: int, fields: dict[str, list[str]]) -> AddResult:
    """What the request asks to add, added."""
    if sent_json(request):
        body = await _json_body(request)
        if isinstance(body.get("filter"), dict):
            return await crates.add_matching(crate_id, body["filter"])
        if "filter" in body:
            raise InvalidRequest({"filter": "The filter is an object of /tracks parameters."})
        if "beatport_ids" not in body:
            raise InvalidRequest({"beatport_ids": "Send beatport_ids (a list) or a filter."})
        return await crates.add_tracks(crate_id, body["beatport_ids"])
    if fields.get("track"):
        return await crates.add_rows(crate_id, fields["track"][:1])
    if fields.get("all"):
        return await crates.add_matching(crate_id, dict(parse_qsl(_first(fields, "all"))))
    if fields.get("beatport_id"):
        return await crates.add_tracks(crate_id, crates.beatport_id_list(fields["beatport_id"]))
    return await crates.add_rows(crate_id, fields.get("selected", []))


async def _take_out(request: HTMXRequest, crate_id: int, beatport_id: int) -> Response[Any]:
    existing(crate_id, _missing(crate_id))
    try:
        total = await crates.remove_track(crate_id, beatport_id)
    except CrateNotFound as exc:
        raise NotFoundException(str(exc)) from None
    except NotInCrate as exc:
        raise NotFoundException(str(exc)) from None
    if wanted(request) == "fragment":
        settings: Settings = request.app.state["settings"]
        return await crate_view(request, settings, crate_id)
    return _done(request, {"removed": beatport_id, "total": total}, f"/crates/{crate_id}")
