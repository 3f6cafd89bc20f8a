"""Digging: crates (named, ordered track lists), the Spotify login, a dig's decision per track.

The tables are frozen here as they were when this migration was written (a migration must
not follow later edits of services/tables.py), and created by Piccolo's own DDL so both
engines get their native types.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.engine import engine_finder
from piccolo.table import Table

ID = "2026-12-07T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "crates, crate tracks, the Spotify login; track triage"

AFTER_TABLES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS crate_track_unique ON crate_track (crate, track)",
    "CREATE INDEX IF NOT EXISTS crate_track_order ON crate_track (crate, position)",
    "ALTER TABLE track ADD COLUMN triage VARCHAR(10) NOT NULL DEFAULT 'new'",
    "ALTER TABLE track ADD COLUMN triage_at TIMESTAMPTZ NULL DEFAULT NULL",
    "CREATE INDEX IF NOT EXISTS track_triage ON track (triage)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None

        class Track(Table, db=engine):
            pass

        class Crate(Table, db=engine):
            name = Varchar(length=200)
            spotify_playlist_id = Varchar(length=64, null=True, default=None)
            spotify_playlist_url = Text(null=True, default=None)
            created_at = Timestamptz(default=TimestamptzNow())
            updated_at = Timestamptz(default=TimestamptzNow())

        class CrateTrack(Table, tablename="crate_track", db=engine):
            crate = ForeignKey(references=Crate, on_delete=OnDelete.cascade)
            track = ForeignKey(references=Track, on_delete=OnDelete.cascade, index=True)
            position = Integer(default=0)
            added_at = Timestamptz(default=TimestamptzNow())

        class SpotifyLogin(Table, tablename="spotify_login", db=engine):
            spotify_user_id = Varchar(length=200, default="")
            display_name = Varchar(length=400, default="")
            access_token = Text(default="")
            refresh_token = Text(default="")
            expires_at = DoublePrecision(default=0.0)
            scope = Text(default="")
            created_at = Timestamptz(default=TimestamptzNow())
            updated_at = Timestamptz(default=TimestamptzNow())

        for table in (Crate, CrateTrack, SpotifyLogin):
            await table.create_table(if_not_exists=True)
        for statement in AFTER_TABLES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
