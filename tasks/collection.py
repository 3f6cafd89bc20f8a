"""The Beatport collection job: a thin wrapper around CollectionService.collect."""

from __future__ import annotations

from services import jobs
from services.beatport.client import BeatportClient
from services.beatport.wire import BeatportError
from services.collect_request import CollectRequest
from services.collection import CollectionService
from services.enrich_request import EnrichRequest
from tasks.enrichment import ENRICH_KIND
from tasks.jobs import JobContext, enqueue

COLLECT_KIND = "collect_bp_tracks_task"


async def collect_bp_tracks_task(job: JobContext) -> jobs.Snapshot:
    """Collect one Beatport source into the library; Beatport's refusals fail the job in words."""
    request = CollectRequest.from_params(job.params)
    service = CollectionService(
        progress=job.progress,
        task_id=job.task_id,
        job_pk=job.row_id,
        claim=job.claim,
        params=job.params,
    )
    try:
        async with BeatportClient(job.settings, transport=job.http_transport) as client:
            final = await service.collect(request, source=client, checkpoint=job.checkpoint)
    except BeatportError as exc:
        raise jobs.JobFailed(str(exc)) from exc
    if job.params.get("then_enrich") and job.settings.spotify_configured:
        # A scheduled collection goes on to match what it collected.
        follow_up = EnrichRequest(job_task_id=job.task_id).to_params()
        await enqueue(job.broker, ENRICH_KIND, follow_up)
    return final
