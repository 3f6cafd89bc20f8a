"""Jobs converge: a fencing number and a lease on each job row, claims on tracks.

`job.claim` counts the claims made on a job; a run writes only while the row still holds
its number, so a worker that lost the job (its lease lapsed while Redis or the network
was away) cannot write again. `job.lease_until` is when an unrenewed claim lapses and
`job.kicked_at` when the job was last handed to the queue: the reconciler finds jobs
nobody holds from them. `track.spotify_claim_job` / `spotify_claim_until` let two
enrichment jobs split the tracks instead of both searching each one.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job claims and leases; enrichment claims on tracks"

STATEMENTS = [
    "ALTER TABLE job ADD COLUMN claim INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE job ADD COLUMN lease_until DOUBLE PRECISION NULL DEFAULT NULL",
    "ALTER TABLE job ADD COLUMN kicked_at DOUBLE PRECISION NULL DEFAULT NULL",
    "ALTER TABLE track ADD COLUMN spotify_claim_job INTEGER NULL DEFAULT NULL",
    "ALTER TABLE track ADD COLUMN spotify_claim_until DOUBLE PRECISION NULL DEFAULT NULL",
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
