"""Work claimed once: two enrichments at once split the tracks instead of searching each twice.

The claim helper (services.claims) on both engines: a job takes the next rows nobody
else holds, its own again (a redelivered run), and expired ones; on PostgreSQL a claim
passes rows another transaction has locked. End to end, two enrichment jobs side by side
(in one app, and on two `crate worker` processes over Redis) against the fake Spotify
make the searches one job alone makes, each track searched once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services import claims, jobs
from services.beatport.client import BeatportClient
from services.beatport.targets import Target
from services.collect_request import CollectRequest
from services.collection import CollectionService
from services.enrich_request import EnrichRequest
from services.enrichment import Enricher, EnrichState
from services.spotify.client import SpotifyCatalog
from services.tables import Job, Track
from tests.conftest import LiveApp, serve_app, stop_process
from tests.fakes.beatport import FakeBeatport
from tests.fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify
from tests.test_enrichment import mirror_on_spotify, spotify_settings
from tests.test_production import start_worker, worker_env
from web.app import create_app

SPOTIFY = claims.SPOTIFY_SEARCH
UNSEARCHED = claims.Walk("t.spotify_searched_at IS NULL")
LIBRARY = 300  # tracks in the fake chart the end-to-end tests enrich
LEFT = "left_to_another_job"
SMALL_LIBRARY = 150  # more than one chunk (services.enrichment.CHUNK) of tracks


# ---------------------------------------------------------------- the claim helper


async def add_tracks(count: int) -> list[int]:
    """`count` bare tracks; their ids in order."""
    await Track.insert(
        *[Track(beatport_id=900_000 + n, title=f"Track {n}") for n in range(count)]
    ).run()
    rows = await Track.select(Track._meta.primary_key).order_by(Track._meta.primary_key)
    return [int(row["id"]) for row in rows]


async def claim(job: int, limit: int = 3, *, after_id: int = 0, ttl: float = 60.0) -> list[int]:
    return await claims.claim_next(
        SPOTIFY, UNSEARCHED, job=job, after_id=after_id, limit=limit, ttl=ttl
    )


async def test_a_second_job_skips_rows_the_first_holds(database_url: str) -> None:
    ids = await add_tracks(10)
    assert await claim(1) == ids[0:3]
    assert await claim(2) == ids[3:6]
    # A redelivered run of job 1 takes its own claims again; the walk's order holds.
    assert await claim(1) == ids[0:3]
    assert await claim(1, after_id=ids[2]) == ids[6:9]
    assert await claims.count_free(SPOTIFY, UNSEARCHED, job=2, after_id=0) == 4  # 3..5, 9
    assert await claims.count_held_by_others(SPOTIFY, UNSEARCHED, job=2) == 6
    # The walk's conditions count: a searched row is nobody's to claim.
    await Track.update({Track.spotify_searched_at: Track.created_at}).where(
        Track._meta.primary_key == ids[9]
    )
    assert await claim(3) == []
    # Released rows are free for anyone again; rows of others are not released.
    await claims.release(SPOTIFY, job=1, ids=ids[0:6])
    assert await claim(3, limit=10) == ids[0:3]
    assert await claims.renew(SPOTIFY, job=2, ids=ids[3:6], ttl=60.0) == ids[3:6]


async def test_an_expired_claim_is_taken_over_and_its_job_learns_it(database_url: str) -> None:
    ids = await add_tracks(4)
    # Job 1's claims lapse at once (its run stalled past them, say).
    assert await claim(1, ttl=-1.0) == ids[0:3]
    assert await claims.count_held_by_others(SPOTIFY, UNSEARCHED, job=2) == 0
    assert await claim(2, limit=2) == ids[0:2]
    # Renewing, job 1 finds the rows it still holds: only the one nobody took.
    assert await claims.renew(SPOTIFY, job=1, ids=ids[0:3], ttl=60.0) == [ids[2]]
    # Its release gives up only what it holds; job 2 keeps its own.
    await claims.release(SPOTIFY, job=1, ids=ids[0:3])
    assert await claim(3, limit=10) == [ids[2], ids[3]]
    assert await claims.count_held_by_others(SPOTIFY, UNSEARCHED, job=3) == 2


async def test_claims_at_the_same_moment_never_overlap(database_url: str) -> None:
    await add_tracks(200)
    batches = await asyncio.gather(*(claim(job, limit=20) for job in range(1, 9)))
    # Each claimer gets a whole batch (passing rows others hold, not waiting for them)...
    assert [len(batch) for batch in batches] == [20] * 8
    # ...and no row is in two.
    assert len({row for batch in batches for row in batch}) == 160


async def test_postgres_claims_pass_rows_another_transaction_locked(postgres_url: str) -> None:
    ids = await add_tracks(6)
    other = await asyncpg.connect(postgres_url)
    try:
        async with other.transaction():
            # Another claimer in the middle of its claim: it has locked the first rows.
            await other.fetch("SELECT id FROM track WHERE id <= $1 FOR UPDATE", ids[2])
            # SKIP LOCKED: the claim neither waits for those rows nor takes them.
            # (The guard only turns a hang into a failure.)
            assert await asyncio.wait_for(claim(2), 30) == ids[3:6]
    finally:
        await other.close()
    assert await claim(3) == ids[0:3]


async def test_sqlite_claims_wait_for_another_writer_and_see_its_claims(sqlite_url: str) -> None:
    ids = await add_tracks(6)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "UPDATE track SET spotify_claim_job = 1, spotify_claim_until = 9e18 WHERE id <= ?",
            (ids[2],),
        )
        waiting = asyncio.create_task(claim(2))
        await asyncio.sleep(0.2)  # let it queue behind the write lock (not asserted on)
        other.execute("COMMIT")
        assert await waiting == ids[3:6]
    finally:
        other.close()


# ---------------------------------------------------------------- two enrichments at once


@pytest.fixture
def beatport() -> Iterator[FakeBeatport]:
    """A fake Beatport with one chart of LIBRARY tracks."""
    with FakeBeatport(charts={11: LIBRARY}, per_page=100) as server:
        yield server


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    """A fake Spotify answering a little slowly, so two jobs surely overlap."""
    with FakeSpotify() as server:
        server.delay = 0.005
        yield server


async def collect_library(
    settings: Any, beatport: FakeBeatport, spotify: FakeSpotify, size: int = LIBRARY
) -> None:
    """The chart in the library, a third of it on Spotify by ISRC, a third by text."""
    async with BeatportClient(settings) as client:
        await CollectionService().collect(
            CollectRequest(Target(kind="chart", beatport_id=11), 3), source=client
        )
    assert await Track.count() == size
    mirror_on_spotify(beatport, spotify)


async def forget_searches(spotify: FakeSpotify) -> None:
    """Back to a library nobody searched, and an empty request log."""
    await Track.update(
        {
            Track.spotify_searched_at: None,
            Track.spotify_id: None,
            Track.spotify_method: None,
            Track.spotify_confidence: None,
            Track.audio_features: None,
        },
        force=True,
    )
    spotify.reset_log()


def searches(spotify: FakeSpotify) -> Counter[str]:
    """The search queries Spotify answered, each with how often it was asked."""
    return Counter(r.param("q") or "" for r in spotify.requests_to("/v1/search"))


async def enrich(live: LiveApp, jobs: int) -> list[dict[str, Any]]:
    """Start `jobs` enrichments at once; their final statuses."""
    ids = [await live.start_job("/collect/spotify/enrich", {}) for _ in range(jobs)]
    return [await live.wait_for_state(i, ("succeeded", "failed"), within=180) for i in ids]


async def assert_split(
    alone: Counter[str], side_by_side: Counter[str], pair: list[Any], logs: str = ""
) -> None:
    """Two jobs made (about) the searches one made, no track searched by both."""
    assert [status["state"] for status in pair] == ["succeeded", "succeeded"], (pair, logs)
    assert sum(side_by_side.values()) <= 1.1 * sum(alone.values())
    isrc = [q for q in side_by_side if q.startswith("isrc:")]
    assert len(isrc) == LIBRARY
    assert all(side_by_side[q] == 1 for q in isrc)  # each track's ISRC searched once
    assert all(side_by_side[q] <= alone[q] for q in side_by_side)
    assert await Track.count().where(Track.spotify_searched_at.is_null()) == 0
    # Each badge counts what its job did, and ends full; together they did the library.
    assert all(status["done"] == status["total"] for status in pair), pair
    assert sum(status["done"] for status in pair) == LIBRARY
    assert all(status["done"] > 0 for status in pair), pair  # they did split the work
    # Claims are given back when the jobs end.
    assert await Track.count().where(Track.spotify_claim_job.is_not_null()) == 0


@contextlib.asynccontextmanager
async def enricher(settings: Any, claimer: int, **state: Any) -> AsyncIterator[Enricher]:
    """An Enricher on the fake Spotify, claiming for job `claimer`."""
    catalog = SpotifyCatalog.from_settings(settings)
    try:
        yield Enricher(
            spotify=catalog,
            threshold=settings.spotify_match_threshold,
            state=EnrichState(**state),
            claimer=claimer,
        )
    finally:
        catalog.close()


@pytest.fixture
async def library_settings(database_url: str, spotify: FakeSpotify) -> AsyncIterator[Any]:
    """Settings on both fakes, a library of SMALL_LIBRARY tracks collected."""
    with FakeBeatport(charts={11: SMALL_LIBRARY}, per_page=100) as beatport:
        settings = spotify_settings(database_url, beatport, spotify)
        await collect_library(settings, beatport, spotify, SMALL_LIBRARY)
        yield settings


async def test_a_job_ends_with_what_it_did_and_says_what_it_left(
    library_settings: Any, spotify: FakeSpotify
) -> None:
    # Another job (row id 99) holds the first chunk of tracks.
    held = await claims.claim_next(SPOTIFY, UNSEARCHED, job=99, after_id=0, limit=100, ttl=600)
    async with enricher(library_settings, claimer=1) as work:
        final = await work.run(EnrichRequest())
    assert final.state == "succeeded"
    assert (final.done, final.total) == (SMALL_LIBRARY - 100, SMALL_LIBRARY - 100)
    assert final.counts[LEFT] == 100
    assert "100 left to another job" in final.counts_in_words
    unsearched = await Track.select(Track._meta.primary_key).where(
        Track.spotify_searched_at.is_null()
    )
    assert sorted(int(row["id"]) for row in unsearched) == held
    # Its own claims are given back; the other job's stay.
    claimed = await Track.select(Track.spotify_claim_job).where(
        Track.spotify_claim_job.is_not_null()
    )
    assert {row["spotify_claim_job"] for row in claimed} == {99}


async def test_a_deferred_job_gives_its_tracks_back(
    library_settings: Any, spotify: FakeSpotify
) -> None:
    spotify.rate_limit_next(1, retry_after="3600")
    async with enricher(library_settings, claimer=1) as work:
        with pytest.raises(jobs.JobDeferred):
            await work.run(EnrichRequest())
        checkpoint = work.state.to_json()
    assert await Track.count().where(Track.spotify_claim_job.is_not_null()) == 0
    # Another job searches the tracks meanwhile; the first, resumed, finds nothing left.
    async with enricher(library_settings, claimer=2) as work:
        other = await work.run(EnrichRequest())
    assert other.done == SMALL_LIBRARY
    spotify.reset_log()
    async with enricher(library_settings, claimer=1, **checkpoint) as work:
        resumed = await work.run(EnrichRequest())
    assert resumed.state == "succeeded" and resumed.done == checkpoint["done"] == 0
    assert not spotify.requests_to("/v1/search")


async def test_retrying_not_found_skips_tracks_another_job_searched_meanwhile(
    library_settings: Any, spotify: FakeSpotify
) -> None:
    async with enricher(library_settings, claimer=1) as work:
        first = await work.run(EnrichRequest())
    not_found = first.counts["not_found"]
    assert not_found > 0
    # Two retries start at the same moment; one has searched the first 20 tracks again
    # (and released them) when the other reaches them: it leaves them alone.
    since = jobs.clock()
    async with enricher(library_settings, claimer=2, since=since) as work:
        ahead = await work.run(EnrichRequest(retry_not_found=True, limit=20))
    assert ahead.done == 20
    spotify.reset_log()
    async with enricher(library_settings, claimer=3, since=since) as work:
        behind = await work.run(EnrichRequest(retry_not_found=True))
    assert ahead.done + behind.done == not_found
    assert len([q for q in searches(spotify) if q.startswith("isrc:")]) == behind.done
    # A retry that starts later retries them all again, as asked.
    async with enricher(library_settings, claimer=4) as work:
        later = await work.run(EnrichRequest(retry_not_found=True))
    assert later.done == not_found


@pytest.fixture
async def enrich_live(
    database_url: str, beatport: FakeBeatport, spotify: FakeSpotify
) -> AsyncIterator[LiveApp]:
    """The in-process app over the collected library."""
    settings = spotify_settings(database_url, beatport, spotify)
    await collect_library(settings, beatport, spotify)
    async for live in serve_app(create_app(settings)):
        yield live


async def test_two_enrichments_in_one_app_split_the_tracks(
    enrich_live: LiveApp, spotify: FakeSpotify
) -> None:
    (single,) = await enrich(enrich_live, 1)
    assert single["state"] == "succeeded" and single["done"] == LIBRARY, single
    alone = searches(spotify)
    await forget_searches(spotify)

    pair = await enrich(enrich_live, 2)
    await assert_split(alone, searches(spotify), pair)
    # Together they found what one found alone.
    together: Counter[str] = Counter()
    for status in pair:
        together.update({k: v for k, v in status["counts"].items() if k != LEFT})
    assert together == Counter(single["counts"])


def worker_logs(folder: Path) -> str:
    """What the workers wrote."""
    return "\n".join(log.read_text() for log in sorted(folder.glob("worker*.log")))


async def test_two_enrichments_on_two_workers_split_the_tracks(
    database_url: str,
    redis_url: str,
    beatport: FakeBeatport,
    spotify: FakeSpotify,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    settings = spotify_settings(database_url, beatport, spotify, redis_url=redis_url)
    await collect_library(settings, beatport, spotify)
    env = worker_env(process_env, database_url, redis_url) | {
        "SPOTIFY_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "SPOTIFY_API_URL": spotify.api_url,
        "SPOTIFY_TOKEN_URL": spotify.token_url,
    }
    workers = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        async for live in serve_app(create_app(settings)):
            (single,) = await enrich(live, 1)
            assert single["state"] == "succeeded", worker_logs(tmp_path)
            alone = searches(spotify)
            await forget_searches(spotify)
            pair = await enrich(live, 2)
            await assert_split(alone, searches(spotify), pair, worker_logs(tmp_path))
    finally:
        for worker in workers:
            stop_process(worker)
    assert await Job.count() == 3
