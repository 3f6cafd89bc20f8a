"""The Schedules page: recurring collections, managed here, run by the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from services import genres, jobs, schedules
from services.errors import InvalidRequest
from services.settings import Settings
from services.tables import Schedule
from web.collect import FormErrors
from web.paths import NOT_FOUND, RowId, existing
from web.responses import MAX_FIELD_LENGTH, invalid_answer, json_answer, read_fields, wanted
from web.security import ErrorDetail, api_error_responses, json_body_operation


@dataclass
class ScheduleCreated:
    """The new schedule's id."""

    id: int


def _field(description: str, *types: OpenAPIType) -> Schema:
    return Schema(type=list(types) if len(types) > 1 else types[0], description=description)


SCHEDULE_BODY = Schema(
    type=OpenAPIType.OBJECT,
    description="A name, a cron expression, and a Beatport `url` or a `genre` with `days`.",
    properties={
        "name": _field("What to call it.", OpenAPIType.STRING),
        "cron": _field("When, as a cron expression (e.g. `0 6 * * 1`).", OpenAPIType.STRING),
        "url": _field("A Beatport link to collect.", OpenAPIType.STRING),
        "genre": _field(
            "A Beatport genre id (API mode only).", OpenAPIType.INTEGER, OpenAPIType.STRING
        ),
        "days": _field(
            "With a genre: the last so many days.", OpenAPIType.INTEGER, OpenAPIType.STRING
        ),
        "max_pages": _field("Stop after this many pages.", OpenAPIType.INTEGER, OpenAPIType.STRING),
        "enrich_after": _field("Then match to Spotify.", OpenAPIType.BOOLEAN, OpenAPIType.STRING),
    },
)
CREATE_RESPONSES = {
    **api_error_responses(),
    201: ResponseSpec(ScheduleCreated, description="Added.", generate_examples=False),
    400: ResponseSpec(
        ErrorDetail, description="The body is not a JSON object.", generate_examples=False
    ),
    422: ResponseSpec(
        FormErrors, description="Not added: the fields are not valid.", generate_examples=False
    ),
}


async def page_context(
    settings: Settings, values: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    """The Schedules page: every schedule (in words, with its next and last run), the
    genres to pick from, the form's state."""
    choices = await genres.choices()
    return {
        "schedules": await schedules.all_schedules(jobs.now()),
        "genres": choices,
        "genre_names": genres.names(choices),
        "genre_dates_in_web_mode": settings.effective_beatport_mode == "web",
        "values": values,
        "errors": errors,
    }


class SchedulesController(Controller):
    """`/schedules`: list, add, pause/resume, delete."""

    path = "/schedules"

    @get("/", name="schedules")
    async def index(self, settings: NamedDependency[Settings]) -> Template:
        """Every schedule and the form to add one."""
        return Template("schedules.html", context=await page_context(settings, {}, {}))

    @post(
        "/",
        name="schedule_create",
        status_code=201,
        operation_class=json_body_operation(SCHEDULE_BODY, "Also accepted as a form post."),
        responses=CREATE_RESPONSES,
    )
    async def create(
        self, request: HTMXRequest, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        """Add a schedule; errors come back in words, at the form or as 422 JSON."""
        fields = await read_fields(request)
        try:
            form = schedules.parse_schedule_form(
                name=fields.get("name"),
                cron=fields.get("cron"),
                url=fields.get("url"),
                genre=fields.get("genre"),
                days=fields.get("days"),
                max_pages=fields.get("max_pages"),
                enrich_after=fields.get("enrich_after"),
                mode=settings.effective_beatport_mode,
                genres=genres.names(await genres.choices()),
            )
        except InvalidRequest as exc:
            if wanted(request) == "json":
                return invalid_answer(exc.errors)
            # The form is a plain post (no htmx): the whole page, the errors at their fields.
            values = {k: v[:MAX_FIELD_LENGTH] for k, v in fields.items()}
            return Template(
                "schedules.html",
                context=await page_context(settings, values, exc.errors),
                status_code=422,
            )
        schedule_id = await schedules.create(form)
        if wanted(request) == "json":
            return json_answer({"id": schedule_id}, status_code=201)
        return Redirect(path="/schedules", status_code=303)

    @post("/{schedule_id:int}/toggle", name="schedule_toggle", status_code=303, responses=NOT_FOUND)
    async def toggle(self, schedule_id: RowId) -> Redirect:
        """Pause a running schedule, or resume a paused one."""
        existing(schedule_id, f"No schedule has the id {schedule_id}.")
        row = (
            await Schedule.select(Schedule.enabled)
            .where(Schedule._meta.primary_key == schedule_id)
            .first()
        )
        if row is None:
            raise NotFoundException(f"No schedule has the id {schedule_id}.")
        await schedules.set_enabled(schedule_id, not row["enabled"])
        return Redirect(path="/schedules", status_code=303)

    @post("/{schedule_id:int}/delete", name="schedule_delete", status_code=303, responses=NOT_FOUND)
    async def delete(self, schedule_id: RowId) -> Redirect:
        """Remove a schedule; the jobs it started stay in the history (deleting one already
        gone is not an error; an id no schedule can have is)."""
        existing(schedule_id, f"No schedule has the id {schedule_id}.")
        await schedules.delete(schedule_id)
        return Redirect(path="/schedules", status_code=303)
