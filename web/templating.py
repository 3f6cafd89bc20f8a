"""Jinja filters shared by every template."""

from __future__ import annotations

from datetime import datetime

from litestar.plugins.jinja import JinjaTemplateEngine

from services.jobs import job_name, job_title, state_word
from services.track_display import minutes_seconds
from services.track_filter import RERELEASE_CHOICES, TRIAGE_STATES


def local_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    """A timestamp in the server's local time zone, or an empty string."""
    return value.astimezone().strftime(fmt) if value else ""


def thousands(value: int | float | None) -> str:
    """12345 -> '12,345'; None -> '—'."""
    if value is None:
        return "—"
    return f"{value:,}"


def duration(milliseconds: int | None) -> str:
    """327441 -> '5:27'; None -> '—'."""
    return minutes_seconds(milliseconds) or "—"


def configure(engine: JinjaTemplateEngine) -> None:
    """Register Crate's filters and shared choices on the Jinja environment."""
    engine.engine.filters.update(
        local_time=local_time,
        thousands=thousands,
        duration=duration,
        job_title=job_title,
        job_name=job_name,
        state_word=state_word,
    )
    # The tracks filter's choices that every list page (tracks, crates) offers.
    engine.engine.globals.update(triage_states=TRIAGE_STATES, rerelease_choices=RERELEASE_CHOICES)
