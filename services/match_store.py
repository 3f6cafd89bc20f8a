"""What Spotify enrichment reads from and writes to the library: the tracks a request
selects (as a walk for services.claims), the tracks to search with their credits, and
each search's outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services import claims, jobs
from services.enrich_request import EnrichRequest
from services.matching.choice import Match
from services.rerelease import is_rerelease
from services.tables import Job, Track, TrackArtist


async def record_match(track_id: int, match: Match | None) -> None:
    """Store a search's outcome: the match's fields (and whether the track is a re-release,
    services.rerelease), or "searched, not found"."""
    values: dict[Any, Any] = {Track.spotify_searched_at: jobs.now(), Track.spotify_error: None}
    if match is None:
        values.update(
            {
                Track.spotify_id: None,
                Track.spotify_method: None,
                Track.spotify_confidence: None,
                Track.rerelease: False,
            }
        )
    else:
        found = match.track
        stored = (
            await Track.select(Track.new_release_date)
            .where(Track._meta.primary_key == track_id)
            .first()
        )
        beatport_day = stored["new_release_date"] if stored else None
        values.update(
            {
                Track.spotify_id: found.id,
                Track.spotify_url: found.url,
                Track.spotify_title: found.name,
                Track.spotify_artists: ", ".join(found.artists),
                Track.spotify_album: found.album,
                Track.spotify_album_id: found.album_id,
                Track.spotify_album_image_url: found.album_image_url,
                Track.spotify_release_date: found.release_date,
                Track.spotify_duration_ms: found.duration_ms,
                Track.spotify_isrc: found.isrc,
                Track.spotify_popularity: found.popularity,
                Track.spotify_preview_url: found.preview_url,
                Track.spotify_method: match.method,
                Track.spotify_confidence: round(match.confidence, 4),
                Track.rerelease: is_rerelease(found.release_date, beatport_day),
            }
        )
    await Track.update(values).where(Track._meta.primary_key == track_id)


async def job_row_id(task_id: str | None) -> int | None:
    if task_id is None:
        return None
    row = await Job.select(Job._meta.primary_key).where(Job.task_id == task_id).first()
    if row is None:
        raise jobs.JobFailed(f"No job has the id {task_id!r}, so there are no tracks to enrich.")
    return int(row["id"])


def walk_for(request: EnrichRequest, job_pk: int | None, since: float) -> claims.Walk:
    """The tracks a request selects, as SQL conditions for the claims' walk.

    Retrying "not found", a track searched since the job first ran is left alone: this
    job searched it already (its walk in id order passed it), or another job did.
    """
    clauses: list[str] = []
    values: list[Any] = []
    if request.retry_not_found:
        clauses.append(
            "(t.spotify_searched_at IS NULL"
            " OR (t.spotify_id IS NULL AND t.spotify_searched_at < {}))"
        )
        values.append(datetime.fromtimestamp(since, UTC))
    else:
        clauses.append("t.spotify_searched_at IS NULL")
    if job_pk is not None:
        clauses.append("t.id IN (SELECT jt.track FROM job_track jt WHERE jt.job = {})")
        values.append(job_pk)
    return claims.Walk(" AND ".join(clauses), tuple(values))


async def tracks_to_search(ids: list[int]) -> list[dict[str, Any]]:
    """The tracks `ids` in id order, with their artists and remixers in credit order."""
    if not ids:
        return []
    rows = (
        await Track.select(
            Track._meta.primary_key,
            Track.title,
            Track.mix_name,
            Track.isrc,
            Track.length_ms,
        )
        .where(Track._meta.primary_key.is_in(ids))
        .order_by(Track._meta.primary_key)
    )
    credits = (
        await TrackArtist.select(TrackArtist.track, TrackArtist.role, TrackArtist.artist.name)
        .where(TrackArtist.track.is_in(ids))
        .order_by(TrackArtist.track)
        .order_by(TrackArtist.position)
    )
    names: dict[int, dict[str, list[str]]] = {i: {"artist": [], "remixer": []} for i in ids}
    for credit in credits:
        names[int(credit["track"])][credit["role"]].append(credit["artist.name"])
    return [
        {
            **row,
            "artists": names[int(row["id"])]["artist"],
            "remixers": names[int(row["id"])]["remixer"],
        }
        for row in rows
    ]
