"""Charts over time: a track's positions across collections read from an index.

`job_track_by_track (track, job, position)` answers "where was each track of this
collection in the source's other collections" (services.chart_history: best position,
weeks on the chart, history lines) from the index alone, on both engines.
"""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job_track covering index by track, for chart movement"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS job_track_by_track ON job_track (track, job, position)"
        )

    manager.add_raw(run)
    return manager
