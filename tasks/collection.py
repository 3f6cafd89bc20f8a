"""The Beatport collection job: a thin wrapper around CollectionService.collect."""

from __future__ import annotations

from services import jobs
from services.beatport_client import BeatportClient, BeatportError
from services.collection import CollectionService, CollectRequest
from tasks.jobs import JobContext

COLLECT_KIND = "collect_bp_tracks_task"


async def collect_bp_tracks_task(job: JobContext) -> jobs.Snapshot:
    """Collect one Beatport source into the library; Beatport's refusals fail the job in words."""
    request = CollectRequest.from_params(job.params)
    service = CollectionService(progress=job.progress, task_id=job.task_id)
    try:
        async with BeatportClient(job.settings) as client:
            return await service.collect(request, source=client, checkpoint=job.checkpoint)
    except BeatportError as exc:
        raise jobs.JobFailed(str(exc)) from exc
