"""The forms that start jobs: `POST /collect/beatport/collect` and `POST /collect/spotify/enrich`.

Each answers three ways: an htmx request gets its form panel back (with the new
job's live badge, or the errors in place), a plain form post is redirected to the
dashboard, and a JSON body gets `202 {"task_id", "status_url"}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from taskiq import AsyncBroker

from services import genres, jobs, library_stats
from services.collect_request import parse_collect_request
from services.enrich_request import parse_enrich_request
from services.errors import InvalidRequest
from services.settings import Settings
from tasks import jobs as job_tasks
from tasks.collection import COLLECT_KIND
from tasks.enrichment import ENRICH_KIND
from web.responses import MAX_FIELD_LENGTH, invalid_answer, json_answer, read_fields, wanted
from web.security import ErrorDetail, api_error_responses, json_body_operation

PANELS = {COLLECT_KIND: "collect/_panel.html", ENRICH_KIND: "collect/_enrich_panel.html"}


# ------------------------------------------------------------------ OpenAPI (GET /schema)


@dataclass
class JobStarted:
    """The job is queued: follow `status_url` (with `Accept: application/json`) until it ends."""

    task_id: str
    status_url: str


@dataclass
class FormErrors:
    """What is wrong, in words: `errors` names each field with its problem."""

    detail: str
    errors: dict[str, str]


def _field(description: str, *types: OpenAPIType, **more: Any) -> Schema:
    return Schema(type=list(types) if len(types) > 1 else types[0], description=description, **more)


COLLECT_BODY = Schema(
    type=OpenAPIType.OBJECT,
    description="A Beatport `url`, or a `genre` with `date_from` and `date_to`.",
    examples=[
        {"url": "https://www.beatport.com/chart/peak-time/12345", "max_pages": 10},
        {"genre": 6, "date_from": "2026-01-01", "date_to": "2026-01-31"},
    ],
    properties={
        "url": _field(
            "A Beatport link (chart, top 100, release, track, label or artist tracks).",
            OpenAPIType.STRING,
            max_length=MAX_FIELD_LENGTH,
        ),
        "genre": _field(
            "A Beatport genre id (API mode only: the public pages cannot list a genre's "
            "releases by date).",
            OpenAPIType.INTEGER,
            OpenAPIType.STRING,
        ),
        "date_from": _field("First publish date.", OpenAPIType.STRING, format="date"),
        "date_to": _field("Last publish date.", OpenAPIType.STRING, format="date"),
        "max_pages": _field(
            "Stop after this many pages (default 100, at most 300).",
            OpenAPIType.INTEGER,
            OpenAPIType.STRING,
        ),
    },
)
ENRICH_BODY = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "limit": _field("Match at most this many tracks.", OpenAPIType.INTEGER, OpenAPIType.STRING),
        "retry_not_found": _field(
            "Also search tracks not found before.", OpenAPIType.BOOLEAN, OpenAPIType.STRING
        ),
        "job": _field("Only the tracks this collection job saw (its task id).", OpenAPIType.STRING),
    },
)
JOB_RESPONSES = {
    **api_error_responses(),
    202: ResponseSpec(JobStarted, description="Queued.", generate_examples=False),
    400: ResponseSpec(
        ErrorDetail, description="The body is not a JSON object.", generate_examples=False
    ),
    422: ResponseSpec(
        FormErrors, description="Nothing queued: the fields are not valid.", generate_examples=False
    ),
    503: ResponseSpec(
        FormErrors, description="Nothing queued: the job queue is down.", generate_examples=False
    ),
}


async def form_context(settings: Settings) -> dict[str, Any]:
    """What both dashboard form panels need besides values and errors: the genres to pick
    from, and whether this Beatport mode can collect a genre between two dates."""
    return {
        "genres": await genres.choices(),
        "genre_dates_in_web_mode": settings.effective_beatport_mode == "web",
    }


class CollectController(Controller):
    """Starting collections and enrichments from forms and the JSON API."""

    path = "/collect"

    @post(
        "/beatport/collect",
        name="collect_beatport",
        status_code=202,
        operation_class=json_body_operation(COLLECT_BODY, "Also accepted as a form post."),
        responses=JOB_RESPONSES,
    )
    async def collect_beatport(
        self,
        request: HTMXRequest,
        broker: NamedDependency[AsyncBroker],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        """Collect a Beatport link, or a genre's releases between two dates (API mode)."""
        known = genres.names(await genres.choices())

        def build(fields: dict[str, str]) -> dict[str, Any]:
            return parse_collect_request(
                url=fields.get("url"),
                genre=fields.get("genre"),
                date_from=fields.get("date_from"),
                date_to=fields.get("date_to"),
                max_pages=fields.get("max_pages"),
                mode=settings.effective_beatport_mode,
                genres=known,
            ).to_params()

        return await start_job(request, broker, settings, COLLECT_KIND, build)

    @post(
        "/spotify/enrich",
        name="enrich_spotify",
        status_code=202,
        operation_class=json_body_operation(ENRICH_BODY, "Also accepted as a form post."),
        responses=JOB_RESPONSES,
    )
    async def enrich_spotify(
        self,
        request: HTMXRequest,
        broker: NamedDependency[AsyncBroker],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        """Match tracks to Spotify: never searched ones, optionally not-found ones too."""

        def build(fields: dict[str, str]) -> dict[str, Any]:
            if not settings.spotify_configured:
                raise InvalidRequest(
                    {
                        "spotify": "Spotify is not configured: set SPOTIFY_CLIENT_ID and "
                        "SPOTIFY_CLIENT_SECRET, then restart Crate."
                    }
                )
            return parse_enrich_request(
                limit=fields.get("limit"),
                retry_not_found=fields.get("retry_not_found"),
                job_task_id=fields.get("job") or None,
            ).to_params()

        return await start_job(request, broker, settings, ENRICH_KIND, build)


async def start_job(
    request: HTMXRequest,
    broker: AsyncBroker,
    settings: Settings,
    kind: str,
    build: Callable[[dict[str, str]], dict[str, Any]],
) -> Response[Any]:
    """Validate the fields into job parameters, enqueue, and answer in the caller's terms."""
    fields = await read_fields(request)
    try:
        too_long = {
            name: f"That is too long (at most {MAX_FIELD_LENGTH} characters)."
            for name, value in fields.items()
            if len(value) > MAX_FIELD_LENGTH
        }
        if too_long:
            raise InvalidRequest(too_long)
        params = build(fields)
    except InvalidRequest as exc:
        return await answer_error(request, settings, kind, fields, exc.errors, 422)
    try:
        task_id = await job_tasks.enqueue(broker, kind, params)
    except job_tasks.QueueUnavailable as exc:
        return await answer_error(request, settings, kind, fields, {"queue": str(exc)}, 503)
    match wanted(request):
        case "json":
            status_url = request.app.route_reverse("task_status", task_id=task_id)
            return json_answer({"task_id": task_id, "status_url": status_url}, status_code=202)
        case "fragment":
            row = await jobs.get(task_id)
            started = {**row, "snapshot": jobs.snapshot_of(row)}
            # The fields keep what was asked: the link stays in its field, whatever happens.
            values = {k: v[:MAX_FIELD_LENGTH] for k, v in fields.items()}
            context = {
                "values": values,
                "errors": {},
                "started": started,
                **await form_context(settings),
            }
            return Template(PANELS[kind], context=context, status_code=200)
        case "page":
            return Redirect(path="/", status_code=303)


async def answer_error(
    request: HTMXRequest,
    settings: Settings,
    kind: str,
    fields: dict[str, str],
    errors: dict[str, str],
    status_code: int,
) -> Response[Any]:
    """Errors in words: JSON for API clients, in place for htmx, the dashboard otherwise."""
    answer = wanted(request)
    if answer == "json":
        return invalid_answer(errors, status_code=status_code)
    values = {k: v[:MAX_FIELD_LENGTH] for k, v in fields.items()}
    panel = {"values": values, "errors": errors, "started": None, **await form_context(settings)}
    if answer == "fragment":
        return Template(PANELS[kind], context=panel, status_code=status_code)
    recent = await jobs.recent(10)
    # The plain (no-JavaScript) post: the whole dashboard, the failed form showing its errors.
    forms = {"collect_form": panel} if kind == COLLECT_KIND else {"enrich_form": panel}
    return Template(
        "dashboard.html",
        context={
            "totals": await library_stats.library_totals(),
            "jobs": [{**row, "snapshot": jobs.snapshot_of(row)} for row in recent],
            **await form_context(settings),
            **forms,
        },
        status_code=status_code,
    )
