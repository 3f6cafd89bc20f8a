"""The Spotify playlist export job: a thin wrapper around `services.playlist_export`."""

from __future__ import annotations

from services import jobs
from services.playlist_export import KIND, PlaylistExport
from services.spotify import oauth
from services.spotify.errors import SpotifyError
from services.spotify.playlists import SpotifyPlaylists
from services.spotify_account import AccountTokens
from tasks.jobs import JobContext

EXPORT_KIND = KIND


async def export_spotify_playlist_task(job: JobContext) -> jobs.Snapshot:
    """Make the crate's Spotify playlist equal to the crate (its params: `crate_id`)."""
    crate_id = int(job.params["crate_id"])
    async with oauth.open_http() as http:
        tokens = AccountTokens(job.settings, http)
        try:
            user_id = await tokens.user_id()
        except SpotifyError as exc:
            raise jobs.JobFailed(str(exc)) from exc
        export = PlaylistExport(
            playlists=SpotifyPlaylists(
                api_url=job.settings.spotify_api_url, tokens=tokens, http=http
            ),
            user_id=user_id,
            progress=job.progress,
            checkpoint=job.progress.checkpoint,
            deferrals=int((job.checkpoint or {}).get("deferrals", 0)),
        )
        return await export.run(crate_id)
