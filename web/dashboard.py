"""The dashboard and the job history."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from services import jobs, library_stats
from services.settings import Settings
from web import charts
from web.collect import form_context
from web.spotify import status_context

JOBS_PER_PAGE = 50


class DashboardController(Controller):
    """`/` and `/jobs`."""

    @get("/", name="dashboard")
    async def index(self, settings: NamedDependency[Settings]) -> Template:
        """Library totals and pictures, recent jobs with live badges."""
        totals = await library_stats.library_totals()
        recent = await jobs.recent(10)
        stats = await library_stats.library_stats(totals) if totals.tracks else None
        return Template(
            "dashboard.html",
            context={
                "totals": totals,
                "jobs": [with_snapshot(row) for row in recent],
                **await form_context(settings),
                "pictures": charts.pictures(stats) if stats else None,
                **await status_context(settings),
            },
        )

    @get("/jobs", name="jobs")
    async def history(self, page: FromQuery[int] = 1) -> Template:
        """Every job, newest first, kept in the database."""
        # Bounded: an absurd page number is an empty page, not an overflow in the database.
        page = min(max(1, page), 1_000_000)
        rows = await jobs.recent(JOBS_PER_PAGE + 1, offset=(page - 1) * JOBS_PER_PAGE)
        return Template(
            "jobs.html",
            context={
                "jobs": [with_snapshot(row) for row in rows[:JOBS_PER_PAGE]],
                "page": page,
                "has_next": len(rows) > JOBS_PER_PAGE,
            },
        )


def with_snapshot(row: dict[str, object]) -> dict[str, object]:
    """A job row plus the Snapshot its badge renders."""
    return {**row, "snapshot": jobs.snapshot_of(row)}
