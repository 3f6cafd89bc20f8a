"""Following a chart: one click makes a weekly schedule that collects it and then matches
its new tracks to Spotify (services.schedules runs it). Following a chart twice makes no
second schedule."""

from __future__ import annotations

import json
from typing import Final

from services import schedules
from services.beatport.links import parse_target
from services.beatport.targets import InvalidTarget
from services.chart_history import Source, source_key
from services.tables import Schedule

# Mondays at 06:00: Beatport's weekly charts have moved by then.
WEEKLY: Final = "0 6 * * 1"


async def followed() -> dict[str, int]:
    """Each followed source's key with the id of the (first) schedule that collects it."""
    rows = await Schedule.select(Schedule._meta.primary_key, Schedule.params).order_by(
        Schedule._meta.primary_key
    )
    keys: dict[str, int] = {}
    for row in rows:
        params = row["params"]
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except ValueError:
                continue
        url = params.get("url") if isinstance(params, dict) else None
        if not isinstance(url, str):
            continue
        try:
            key = source_key(parse_target(url))
        except InvalidTarget:
            continue
        if key is not None:
            keys.setdefault(key, int(row["id"]))
    return keys


async def following(key: str) -> int | None:
    """The id of a schedule that collects the source `key`, if one does."""
    return (await followed()).get(key)


async def follow(source: Source) -> tuple[int, bool]:
    """A weekly schedule collecting `source` then matching to Spotify: (its id, whether it
    was made now; False when one already collects this source)."""
    existing = await following(source.key)
    if existing is not None:
        return existing, False
    form = schedules.parse_schedule_form(
        name=f"Follow {source.name}"[:200], cron=WEEKLY, url=source.url, enrich_after="1"
    )
    return await schedules.create(form), True
