"""Recurring collections: stored schedules, and claiming a run exactly once per period."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pycron

from services import db, jobs
from services.beatport.links import parse_target
from services.beatport.targets import MAX_BEATPORT_ID, InvalidTarget
from services.bulk import Bulk
from services.collect_request import CollectRequest, max_pages_field, parse_collect_request
from services.errors import InvalidRequest
from services.forms import whole_number, yes_no
from services.tables import Job, Schedule

_CRON_FIELD = re.compile(r"^[0-9*,/\-A-Za-z]+$")
MAX_DAYS = 366
_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_FIELD_NAMES = ["minute", "hour", "day of the month", "month", "day of the week"]


@dataclass(frozen=True, slots=True)
class ScheduleForm:
    """A validated schedule: what to collect, when, and whether to enrich after."""

    name: str
    cron: str
    params: dict[str, Any]
    enrich_after: bool


def check_cron(cron: str) -> str:
    """A five-field cron expression, normalised; raises ValueError in words."""
    fields = cron.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            "The schedule must be a cron expression with five fields: minute hour "
            "day-of-month month day-of-week, e.g. '0 6 * * 1' for Mondays at 06:00."
        )
    normalised = " ".join(fields)
    for field, (low, high), label in zip(fields, _RANGES, _FIELD_NAMES, strict=True):
        for number in re.findall(r"\d+", field.split("/")[0]):
            if not low <= int(number) <= high:
                raise ValueError(f"In {normalised!r} the {label} must be from {low} to {high}.")
    try:
        pycron.is_now(normalised, datetime(2026, 1, 5, 6, 0))
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError(f"{normalised!r} is not a cron expression Crate understands.") from None
    return normalised


def parse_schedule_form(
    *,
    name: str | None,
    cron: str | None,
    url: str | None = None,
    genre: str | None = None,
    days: str | None = None,
    max_pages: str | None = None,
    enrich_after: str | bool | None = None,
) -> ScheduleForm:
    """Validate a schedule from the form or JSON; raise InvalidRequest with field errors."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the schedule a name."
    elif len(name) > 200:
        errors["name"] = "The name is too long (at most 200 characters)."
    try:
        cron = check_cron(cron or "")
    except ValueError as exc:
        errors["cron"] = str(exc)
    params: dict[str, Any] = {}
    url = (url or "").strip()
    genre = (genre or "").strip()
    if url and genre:
        errors["url"] = "Give either a Beatport link or a genre, not both."
    elif url:
        try:
            parse_target(url)
            params["url"] = url
        except InvalidTarget as exc:
            errors["url"] = str(exc)
    elif genre:
        genre_id = whole_number(
            errors, "genre", genre, label="The genre id", low=1, high=MAX_BEATPORT_ID
        )
        span = whole_number(
            errors, "days", days, label="Days back", low=1, high=MAX_DAYS, default=7
        )
        if genre_id is not None and span is not None:
            params.update({"genre": genre_id, "days": span})
    else:
        errors["url"] = "Paste a Beatport link, or give a genre id and how many days back."
    params["max_pages"] = max_pages_field(errors, max_pages)
    if errors:
        raise InvalidRequest(errors)
    enrich = bool(yes_no(enrich_after))
    return ScheduleForm(name=name, cron=cron or "", params=params, enrich_after=enrich)


def collect_request(params: dict[str, Any], today: date) -> CollectRequest:
    """What a schedule collects on `today` (a genre's last N days move with the date)."""
    if "url" in params:
        return parse_collect_request(url=params["url"], max_pages=params.get("max_pages"))
    start = today - timedelta(days=int(params["days"]) - 1)
    return parse_collect_request(
        genre=params["genre"], date_from=start, date_to=today, max_pages=params.get("max_pages")
    )


async def create(form: ScheduleForm) -> int:
    """Store a new schedule; return its id."""
    rows = await Schedule.insert(
        Schedule(
            name=form.name,
            cron=form.cron,
            params=json.dumps(form.params),
            enrich_after=form.enrich_after,
        )
    ).returning(Schedule._meta.primary_key)
    return int(rows[0]["id"])


async def all_schedules() -> list[dict[str, Any]]:
    """Every schedule, with the state of its last job."""
    rows = await Schedule.select().order_by(Schedule.name).output(load_json=True)
    task_ids = [row["last_task_id"] for row in rows if row["last_task_id"]]
    states: dict[str, str] = {}
    if task_ids:
        for job in await Job.select(Job.task_id, Job.state).where(Job.task_id.is_in(task_ids)):
            states[job["task_id"]] = job["state"]
    return [{**row, "last_state": states.get(row["last_task_id"] or "")} for row in rows]


async def enabled() -> list[dict[str, Any]]:
    """Schedules that should run."""
    rows = await Schedule.select().where(Schedule.enabled == True).output(load_json=True)  # noqa: E712
    return list(rows)


async def delete(schedule_id: int) -> None:
    """Remove a schedule (its past jobs stay)."""
    await Schedule.delete().where(Schedule._meta.primary_key == schedule_id)


async def set_enabled(schedule_id: int, on: bool) -> None:
    """Pause or resume a schedule."""
    await Schedule.update({Schedule.enabled: on}).where(Schedule._meta.primary_key == schedule_id)


async def claim(schedule_id: int, now: datetime) -> dict[str, Any] | None:
    """Take this period's run of a schedule, or None when it must not start.

    At most one caller per minute wins (the update is conditional), so a schedule
    fires once per period even with two schedulers; and none starts while the
    schedule's previous job is still queued, running or waiting.
    """
    minute = now.replace(second=0, microsecond=0)

    async def take(bulk: Bulk) -> dict[str, Any] | None:
        found = await bulk.fetch(
            "SELECT s.id, s.params, s.enrich_after, s.last_task_id, j.state AS last_state"
            " FROM schedule s LEFT JOIN job j ON j.task_id = s.last_task_id"
            " WHERE s.id = {} AND s.enabled = {}",
            schedule_id,
            True,
        )
        if not found or found[0]["last_state"] in jobs.ACTIVE_STATES:
            return None
        won = await bulk.fetch(
            "UPDATE schedule SET last_run_at = {}"
            " WHERE id = {} AND (last_run_at IS NULL OR last_run_at < {}) RETURNING id",
            now,
            schedule_id,
            minute,
        )
        return found[0] if won else None

    row = await db.write(take)
    if row is None:
        return None
    params = row["params"]
    if isinstance(params, str):
        params = json.loads(params)
    return {**row, "params": params}


async def record_run(schedule_id: int, task_id: str) -> None:
    """Remember the job a schedule started."""
    await Schedule.update({Schedule.last_task_id: task_id}).where(
        Schedule._meta.primary_key == schedule_id
    )
