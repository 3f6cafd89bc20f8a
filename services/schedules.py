"""Recurring collections: stored schedules, and claiming a run exactly once per period."""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import pycron

from services import db, jobs
from services.beatport.links import parse_target
from services.beatport.targets import InvalidTarget
from services.beatport.web_mode import NO_GENRE_DATES_IN_WEB_MODE
from services.bulk import Bulk
from services.collect_request import (
    CollectRequest,
    genre_field,
    max_pages_field,
    parse_collect_request,
)
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
    mode: Literal["web", "api"] | None = None,
    genres: Mapping[int, str] | None = None,
) -> ScheduleForm:
    """Validate a schedule from the form or JSON; raise InvalidRequest with field errors.

    `mode` and `genres` as for `parse_collect_request`: a genre's newest releases need
    API mode, and the genre must be one Beatport has."""
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
    elif genre and mode == "web":
        errors["genre"] = NO_GENRE_DATES_IN_WEB_MODE
    elif genre:
        genre_id = genre_field(errors, "genre", genre, genres)
        span = whole_number(
            errors, "days", days, label="Days back", low=1, high=MAX_DAYS, default=7
        )
        if genre_id is not None and span is not None:
            params.update({"genre": genre_id, "days": span})
    else:
        errors["url"] = "Paste a Beatport link, or pick a genre and how many days back."
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


async def all_schedules(now: datetime) -> list[dict[str, Any]]:
    """Every schedule, with its cron in words, its next run after `now` (None when paused
    or never), and its last job (`last_job`: the job row with its snapshot, or None)."""
    rows = await Schedule.select().order_by(Schedule.name).output(load_json=True)
    task_ids = [row["last_task_id"] for row in rows if row["last_task_id"]]
    last: dict[str, dict[str, Any]] = {}
    if task_ids:
        for job in await Job.select().where(Job.task_id.is_in(task_ids)).output(load_json=True):
            last[job["task_id"]] = {**job, "snapshot": jobs.snapshot_of(job)}
    return [
        {
            **row,
            "when": cron_in_words(row["cron"]),
            "next_run": next_run(row["cron"], now) if row["enabled"] else None,
            "last_job": last.get(row["last_task_id"] or ""),
        }
        for row in rows
    ]


# ---------------------------------------------------------------- cron in words, next run

_WEEKDAYS = ("Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays")
_DAY_NAMES = {name: n for n, name in enumerate(pycron.DAY_ABBRS)} | {
    name: n for n, name in enumerate(pycron.DAY_NAMES)
}


class _Unusual(Exception):
    """A cron expression too unusual to say in a few words: it is shown as it is."""


def _values(field: str, low: int, high: int, names: Mapping[str, int] | None = None) -> list[int]:
    """'1', '1,15', '1-5', 'mon-fri' as sorted numbers; anything else is unusual."""
    found: set[int] = set()
    for part in field.lower().split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(ends):
            raise _Unusual(field)
        numbers = [names[end] if names and end in names else _number(end) for end in ends]
        if not all(low <= n <= high for n in numbers) or numbers[0] > numbers[-1]:
            raise _Unusual(field)
        found.update(range(numbers[0], numbers[-1] + 1))
    return sorted(found)


def _number(text: str) -> int:
    if not text.isdigit():
        raise _Unusual(text)
    return int(text)


def _and(words: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _days(dom: str, month: str, dow: str) -> str:
    """Which days, in words: 'Every day', 'Mondays', 'Weekdays', '1st of each month'."""
    if dom == month == dow == "*":
        return "Every day"
    if dom == month == "*":
        days = {d % 7 for d in _values(dow, 0, 7, _DAY_NAMES)}
        if days == {1, 2, 3, 4, 5}:
            return "Weekdays"
        if days == {0, 6}:
            return "Weekends"
        return _and([_WEEKDAYS[d] for d in sorted(days, key=lambda d: (d == 0, d))])
    if dow == "*" and dom != "*":
        dates = [_ordinal(d) for d in _values(dom, 1, 31)]
        if month == "*":
            return f"{_and(dates)} of each month"
        months = [calendar.month_name[m] for m in _values(month, 1, 12)]
        return f"{_and(dates)} of {_and(months)}"
    raise _Unusual(dom)


def cron_in_words(cron: str) -> str:
    """'0 6 * * 1' -> 'Mondays 06:00'; '15 * * * *' -> 'Every hour at :15'; an unusual
    expression comes back as it is."""
    try:
        minute, hour, dom, month, dow = cron.split()
    except ValueError:
        return cron
    try:
        if hour == "*" and dom == month == dow == "*":
            if minute == "*":
                return "Every minute"
            if step := re.fullmatch(r"\*/(\d+)", minute):
                return f"Every {int(step[1])} minutes"
        days = _days(dom, month, dow)
        minutes = _values(minute, 0, 59)
        hours_step = re.fullmatch(r"\*/(\d+)", hour)
        if hour == "*" or hours_step:
            if len(minutes) != 1:
                raise _Unusual(minute)
            every = f"Every {int(hours_step[1])} hours" if hours_step else "Every hour"
            at = f"{every} at :{minutes[0]:02d}"
            return at if days == "Every day" else f"{days}, {at[0].lower()}{at[1:]}"
        times = [f"{h:02d}:{m:02d}" for h in _values(hour, 0, 23) for m in minutes]
        if len(times) > 4:
            raise _Unusual(hour)
        return f"{days} {_and(times)}"
    except _Unusual:
        return cron


def next_run(cron: str, after: datetime, *, days: int = 366 * 8) -> datetime | None:
    """When the scheduler next starts `cron` after `after`, in this server's local time (as
    Taskiq's scheduler reads it, with pycron); None when it never does within `days`."""
    start = after.astimezone().replace(tzinfo=None, second=0, microsecond=0)
    start += timedelta(minutes=1)
    _, hour, dom, month, dow = cron.split()
    day_cron, hour_cron = f"* * {dom} {month} {dow}", f"* {hour} {dom} {month} {dow}"
    for offset in range(days):
        midnight = datetime.combine(start.date() + timedelta(days=offset), time())
        if not pycron.is_now(day_cron, midnight):
            continue
        for h in range(start.hour if offset == 0 else 0, 24):
            if not pycron.is_now(hour_cron, midnight.replace(hour=h)):
                continue
            first = start.minute if offset == 0 and h == start.hour else 0
            for m in range(first, 60):
                candidate = midnight.replace(hour=h, minute=m)
                if pycron.is_now(cron, candidate):
                    return candidate.astimezone()
    return None


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
