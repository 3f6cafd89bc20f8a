"""Dig mode: `/dig?<the /tracks filter>` plays the filter's undecided tracks one after
another; `/dig/track/{beatport_id}` is one track's card (JSON) and takes its decision."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from services import crates, dig
from services.errors import InvalidRequest
from services.forms import whole_number
from services.track_filter import MAX_ID, TRIAGE_STATES
from web.paths import NOT_FOUND
from web.responses import invalid_answer, json_answer, read_fields, wanted
from web.tracks import FILTER_REFUSED

BeatportId = Annotated[
    int,
    Parameter(
        description=f"A track's Beatport id, from 1 to {MAX_ID}.",
        schema_extra={"minimum": 1, "maximum": MAX_ID},
    ),
]
# Keys 1-9 keep a track into the crate at that place in the crates list.
KEYED_CRATES = 9


def _missing(beatport_id: int) -> Response[Any]:
    return json_answer(
        {"detail": f"There is no track with Beatport id {beatport_id} in the library."},
        status_code=404,
    )


class DigController(Controller):
    """`/dig`, `/dig/track/{beatport_id}`."""

    path = "/dig"

    @get("/", name="dig", responses=FILTER_REFUSED)
    async def index(self, request: HTMXRequest) -> Response[Any]:
        """The dig page for a filter: its tracks' ids, the crates keys 1-9 keep into; JSON
        `{"beatport_ids","total","capped","query"}` for API clients."""
        try:
            found = await dig.dig_list(request.query_params)
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            return Template(
                "dig/index.html",
                context={"errors": exc.errors, "ids": [], "crates": [], "query": ""},
                status_code=422,
            )
        query = found.filter.query(without=("page",))
        if wanted(request) == "json":
            return json_answer(
                {
                    "beatport_ids": found.beatport_ids,
                    "total": len(found.beatport_ids),
                    "capped": found.capped,
                    "query": query,
                }
            )
        keyed = (await crates.list_crates())[:KEYED_CRATES]
        return Template(
            "dig/index.html",
            context={
                "errors": {},
                "ids": found.beatport_ids,
                "capped": found.capped,
                "max_tracks": dig.MAX_TRACKS,
                "crates": keyed,
                "query": query,
                "tracks_query": query,
                "triage": TRIAGE_STATES.get(found.filter.triage or "", ""),
            },
        )

    @get("/track/{beatport_id:int}", name="dig_track", responses=NOT_FOUND)
    async def track(self, beatport_id: BeatportId) -> Response[Any]:
        """One track's card: titles, credits, BPM, key, its preview's address, its decision."""
        card = await dig.track_card(beatport_id) if 1 <= beatport_id <= MAX_ID else None
        if card is None:
            return _missing(beatport_id)
        return json_answer(card, headers={"Cache-Control": "no-store"})

    @post("/track/{beatport_id:int}", name="dig_decide", status_code=200, responses=NOT_FOUND)
    async def decide(
        self, request: Request[Any, Any, Any], beatport_id: BeatportId
    ) -> Response[Any]:
        """A decision: `{"decision": "kept"|"skipped"|"new", "crate": <crate id>}`; kept
        with a crate also adds the track to that crate (at its end, once)."""
        fields = await read_fields(request)
        errors: dict[str, str] = {}
        try:
            decision = dig.read_decision(fields)
        except InvalidRequest as exc:
            errors.update(exc.errors)
            decision = ""
        crate_id = whole_number(
            errors, "crate", str(fields.get("crate") or "").strip(), low=1, high=MAX_ID,
            message="The crate must be a crate's id: a whole number.",
        )  # fmt: skip
        if crate_id is not None and decision != "kept":
            errors["crate"] = "Only a kept track goes into a crate."
        if errors:
            return invalid_answer(errors)
        if not 1 <= beatport_id <= MAX_ID:
            return _missing(beatport_id)
        try:
            done = await dig.decide(beatport_id, decision, crate_id)
        except crates.CrateNotFound:
            return json_answer({"detail": f"There is no crate {crate_id}."}, status_code=404)
        return _missing(beatport_id) if done is None else json_answer(done)
