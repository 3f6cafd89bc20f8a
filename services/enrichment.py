"""Spotify enrichment: match library tracks to Spotify without losing work to rate limits.

Order of work is stable (by track id) and checkpointed after every track, so a job
that waits for Spotify, is redelivered, or is resumed later continues where it
stopped. A rate limit, a 5xx or a timeout never records a track as "not found":
only an answered search with no acceptable candidate does.

Tracks are claimed in the database a chunk at a time (services.claims) before they are
searched, so two enrichment jobs at once (a schedule beside a manual one, say) split
the tracks instead of both searching each one. Each job counts what it did; one whose
remaining tracks are all held by another ends with a count of those it left to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from services import claims, jobs
from services.enrich_request import EnrichRequest
from services.match_store import job_row_id, record_match, tracks_to_search, walk_for
from services.matching.choice import Match, best_isrc_match, best_text_match, text_search_terms
from services.matching.scoring import TrackQuery
from services.retry import Backoff
from services.spotify.errors import (
    SpotifyAuthError,
    SpotifyError,
    SpotifyForbidden,
    SpotifyRateLimited,
    SpotifyUnavailable,
)
from services.spotify.tracks import SpotifyTrack
from services.tables import Track

T = TypeVar("T")

# Waits up to this long happen inside the job; longer ones put the job to sleep (deferred).
INLINE_WAIT_LIMIT = 30.0
# When Spotify sends no usable Retry-After (missing or 0), and after a 5xx: back off,
# from 1.5-3 s, doubling, to at most 150-300 s.
BACKOFF = Backoff(first=3.0, cap=300.0)
# Consecutive 5xx/timeouts tolerated inline before the job is deferred.
UNAVAILABLE_ATTEMPTS = 5
UNAVAILABLE_DEFER_SECONDS = 120.0
MAX_DEFERRALS = 20
CHUNK = 100
# How long a claim on a chunk of tracks lasts unrenewed; a job renews its claims when a
# third of this has passed (and before an inline wait), and gives them up when it waits
# longer (deferred), so another job can search those tracks meanwhile.
CLAIM_TTL = 600.0
# The count a job that left tracks to another job ends with.
LEFT_TO_ANOTHER_JOB = "left_to_another_job"
FEATURES_BATCH = 50


class SpotifyCalls(Protocol):
    """The Spotify calls enrichment makes (SpotifyCatalog, or a test double)."""

    async def search_isrc(self, isrc: str) -> list[SpotifyTrack]:
        """Search by ISRC."""
        ...

    async def search_text(self, title: str, artist: str) -> list[SpotifyTrack]:
        """Search by title and artist."""
        ...

    async def audio_features(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Audio features by Spotify id."""
        ...


