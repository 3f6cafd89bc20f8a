"""A track's chart runs, for its page: which chart-like sources held it, its best position
in each, how many of their collections held it, and when (services.chart_history)."""

from __future__ import annotations

from typing import Any

from services import db
from services.chart_history import COLLECT_KIND, sources
from services.sql_dialect import number, sql


async def track_runs(track_id: int) -> list[dict[str, Any]]:
    """A track's chart runs: per source that held it, its name, key, best position, how
    many collections held it, first and last seen."""
    [rows] = await db.database().read(
        sql(
            "SELECT jt.job, jt.position FROM job_track jt JOIN job j ON j.id = jt.job"
            f" WHERE jt.track = {number(track_id)} AND j.kind = {{}}",
            COLLECT_KIND,
        )
    )
    if not rows:
        return []
    held = {int(row["job"]): row["position"] for row in rows}
    runs = []
    for item in await sources():
        mine = [c for c in item.collections if c.job_id in held]
        if not mine:
            continue
        known = [int(held[c.job_id]) for c in mine if held[c.job_id] is not None]
        runs.append(
            {
                "key": item.key,
                "name": item.name,
                "best": min(known) if known else None,
                "collections": len(mine),
                "first": mine[0].collected_at,
                "last": mine[-1].collected_at,
            }
        )
    return runs
