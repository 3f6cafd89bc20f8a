"""Every job kind Crate runs, registered on a broker."""

from __future__ import annotations

from taskiq import AsyncBroker

from tasks.collection import COLLECT_KIND, collect_bp_tracks_task
from tasks.enrichment import ENRICH_KIND, enrich_spotify_data_task
from tasks.jobs import register_job


def register_all(broker: AsyncBroker) -> None:
    """Register Crate's jobs on `broker`."""
    register_job(broker, COLLECT_KIND, collect_bp_tracks_task)
    register_job(broker, ENRICH_KIND, enrich_spotify_data_task)
