"""The dashboard's "This week": per followed chart, what its latest collection brought in
(new entries and re-entries) and what climbed most, each track with its preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from services import chart_follow, chart_history
from services.chart_history import Entry, Source
from services.tables import Track

# How many tracks each list shows per chart.
SHOWN: Final = 5


@dataclass(frozen=True)
class ChartWeek:
    """One followed chart's week: its newest collection's new entries and top climbers."""

    source: Source
    task_id: str  # the newest collection's job ("dig these" plays its undecided tracks)
    partial: bool
    entered: list[Entry]
    climbed: list[Entry]
    previews: dict[int, str] = field(default_factory=dict)  # track id -> preview URL


async def this_week(shown: int = SHOWN) -> list[ChartWeek]:
    """Every followed chart collected at least once, the most recently collected first."""
    weeks: list[ChartWeek] = []
    keys = await chart_follow.followed()  # one read of the schedules, not one per source
    if not keys:
        return weeks
    for source in await chart_history.sources():
        if not source.collections or source.key not in keys:
            continue
        moved = await chart_history.movement(source)
        ordered = sorted(moved.entries, key=lambda e: e.position or 10**6)
        entered = [e for e in ordered if e.movement in ("new", "reentry")][:shown]
        climbers = [e for e in ordered if e.movement == "up"]
        climbed = sorted(climbers, key=lambda e: (-e.change, e.position or 10**6))[:shown]
        weeks.append(
            ChartWeek(
                source=source,
                task_id=moved.current.task_id,
                partial=moved.current.partial,
                entered=entered,
                climbed=climbed,
                previews=await _previews([e.track_id for e in entered + climbed]),
            )
        )
    return weeks


async def _previews(track_ids: list[int]) -> dict[int, str]:
    """The Beatport preview of each of these tracks that has one."""
    if not track_ids:
        return {}
    rows = await Track.select(Track._meta.primary_key, Track.sample_url).where(
        Track._meta.primary_key.is_in(track_ids)
    )
    return {int(row["id"]): str(row["sample_url"]) for row in rows if row["sample_url"]}
