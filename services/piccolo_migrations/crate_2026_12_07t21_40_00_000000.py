"""Re-releases: `track.rerelease`, indexed, filled in for the tracks matched so far.

The rule is frozen here as it was when this migration was written (services/rerelease.py
explains it): Spotify's date read as the last day it may mean, more than 90 days before
Beatport's release date.
"""

import calendar
import re
from datetime import date, timedelta
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-07T21:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "track.rerelease: the Spotify album came out long before Beatport's date"

STATEMENTS = [
    "ALTER TABLE track ADD COLUMN rerelease BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE INDEX IF NOT EXISTS track_rerelease ON track (rerelease, new_release_date)",
]
BATCH = 500
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def _latest_day(text: str | None) -> date | None:
    match = _DATE_RE.fullmatch((text or "").strip())
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        if month is None:
            return date(int(year), 12, 31)
        if day is None:
            return date(int(year), int(month), calendar.monthrange(int(year), int(month))[1])
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _day(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


async def backfill(engine: Any) -> None:
    """Flag the tracks matched so far, a batch of ids per UPDATE."""
    rows = await engine.run_querystring(
        QueryString(
            "SELECT id, spotify_release_date, new_release_date FROM track"
            " WHERE spotify_id IS NOT NULL AND spotify_release_date IS NOT NULL"
            " AND new_release_date IS NOT NULL"
        )
    )
    flagged = []
    for row in rows:
        spotify, beatport = (
            _latest_day(row["spotify_release_date"]),
            _day(row["new_release_date"]),
        )
        if spotify and beatport and spotify < beatport - timedelta(days=90):
            flagged.append(int(row["id"]))
    for start in range(0, len(flagged), BATCH):
        ids = ", ".join(str(i) for i in flagged[start : start + BATCH])
        await engine.run_querystring(
            QueryString(f"UPDATE track SET rerelease = TRUE WHERE id IN ({ids})")
        )


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)
        await backfill(engine)

    manager.add_raw(run)
    return manager
