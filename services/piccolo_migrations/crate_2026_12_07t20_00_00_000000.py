"""Typed label and artist names, and releases in tracklist order.

`label.name_key` and `artist.name_key` hold each name as services.name_keys compares a typed
one, folded as the search text is, indexed (byte order, so a prefix is a range of the
index): the tracks list's label and artist fields look names up and suggest them from
there. The fold is the frozen copy of the 2026-12-07T19:00 migration (the one that folded
today's search text): a migration does the same thing in a year as today. `track.track_number` is a
track's place on its release: Beatport's `number` where a page carried it, else its place
in a release collection's list.
"""

from __future__ import annotations

import json
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

from services.piccolo_migrations.crate_2026_12_07t19_00_00_000000 import fold

ID = "2026-12-07T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "name keys for labels and artists; track numbers on releases"

BATCH = 1000
# A track's number on its release, from the Beatport JSON, when it is a sane whole number.
SQLITE_NUMBER = (
    "UPDATE track SET track_number = CAST(json_extract(beatport_json, '$.number') AS INTEGER)"
    " WHERE json_valid(beatport_json)"
    " AND json_type(beatport_json, '$.number') = 'integer'"
    " AND json_extract(beatport_json, '$.number') BETWEEN 1 AND 9999"
)
POSTGRES_NUMBER = (
    "UPDATE track SET track_number = CAST(beatport_json::jsonb ->> 'number' AS INTEGER)"
    " WHERE jsonb_typeof(beatport_json::jsonb -> 'number') = 'number'"
    " AND (beatport_json::jsonb ->> 'number') ~ '^[1-9][0-9]{0,3}$'"
)


async def _fill_keys(engine: Any, table: str) -> None:
    """`name_key` for every row of `table`, a batch of rows per statement."""
    last = 0
    while True:
        rows = await engine.run_querystring(
            QueryString(
                f"SELECT id, name FROM {table} WHERE id > {{}} ORDER BY id LIMIT {BATCH}", last
            )
        )
        if not rows:
            return
        values = ", ".join("(CAST({} AS INTEGER), CAST({} AS TEXT))" for _ in rows)
        args = [arg for row in rows for arg in (int(row["id"]), fold(str(row["name"])))]
        await engine.run_querystring(
            QueryString(
                f"UPDATE {table} SET name_key = v.k FROM (VALUES {values}) AS v(i, k)"
                f" WHERE {table}.id = v.i",
                *args,
            )
            if engine.engine_type == "postgres"
            else QueryString(
                # SQLite names a VALUES list's columns column1, column2.
                f"UPDATE {table} SET name_key = v.column2 FROM (VALUES {values}) AS v"
                f" WHERE {table}.id = v.column1",
                *args,
            )
        )
        last = int(rows[-1]["id"])


async def _release_jobs(engine: Any) -> list[int]:
    """The ids of collections of a release: their positions are track numbers."""
    rows = await engine.run_querystring(
        QueryString("SELECT id, params FROM job WHERE kind = 'collect_bp_tracks_task'")
    )
    found = []
    for row in rows:
        params = row["params"]
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except ValueError:
                continue
        target = params.get("target") if isinstance(params, dict) else None
        if isinstance(target, dict) and target.get("kind") == "release":
            found.append(int(row["id"]))
    return found


async def backfill(engine: Any) -> None:
    """Fill the new columns from what the library holds (the columns exist, empty)."""
    for table in ("label", "artist"):
        await _fill_keys(engine, table)
    jobs = await _release_jobs(engine)
    for start in range(0, len(jobs), BATCH):
        chosen = ", ".join(str(job) for job in jobs[start : start + BATCH])
        await engine.run_ddl(
            "UPDATE track SET track_number = (SELECT MAX(jt.position) FROM job_track jt"
            f" WHERE jt.track = track.id AND jt.job IN ({chosen}))"
            f" WHERE id IN (SELECT jt.track FROM job_track jt WHERE jt.job IN ({chosen})"
            " AND jt.position IS NOT NULL)"
        )
    # Beatport's own number wins over a place in a list.
    await engine.run_ddl(POSTGRES_NUMBER if engine.engine_type == "postgres" else SQLITE_NUMBER)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        # Byte order on PostgreSQL whatever the database's collation (SQLite's is binary).
        collate = ' COLLATE "C"' if engine.engine_type == "postgres" else ""
        for table in ("label", "artist"):
            await engine.run_ddl(
                f"ALTER TABLE {table} ADD COLUMN name_key TEXT{collate} NOT NULL DEFAULT ''"
            )
        await engine.run_ddl("ALTER TABLE track ADD COLUMN track_number INTEGER NULL DEFAULT NULL")
        await backfill(engine)
        for table in ("label", "artist"):
            await engine.run_ddl(
                f"CREATE INDEX IF NOT EXISTS {table}_name_key ON {table} (name_key, id)"
            )

    manager.add_raw(run)
    return manager
