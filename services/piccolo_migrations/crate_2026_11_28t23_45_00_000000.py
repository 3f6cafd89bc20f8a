"""Composite indexes Piccolo's auto migrations cannot express."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T23:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique credits and job sightings; composite browse indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS track_artist_unique ON track_artist (track, role, artist)",
    "CREATE INDEX IF NOT EXISTS track_artist_by_artist ON track_artist (artist, track)",
    "CREATE UNIQUE INDEX IF NOT EXISTS job_track_unique ON job_track (job, track)",
    "CREATE INDEX IF NOT EXISTS track_spotify_state ON track (spotify_searched_at, spotify_id)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
