"""The dashboard and the job history.

Both answer an htmx request with only the part jobs change (the dashboard's totals,
pictures and recent jobs; a page of the history): those parts fetch themselves again when
a badge on the page ends (`job-ended`, fired by web/status.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from services import chart_week, jobs, library_stats
from services.settings import Settings
from web import charts
from web.collect import form_context
from web.responses import wanted
from web.spotify import status_context

JOBS_PER_PAGE = 50


class DashboardController(Controller):
    """`/` and `/jobs`."""

    @get("/", name="dashboard")
    async def index(self, request: HTMXRequest, settings: NamedDependency[Settings]) -> Template:
        """Library totals and pictures, recent jobs with live badges (htmx: only those)."""
        live = await live_context()
        if wanted(request) == "fragment":
            return Template("dashboard/_live.html", context=live, headers=NO_STORE)
        context = {**live, **await form_context(settings), **await status_context(settings)}
        return Template("dashboard.html", context=context)

    @get("/jobs", name="jobs")
    async def history(self, request: HTMXRequest, page: FromQuery[int] = 1) -> Template:
        """Every job, newest first, kept in the database (htmx: only the list)."""
        # Bounded: an absurd page number is an empty page, not an overflow in the database.
        page = min(max(1, page), 1_000_000)
        rows = await jobs.recent(JOBS_PER_PAGE + 1, offset=(page - 1) * JOBS_PER_PAGE)
        context = {
            "jobs": [with_snapshot(row) for row in rows[:JOBS_PER_PAGE]],
            "page": page,
            "has_next": len(rows) > JOBS_PER_PAGE,
        }
        if wanted(request) == "fragment":
            return Template("jobs/_history.html", context=context, headers=NO_STORE)
        return Template("jobs.html", context=context)


# A part fetched again after a job ended must not come from a cache.
NO_STORE = {"Cache-Control": "no-store"}


async def live_context() -> dict[str, Any]:
    """What the dashboard's live part shows: totals, pictures, the ten newest jobs."""
    totals = await library_stats.library_totals()
    recent = await jobs.recent(10)
    stats = await library_stats.library_stats(totals) if totals.tracks else None
    return {
        "totals": totals,
        "jobs": [with_snapshot(row) for row in recent],
        "pictures": charts.pictures(stats) if stats else None,
        "this_week": await chart_week.this_week(),
    }


def with_snapshot(row: dict[str, object]) -> dict[str, object]:
    """A job row plus the Snapshot its badge renders."""
    return {**row, "snapshot": jobs.snapshot_of(row)}
