"""The Spotify enrichment job: a thin wrapper around the Enricher."""

from __future__ import annotations

from services import jobs
from services.enrich_request import EnrichRequest
from services.enrichment import Enricher, EnrichState
from services.spotify.client import SpotifyCatalog
from services.spotify.errors import SpotifyNotConfigured
from tasks.jobs import JobContext

ENRICH_KIND = "enrich_spotify_data_task"


async def enrich_spotify_data_task(job: JobContext) -> jobs.Snapshot:
    """Match the requested tracks to Spotify, resuming from the job's checkpoint."""
    request = EnrichRequest.from_params(job.params)
    try:
        catalog = SpotifyCatalog.from_settings(job.settings)
    except SpotifyNotConfigured as exc:
        raise jobs.JobFailed(str(exc)) from exc
    try:
        enricher = Enricher(
            spotify=catalog,
            threshold=job.settings.spotify_match_threshold,
            progress=job.progress,
            checkpoint=job.progress.checkpoint,
            state=EnrichState.from_json(job.checkpoint),
            claimer=job.row_id or 0,
        )
        return await enricher.run(request)
    finally:
        catalog.close()
