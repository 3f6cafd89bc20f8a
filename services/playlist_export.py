"""Send a crate to a Spotify playlist: one private playlist per crate, equal to the crate.

The first run creates the playlist with `POST /me/playlists` and keeps its id and link
on the crate. Every run then makes it equal to the crate, in crate order: `PUT
/playlists/{id}/items` with the first 100 URIs (replacing whatever was there), then
`POST /playlists/{id}/items` with the rest, 100 at a time at their positions. So a
1,000-track crate takes 11 playlist requests (a check or a create, 1 PUT, 9 POSTs), and
running again leaves one playlist with no duplicates. A playlist the user deleted (or
that belongs to another account than the one connected now) is created anew.

Tracks without a Spotify match are skipped and counted. 429s are waited out as in
enrichment: short waits inside the job, long ones put it to sleep (`JobDeferred`), and
the next run starts the filling over, so the playlist always ends equal to the crate.
A 5xx or a timeout on an append may have been applied, so the filling starts over from
the PUT rather than risk a duplicate.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any, Final, Protocol, TypeVar

from services import jobs
from services.enrichment import BACKOFF, INLINE_WAIT_LIMIT, MAX_DEFERRALS, UNAVAILABLE_ATTEMPTS
from services.spotify.errors import (
    NotFound,
    SpotifyAuthError,
    SpotifyError,
    SpotifyRateLimited,
    SpotifyUnavailable,
)
from services.spotify.playlists import MAX_URIS, Playlist
from services.tables import Crate, CrateTrack

T = TypeVar("T")

KIND: Final = "export_spotify_playlist_task"
# How often the filling may start over (after a 5xx on an append, or a playlist deleted
# while Crate was filling it) before the job gives up.
MAX_RESTARTS: Final = 5
_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


class PlaylistCalls(Protocol):
    """The playlist calls an export makes (SpotifyPlaylists, or a test double)."""

    async def create(self, name: str, description: str) -> Playlist:
        """Create a private playlist."""
        ...

    async def get(self, playlist_id: str) -> Playlist | None:
        """A playlist's details; None when it is gone."""
        ...

    async def mine(self) -> list[Playlist]:
        """The user's newest playlists."""
        ...

    async def rename(self, playlist_id: str, name: str) -> None:
        """Rename a playlist."""
        ...

    async def replace_items(self, playlist_id: str, uris: list[str]) -> None:
        """Replace a playlist's items with up to 100 URIs."""
        ...

    async def add_items(self, playlist_id: str, uris: list[str], position: int) -> None:
        """Insert up to 100 URIs at a position."""
        ...


@dataclass(frozen=True, slots=True)
class CrateToSend:
    """A crate as the export reads it."""

    id: int
    name: str
    playlist_id: str | None
    uris: list[str]
    skipped: int

    @property
    def marker(self) -> str:
        """Written in the playlist's description: tells Crate's playlist for this crate."""
        return f"Sent from Crate (crate {self.id})."


async def crate_summary(crate_id: int) -> dict[str, Any] | None:
    """A crate's id, name and playlist (what the send form shows); None when it is gone."""
    row = (
        await Crate.select(
            Crate._meta.primary_key.as_alias("id"),
            Crate.name,
            Crate.spotify_playlist_id,
            Crate.spotify_playlist_url,
        )
        .where(Crate._meta.primary_key == crate_id)
        .first()
    )
    return row


async def read_crate(crate_id: int) -> CrateToSend | None:
    """The crate's name, playlist and Spotify URIs in crate order; None when it is gone."""
    crate = (
        await Crate.select(Crate.name, Crate.spotify_playlist_id)
        .where(Crate._meta.primary_key == crate_id)
        .first()
    )
    if crate is None:
        return None
    rows = (
        await CrateTrack.select(CrateTrack.track.spotify_id.as_alias("spotify_id"))
        .where(CrateTrack.crate == crate_id)
        .order_by(CrateTrack.position)
        .order_by(CrateTrack._meta.primary_key)
    )
    ids = [row["spotify_id"] for row in rows]
    uris = [f"spotify:track:{i}" for i in ids if isinstance(i, str) and _SPOTIFY_ID.match(i)]
    return CrateToSend(
        crate_id, crate["name"], crate["spotify_playlist_id"], uris, len(ids) - len(uris)
    )


async def keep_playlist(crate_id: int, playlist: Playlist) -> None:
    """Remember the crate's playlist (its id and link)."""
    await Crate.update(
        {Crate.spotify_playlist_id: playlist.id, Crate.spotify_playlist_url: playlist.url}
    ).where(Crate._meta.primary_key == crate_id)


Sleep = Callable[[float], Awaitable[None]]
Checkpoint = Callable[[dict[str, Any]], Awaitable[None]]


async def _no_checkpoint(value: dict[str, Any]) -> None:
    del value


class _StartOver(Exception):
    """The filling must start again from the PUT (an append may have been applied)."""


