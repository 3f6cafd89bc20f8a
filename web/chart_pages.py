"""Charts over time: `/charts` (every chart-like source collected) and `/charts/{key}` (its
newest collection, each track's movement and history line, what dropped out; any two of
its collections compared). The dashboard's SVG pictures are web/charts.py, not this."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from services import chart_follow, chart_history
from services.errors import InvalidRequest
from web.collect import FormErrors
from web.errors import error_response
from web.paths import NOT_FOUND
from web.responses import invalid_answer, json_answer, wanted

CHART_RESPONSES = {
    **NOT_FOUND,
    422: ResponseSpec(
        FormErrors, description="The collections to compare are not valid.", generate_examples=False
    ),
}
MAX_KEY_CHARS = 40


class ChartController(Controller):
    """`/charts` and `/charts/{key}`."""

    path = "/charts"

    @get("/", name="charts")
    async def index(self, request: HTMXRequest) -> Response[Any]:
        """Every chart-like source collected at least once, newest collected first."""
        found = await chart_history.sources()
        if wanted(request) == "json":
            return json_answer([item.as_json() for item in found])
        fresh = await chart_history.new_entries(found)
        return Template("charts/index.html", context={"sources": found, "new": fresh})

    @get("/{key:str}", name="chart", responses=CHART_RESPONSES)
    async def show(self, request: HTMXRequest, key: FromPath[str]) -> Response[Any]:
        """A source's newest collection (or `?compare=` one) against the previous complete
        one (or `?with=` one): positions, movement, best, weeks, history, dropped."""
        found = await known_source(key)
        query = request.query_params
        try:
            moved = await chart_history.movement(found, query.get("compare"), query.get("with"))
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            return error_response(request, 422, str(exc))
        if wanted(request) == "json":
            return json_answer(moved.as_json())
        schedule = await chart_follow.following(found.key)
        return Template("charts/detail.html", context={"m": moved, "schedule": schedule})

    @post("/{key:str}/follow", name="chart_follow", status_code=303, responses=NOT_FOUND)
    async def follow(self, request: HTMXRequest, key: FromPath[str]) -> Response[Any]:
        """Collect this chart every Monday at 06:00, then match its new tracks to Spotify
        (a schedule; following it again makes none): JSON `{"schedule_id", "created"}`."""
        found = await known_source(key)
        schedule_id, created = await chart_follow.follow(found)
        if wanted(request) == "json":
            body = {"schedule_id": schedule_id, "created": created}
            return json_answer(body, status_code=201 if created else 200)
        return Redirect(path=f"/charts/{found.key}", status_code=303)


async def known_source(key: str) -> chart_history.Source:
    """The source with this key; else 404 in words."""
    found = await chart_history.source(key[:MAX_KEY_CHARS])
    if found is None:
        raise NotFoundException(
            f"Crate has collected no chart called {key[:MAX_KEY_CHARS]!r}. "
            "Every collected chart is listed on /charts."
        )
    return found
