"""Every job kind Crate runs, registered on a broker."""

from __future__ import annotations

from taskiq import AsyncBroker

from services.search_index import catch_up_quietly
from tasks.collection import COLLECT_KIND, collect_bp_tracks_task
from tasks.enrichment import ENRICH_KIND, enrich_spotify_data_task
from tasks.jobs import register_job
from tasks.playlist_export import EXPORT_KIND, export_spotify_playlist_task
from tasks.schedules import RUN_SCHEDULE_TASK, run_schedule
from tasks.stream import TICK_TASK


async def tick() -> None:
    """Does nothing: its arrival makes a worker reclaim orphaned jobs (see tasks.stream)."""


def register_all(broker: AsyncBroker) -> None:
    """Register Crate's jobs on `broker`."""
    # New tracks enter SQLite's search index once the collection has ended.
    register_job(broker, COLLECT_KIND, collect_bp_tracks_task, after=catch_up_quietly)
    register_job(broker, ENRICH_KIND, enrich_spotify_data_task)
    register_job(broker, EXPORT_KIND, export_spotify_playlist_task)
    broker.register_task(tick, task_name=TICK_TASK)
    broker.register_task(run_schedule, task_name=RUN_SCHEDULE_TASK)