@dataclass(slots=True)
class EnrichState:
    """What a checkpoint keeps between runs of one enrichment job."""

    last_id: int = 0
    done: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"matched_isrc": 0, "matched_text": 0, "not_found": 0, "errors": 0}
    )
    features_off: bool = False
    deferrals: int = 0
    requests: int = 0
    # When the job first ran (Unix seconds): retrying "not found", a track another job
    # searched after that is not searched again.
    since: float | None = None

    def to_json(self) -> dict[str, Any]:
        """For the job's checkpoint."""
        return {
            "last_id": self.last_id,
            "done": self.done,
            "counts": dict(self.counts),
            "features_off": self.features_off,
            "deferrals": self.deferrals,
            "requests": self.requests,
            "since": self.since,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> EnrichState:
        """From a checkpoint (or a fresh state)."""
        state = cls()
        if data:
            state.last_id = int(data.get("last_id", 0))
            state.done = int(data.get("done", 0))
            state.counts.update({k: int(v) for k, v in data.get("counts", {}).items()})
            state.features_off = bool(data.get("features_off", False))
            state.deferrals = int(data.get("deferrals", 0))
            state.requests = int(data.get("requests", 0))
            since = data.get("since")
            state.since = float(since) if since is not None else None
        return state


Sleep = Callable[[float], Awaitable[None]]
Checkpoint = Callable[[dict[str, Any]], Awaitable[None]]


async def _no_checkpoint(value: dict[str, Any]) -> None:
    del value


@dataclass(slots=True)
class Enricher:
    """One enrichment run over the tracks a request selects."""

    spotify: SpotifyCalls
    threshold: float
    progress: jobs.Progress = field(default_factory=jobs.NullProgress)
    checkpoint: Checkpoint = _no_checkpoint
    sleep: Sleep = asyncio.sleep
    state: EnrichState = field(default_factory=EnrichState)
    snapshot: jobs.Snapshot = field(default_factory=lambda: jobs.Snapshot(state="running"))
    # Who claims the tracks: the enrichment job's row id (0: a run outside any job).
    claimer: int = 0
    _failed_calls: int = 0  # in a row, for the backoff
    _held: list[int] = field(default_factory=list)  # tracks claimed and not yet finished
    _renewed_at: float = 0.0  # time.monotonic() of the last claim or renewal

    async def run(self, request: EnrichRequest) -> jobs.Snapshot:
        """Enrich every selected track; returns the final snapshot.

        Raises jobs.JobDeferred when Spotify asks for a long wait, jobs.JobFailed when
        Spotify refuses the credentials or keeps failing. However it ends, the claims
        this run holds are given up (a run that lost its job to another run of it
        writes nothing more: those claims lapse, or that run takes them over).
        """
        try:
            snapshot = await self._run(request)
        except jobs.LeaseLost:
            raise
        except Exception:
            with contextlib.suppress(Exception):  # unreleased claims lapse by themselves
                await self._release_held()
            raise
        await self._release_held()
        return snapshot

    async def _run(self, request: EnrichRequest) -> jobs.Snapshot:
        job_pk = await job_row_id(request.job_task_id)
        if self.state.since is None:
            self.state.since = jobs.clock()
        walk = walk_for(request, job_pk, self.state.since)
        self.snapshot = jobs.Snapshot(
            state="running",
            phase="matching",
            done=self.state.done,
            total=await self._total(request, walk),
            counts=dict(self.state.counts),
        )
        await self.progress.update(self.snapshot)
        while request.limit is None or self.state.done < request.limit:
            budget = CHUNK if request.limit is None else min(CHUNK, request.limit - self.state.done)
            self._held = await claims.claim_next(
                claims.SPOTIFY_SEARCH,
                walk,
                job=self.claimer,
                after_id=self.state.last_id,
                limit=budget,
                ttl=CLAIM_TTL,
            )
            self._renewed_at = time.monotonic()
            if not self._held:
                break
            chunk = await tracks_to_search(self._held)
            matched: list[str] = []
            for row in chunk:
                await self.progress.check_cancelled()
                if int(row["id"]) not in await self._keep_claims():
                    continue  # this run stalled past its claim, and another job took the track
                spotify_id = await self._enrich_one(row)
                if spotify_id:
                    matched.append(spotify_id)
                self.state.last_id = int(row["id"])
                self.state.done += 1
                await self._report()
            await self._store_features(matched)
            await self._release_held()
            self.snapshot = replace(self.snapshot, total=await self._total(request, walk))
        left = await claims.count_held_by_others(claims.SPOTIFY_SEARCH, walk, job=self.claimer)
        if left:
            self.state.counts[LEFT_TO_ANOTHER_JOB] = left
        else:
            self.state.counts.pop(LEFT_TO_ANOTHER_JOB, None)
        self.snapshot = replace(
            self.snapshot,
            state="succeeded",
            phase="done",
            retry_at=None,
            done=self.state.done,
            total=self.state.done,
            counts=dict(self.state.counts),
        )
        return self.snapshot

    async def _total(self, request: EnrichRequest, walk: claims.Walk) -> int:
        """What this job did plus what it may still claim (another job at work beside it
        takes part of that, so the total comes down to what this job did as it goes)."""
        remaining = await claims.count_free(
            claims.SPOTIFY_SEARCH, walk, job=self.claimer, after_id=self.state.last_id
        )
        total = self.state.done + remaining
        return total if request.limit is None else min(total, request.limit)

    async def _keep_claims(self, upcoming: float = 0.0) -> list[int]:
        """The tracks this run still holds, renewing their claims when a third of their
        time has passed (or would, after a wait of `upcoming` seconds)."""
        if time.monotonic() - self._renewed_at + upcoming >= CLAIM_TTL / 3:
            self._held = await claims.renew(
                claims.SPOTIFY_SEARCH, job=self.claimer, ids=self._held, ttl=CLAIM_TTL + upcoming
            )
            self._renewed_at = time.monotonic()
        return self._held

    async def _release_held(self) -> None:
        """Give up the claims of this run's tracks (finished, or left for later)."""
        held, self._held = self._held, []
        await claims.release(claims.SPOTIFY_SEARCH, job=self.claimer, ids=held)

    async def _enrich_one(self, row: dict[str, Any]) -> str | None:
        """Search one track, store the outcome; return the Spotify id when matched."""
        query = TrackQuery(
            title=row["title"],
            mix_name=row["mix_name"],
            artists=tuple(row["artists"]),
            remixers=tuple(row["remixers"]),
            isrc=row["isrc"],
            length_ms=row["length_ms"],
        )
        try:
            match = await self._find(query)
        except SpotifyAuthError as exc:
            raise jobs.JobFailed(str(exc)) from exc
        except (SpotifyRateLimited, SpotifyUnavailable):
            raise  # handled (waited out) in _call; anything reaching here is a bug upstream
        except SpotifyError as exc:
            # A question Spotify would not answer for this track: note it, search it again later.
            self.state.counts["errors"] += 1
            await Track.update({Track.spotify_error: str(exc)[:500]}).where(
                Track._meta.primary_key == row["id"]
            )
            return None
        await record_match(int(row["id"]), match)
        if match is None:
            self.state.counts["not_found"] += 1
            return None
        self.state.counts[f"matched_{match.method}"] += 1
        return match.track.id

    async def _find(self, query: TrackQuery) -> Match | None:
        """ISRC search first; a text search only when that gives no acceptable hit."""
        if query.isrc:
            hits = await self._call(lambda: self.spotify.search_isrc(query.isrc or ""))
            match = best_isrc_match(query, hits, self.threshold)
            if match is not None:
                return match
        title, artist = text_search_terms(query)
        if not title:
            return None
        hits = await self._call(lambda: self.spotify.search_text(title, artist))
        return best_text_match(query, hits, self.threshold)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        """Make one Spotify request, waiting out rate limits and outages as Spotify asks."""
        failures = 0
        while True:
            try:
                result = await call()
            except SpotifyRateLimited as exc:
                self.state.requests += 1
                await self._wait(self._rate_limit_wait(exc), "for Spotify", long=exc.quota)
                continue
            except SpotifyUnavailable:
                self.state.requests += 1
                failures += 1
                if failures >= UNAVAILABLE_ATTEMPTS:
                    await self._wait(UNAVAILABLE_DEFER_SECONDS, "for Spotify to recover", long=True)
                    failures = 0
                    continue
                await self._wait(self._next_backoff(), "for Spotify to recover")
                continue
            self.state.requests += 1
            self._failed_calls = 0
            return result

    def _rate_limit_wait(self, exc: SpotifyRateLimited) -> float:
        """Seconds to wait after a 429: Retry-After when it says something, else back off."""
        if exc.retry_after is not None:
            return exc.retry_after
        return self._next_backoff()

    def _next_backoff(self) -> float:
        self._failed_calls += 1
        return BACKOFF.wait(self._failed_calls)

    async def _wait(self, seconds: float, reason: str, *, long: bool = False) -> None:
        """Wait inline (badge: waiting until …), or defer the job when the wait is long."""
        until = jobs.now() + timedelta(seconds=seconds)
        self.snapshot = replace(
            self.snapshot,
            state="waiting",
            phase=reason,
            retry_at=until,
            done=self.state.done,
            counts=dict(self.state.counts),
        )
        if long or seconds > INLINE_WAIT_LIMIT:
            self.state.deferrals += 1
            if self.state.deferrals > MAX_DEFERRALS:
                raise jobs.JobFailed(
                    f"Spotify kept asking Crate to wait ({MAX_DEFERRALS} long waits); "
                    "tracks not yet searched stay unsearched. Match to Spotify again later."
                )
            await self.checkpoint(self.state.to_json())
            raise jobs.JobDeferred(until, self.snapshot)
        await self.progress.update(self.snapshot)
        await self._keep_claims(upcoming=seconds)
        await self.sleep(seconds)
        self.snapshot = replace(self.snapshot, state="running", phase="matching", retry_at=None)
        await self.progress.update(self.snapshot)

    async def _report(self) -> None:
        self.snapshot = replace(self.snapshot, done=self.state.done, counts=dict(self.state.counts))
        await self.checkpoint(self.state.to_json())
        await self.progress.update(self.snapshot)

    async def _store_features(self, spotify_ids: list[str]) -> None:
        """Ask for audio features of newly matched tracks; the first 403 turns this off."""
        if self.state.features_off or not spotify_ids:
            return
        for start in range(0, len(spotify_ids), FEATURES_BATCH):
            batch = spotify_ids[start : start + FEATURES_BATCH]
            try:
                features = await self._call(partial(self.spotify.audio_features, batch))
            except SpotifyForbidden:
                self.state.features_off = True
                await self.checkpoint(self.state.to_json())
                return
            except SpotifyAuthError as exc:
                raise jobs.JobFailed(str(exc)) from exc
            except SpotifyError:
                return  # features are a bonus; a failed batch is not worth failing the job
            for spotify_id, values in features.items():
                await Track.update({Track.audio_features: json.dumps(values)}).where(
                    Track.spotify_id == spotify_id
                )