@dataclass(slots=True)
class PlaylistExport:
    """One run of sending a crate to its playlist."""

    playlists: PlaylistCalls
    user_id: str  # the connected Spotify account (who must own the playlist)
    progress: jobs.Progress = field(default_factory=jobs.NullProgress)
    checkpoint: Checkpoint = _no_checkpoint
    sleep: Sleep = asyncio.sleep
    deferrals: int = 0  # long waits so far (kept in the job's checkpoint)
    snapshot: jobs.Snapshot = field(default_factory=lambda: jobs.Snapshot(state="running"))
    _failures: int = 0  # in a row, for the backoff

    async def run(self, crate_id: int) -> jobs.Snapshot:
        """Make the crate's playlist equal to the crate; the final snapshot.

        Raises jobs.JobFailed (the reason in words) or jobs.JobDeferred (a long wait).
        """
        crate = await read_crate(crate_id)
        if crate is None:
            raise jobs.JobFailed("That crate no longer exists.")
        counts = {"sent": 0, "skipped": crate.skipped}
        self.snapshot = jobs.Snapshot(
            state="running", phase="sending", done=0, total=len(crate.uris), counts=counts
        )
        await self.progress.update(self.snapshot)
        try:
            await self._send(crate)
        except SpotifyAuthError as exc:
            raise jobs.JobFailed(str(exc)) from exc
        except SpotifyError as exc:
            raise jobs.JobFailed(
                f"{exc} The playlist may hold only part of the crate: send it again."
            ) from exc
        self.snapshot = replace(
            self.snapshot,
            state="succeeded",
            phase="done",
            retry_at=None,
            done=len(crate.uris),
            counts={"sent": len(crate.uris), "skipped": crate.skipped},
        )
        return self.snapshot

    async def _send(self, crate: CrateToSend) -> None:
        playlist_id = crate.playlist_id
        for _ in range(MAX_RESTARTS):
            try:
                playlist = await self._playlist(crate, playlist_id)
                playlist_id = playlist.id
                await self._fill(playlist.id, crate.uris)
                return
            except NotFound:
                playlist_id = None  # deleted while Crate was at it: make a new one
            except _StartOver:
                pass
        raise jobs.JobFailed(
            f"Spotify kept failing while Crate filled the playlist ({MAX_RESTARTS} tries); "
            "it may hold only part of the crate: send it again later."
        )

    async def _playlist(self, crate: CrateToSend, playlist_id: str | None) -> Playlist:
        """The crate's playlist as it is on Spotify: checked, renamed, or created anew."""
        if playlist_id:
            found = await self._call(lambda: self.playlists.get(playlist_id))
            if found is not None and found.owner_id == self.user_id:
                if found.name != crate.name:
                    await self._call(lambda: self.playlists.rename(found.id, crate.name))
                return found
        create = partial(self.playlists.create, crate.name, crate.marker)
        try:
            created = await self._call(create, idempotent=False)
        except SpotifyUnavailable:
            # The create may have happened: adopt it rather than make a second playlist.
            adopted = await self._adopt(crate)
            created = adopted if adopted is not None else await self._call(create)
        await keep_playlist(crate.id, created)
        return created

    async def _adopt(self, crate: CrateToSend) -> Playlist | None:
        mine = await self._call(self.playlists.mine)
        return next(
            (p for p in mine if p.name == crate.name and p.description == crate.marker), None
        )

    async def _fill(self, playlist_id: str, uris: list[str]) -> None:
        """PUT the first 100, then POST the rest 100 at a time at their positions."""
        try:
            first = uris[:MAX_URIS]
            await self._call(partial(self.playlists.replace_items, playlist_id, first))
            await self._report(len(first))
            for start in range(MAX_URIS, len(uris), MAX_URIS):
                await self.progress.check_cancelled()
                batch = uris[start : start + MAX_URIS]
                append = partial(self.playlists.add_items, playlist_id, batch, start)
                await self._call(append, idempotent=False)
                await self._report(start + len(batch))
        except SpotifyUnavailable:
            # An append may have been applied before the failure: start over from the PUT.
            await self._wait(self._next_backoff(), "for Spotify to recover")
            raise _StartOver() from None

    async def _call(self, call: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        """One request, waiting out 429s (and, for a request safe to repeat, 5xx)."""
        failures = 0
        while True:
            try:
                result = await call()
            except SpotifyRateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else self._next_backoff()
                await self._wait(wait, "for Spotify", long=exc.quota)
                continue
            except SpotifyUnavailable:
                failures += 1
                if not idempotent or failures >= UNAVAILABLE_ATTEMPTS:
                    raise
                await self._wait(self._next_backoff(), "for Spotify to recover")
                continue
            self._failures = 0
            return result

    def _next_backoff(self) -> float:
        self._failures += 1
        return BACKOFF.wait(self._failures)

    async def _wait(self, seconds: float, reason: str, *, long: bool = False) -> None:
        """Wait inline (badge: waiting until …), or defer the job when the wait is long."""
        until = jobs.now() + timedelta(seconds=seconds)
        self.snapshot = replace(self.snapshot, state="waiting", phase=reason, retry_at=until)
        if long or seconds > INLINE_WAIT_LIMIT:
            self.deferrals += 1
            if self.deferrals > MAX_DEFERRALS:
                raise jobs.JobFailed(
                    f"Spotify kept asking Crate to wait ({MAX_DEFERRALS} long waits); the "
                    "playlist may hold only part of the crate: send it again later."
                )
            await self.checkpoint({"deferrals": self.deferrals})
            raise jobs.JobDeferred(until, self.snapshot)
        await self.progress.update(self.snapshot)
        await self.sleep(seconds)
        self.snapshot = replace(self.snapshot, state="running", phase="sending", retry_at=None)
        await self.progress.update(self.snapshot)

    async def _report(self, done: int) -> None:
        counts = {**self.snapshot.counts, "sent": done}
        self.snapshot = replace(self.snapshot, done=done, counts=counts)
        await self.progress.update(self.snapshot)
