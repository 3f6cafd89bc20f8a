"""Browsing at 100,000 tracks: a word-search index and a covering index for every sort.

Search: pg_trgm's GIN index on PostgreSQL, an FTS5 trigram table kept in step by triggers
on SQLite; both find a word anywhere in `search_text`, like LIKE '%word%' but indexed.

Sorts: one index per sort of the tracks list, ordered exactly as services.catalog orders
(NULL smallest: first ascending, last descending), carrying the broad filter columns, so
a page walks one index, reads the filters off it, and stops after one page of tracks.
`label` and `genre` get the same treatment (label order walks label by label).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search and browse indexes"

# The columns services.catalog filters on broadly; every browse index carries them.
BROAD = "genre, bpm, camelot, new_release_date, spotify_searched_at, spotify_id"

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS track_search_trgm ON track USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS track_browse_newest"
    f" ON track (new_release_date DESC NULLS LAST, id DESC) INCLUDE ({BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_bpm ON track (bpm NULLS FIRST, id) INCLUDE ({BROAD})",
    "CREATE INDEX IF NOT EXISTS track_browse_key"
    f" ON track (length(camelot) NULLS FIRST, camelot NULLS FIRST, id) INCLUDE ({BROAD})",
    "CREATE INDEX IF NOT EXISTS track_browse_title"
    f" ON track (lower(title), id) INCLUDE (title, {BROAD})",
    "CREATE INDEX IF NOT EXISTS track_browse_artist"
    f" ON track (lower(artists_text), id) INCLUDE (artists_text, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_label ON track (label, id) INCLUDE ({BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_genre ON track (genre, id) INCLUDE ({BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_camelot ON track (camelot, id) INCLUDE ({BROAD})",
    "CREATE INDEX IF NOT EXISTS label_by_name ON label (lower(name), id)",
    "ANALYZE track",
]

SQLITE = [
    # External content: the words live once, in track; the triggers keep the index in step.
    "CREATE VIRTUAL TABLE IF NOT EXISTS track_fts USING fts5("
    "search_text, content='track', content_rowid='id', tokenize='trigram')",
    "INSERT INTO track_fts(track_fts) VALUES ('rebuild')",
    "CREATE TRIGGER IF NOT EXISTS track_fts_insert AFTER INSERT ON track BEGIN"
    " INSERT INTO track_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS track_fts_delete AFTER DELETE ON track BEGIN"
    " INSERT INTO track_fts(track_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS track_fts_update AFTER UPDATE OF search_text ON track BEGIN"
    " INSERT INTO track_fts(track_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text);"
    " INSERT INTO track_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    # SQLite (3.40) only treats an index as covering when it holds the plain columns too,
    # hence title and artists_text next to their lower() keys.
    f"CREATE INDEX IF NOT EXISTS track_browse_newest ON track (new_release_date, id, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_bpm ON track (bpm, id, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_key ON track (length(camelot), camelot, id, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_title ON track (lower(title), id, title, {BROAD})",
    "CREATE INDEX IF NOT EXISTS track_browse_artist"
    f" ON track (lower(artists_text), id, artists_text, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_label ON track (label, id, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_genre ON track (genre, id, {BROAD})",
    f"CREATE INDEX IF NOT EXISTS track_browse_camelot ON track (camelot, id, {BROAD})",
    "CREATE INDEX IF NOT EXISTS label_by_name ON label (lower(name), id)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        statements = SQLITE if engine.engine_type == "sqlite" else POSTGRES
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
