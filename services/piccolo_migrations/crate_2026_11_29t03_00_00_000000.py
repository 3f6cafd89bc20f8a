"""Lighter writes: no index twice, and SQLite's search index brought up to date off the
collection's path.

Nine single-column indexes duplicated the leading column of a composite or covering
index (track.bpm, camelot, genre, label, new_release_date, spotify_searched_at;
track_artist.track, artist; job_track.job); every query they served is served by the
wider one, and each cost a B-tree write per stored row. PostgreSQL compresses the raw
Beatport JSON with LZ4 instead of pglz.

SQLite only: FTS5's trigram tokenizer cost more than storing the track itself. New
tracks now go to `search_pending` (one small row) and `services.search_index.catch_up`
moves them into `track_fts` in batches once a job has ended; until then the search
matches pending tracks with LIKE, so no track is ever missing from a search. The update
and delete triggers touch `track_fts` only for tracks it holds.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop duplicate indexes; deferred search indexing on SQLite"

DUPLICATES = [
    "track_bpm",
    "track_camelot",
    "track_genre",
    "track_label",
    "track_new_release_date",
    "track_spotify_searched_at",
    "track_artist_track",
    "track_artist_artist",
    "job_track_job",
]

PENDING = "(SELECT track FROM search_pending)"

SQLITE = [
    "CREATE TABLE IF NOT EXISTS search_pending (track INTEGER PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS track_fts_insert",
    "DROP TRIGGER IF EXISTS track_fts_update",
    "DROP TRIGGER IF EXISTS track_fts_delete",
    "CREATE TRIGGER track_search_pending AFTER INSERT ON track BEGIN"
    " INSERT OR IGNORE INTO search_pending (track) VALUES (new.id); END",
    # An indexed track's words change: replace them in the index. A pending track's
    # words are read when it is indexed, so nothing is needed for it.
    "CREATE TRIGGER track_fts_update AFTER UPDATE OF search_text ON track"
    f" WHEN old.id NOT IN {PENDING} BEGIN"
    " INSERT INTO track_fts(track_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text);"
    " INSERT INTO track_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    # FTS5 must only be told to delete what it holds (anything else corrupts it); one
    # trigger, so the pending check runs before the pending row goes.
    "CREATE TRIGGER track_search_delete AFTER DELETE ON track BEGIN"
    " INSERT INTO track_fts(track_fts, rowid, search_text)"
    f" SELECT 'delete', old.id, old.search_text WHERE old.id NOT IN {PENDING};"
    " DELETE FROM search_pending WHERE track = old.id; END",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for name in DUPLICATES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")
        if engine.engine_type == "sqlite":
            for statement in SQLITE:
                await engine.run_ddl(statement)
        else:
            # Beatport's JSON (about 3 KB a track) is compressed on write: LZ4 costs a
            # fraction of the default pglz. Servers built without LZ4 keep pglz.
            await engine.run_ddl(
                "DO $$ BEGIN"
                " ALTER TABLE track ALTER COLUMN beatport_json SET COMPRESSION lz4;"
                " EXCEPTION WHEN OTHERS THEN NULL; END $$"
            )
            await engine.run_ddl("ANALYZE track")

    manager.add_raw(run)
    return manager
