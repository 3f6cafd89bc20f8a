"""Spotify enrichment end to end: collected tracks -> fake Spotify over HTTP -> stored matches."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from services.beatport.client import BeatportClient
from services.beatport.targets import Target
from services.collect_request import CollectRequest
from services.collection import CollectionService
from services.tables import Job, Track
from tasks import queue as job_queue
from tasks.enrichment import ENRICH_KIND
from tests.conftest import (
    LiveApp,
    crate_command,
    make_settings,
    serve_app,
    start_crate,
    stop_process,
)
from tests.fakes.beatport import FakeBeatport
from tests.fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify
from web.app import create_app

TRACKS = 12


@pytest.fixture
def beatport() -> Iterator[FakeBeatport]:
    """A fake Beatport with one chart of TRACKS tracks."""
    with FakeBeatport(charts={11: TRACKS}, per_page=50) as server:
        yield server


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    """A fake Spotify (development-mode app unless a test says otherwise)."""
    with FakeSpotify() as server:
        yield server


def spotify_settings(
    database_url: str, beatport: FakeBeatport, spotify: FakeSpotify, **more: Any
) -> Any:
    """Settings pointing at both fakes."""
    values: dict[str, Any] = {
        "beatport_mode": "web",
        "beatport_web_url": beatport.web_url,
        "spotify_client_id": DEFAULT_CLIENT_ID,
        "spotify_client_secret": DEFAULT_CLIENT_SECRET,
        "spotify_api_url": spotify.api_url,
        "spotify_token_url": spotify.token_url,
    }
    return make_settings(database_url, **(values | more))


async def collect_chart(settings: Any) -> None:
    """Fill the library from the fake chart."""
    async with BeatportClient(settings) as client:
        await CollectionService().collect(
            CollectRequest(Target(kind="chart", beatport_id=11), 5), source=client
        )


def mirror_on_spotify(beatport: FakeBeatport, spotify: FakeSpotify) -> dict[str, set[int]]:
    """Put the chart's tracks on Spotify: a third by ISRC, a third by text only, a third absent.

    Returns the Beatport ids expected per outcome.
    """
    outcome: dict[str, set[int]] = {"isrc": set(), "text": set(), "absent": set()}
    for index, track_id in enumerate(beatport.track_ids("chart", 11) or []):
        served = beatport.track(track_id)
        name = served["name"].strip()
        mix = served["mix_name"]
        title = name if mix in ("", "Original Mix") else f"{name} - {mix}"
        artists = [a["name"] for a in served["artists"]]
        if index % 3 == 0:
            spotify.add_track(
                title,
                artists,
                isrc=served["isrc"],
                duration_ms=served["length_ms"],
                release_date="2024-03-01",
            )
            # The same recording again on a later compilation: the earliest release wins.
            spotify.add_track(
                title,
                artists,
                isrc=served["isrc"],
                album="Club Hits 2025",
                album_type="compilation",
                duration_ms=served["length_ms"],
                release_date="2025-06-01",
            )
            outcome["isrc"].add(track_id)
        elif index % 3 == 1:
            spotify.add_track(title, artists, isrc=None, duration_ms=served["length_ms"])
            outcome["text"].add(track_id)
        else:
            outcome["absent"].add(track_id)
    return outcome


@pytest.fixture
async def enrich_app(
    database_url: str, beatport: FakeBeatport, spotify: FakeSpotify
) -> AsyncIterator[LiveApp]:
    """The in-process app, a collected library, and Spotify holding some of it."""
    settings = spotify_settings(database_url, beatport, spotify)
    await collect_chart(settings)
    async for live in serve_app(create_app(settings)):
        yield live


async def start_enrich(live: LiveApp, **body: Any) -> str:
    """POST the enrich JSON route; return the task id."""
    return await live.start_job("/collect/spotify/enrich", body)


async def test_enrichment_matches_by_isrc_then_text_and_records_misses(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    expected = mirror_on_spotify(beatport, spotify)
    task_id = await start_enrich(enrich_app)
    status = await enrich_app.wait_for_state(task_id, ("succeeded", "failed"))
    assert status["state"] == "succeeded", status
    assert status["kind"] == ENRICH_KIND
    assert status["counts"] == {
        "matched_isrc": len(expected["isrc"]),
        "matched_text": len(expected["text"]),
        "not_found": len(expected["absent"]),
        "errors": 0,
    }
    assert (status["done"], status["total"]) == (TRACKS, TRACKS)

    rows = {r["beatport_id"]: r for r in await Track.select()}
    for track_id in expected["isrc"]:
        row = rows[track_id]
        assert row["spotify_method"] == "isrc" and row["spotify_confidence"] > 0.8
        assert row["spotify_release_date"] == "2024-03-01"  # not the later compilation
        assert row["spotify_isrc"] == row["isrc"]
        assert row["spotify_url"].startswith("https://open.spotify.com/track/")
        assert row["spotify_searched_at"] is not None and row["spotify_error"] is None
    for track_id in expected["text"]:
        assert rows[track_id]["spotify_method"] == "text"
    for track_id in expected["absent"]:
        assert rows[track_id]["spotify_id"] is None
        assert rows[track_id]["spotify_searched_at"] is not None

    # Exactly one search for each track with an ISRC hit; never the batch endpoint.
    searches = spotify.requests_to("/v1/search")
    isrc_queries = [r.param("q") for r in searches if (r.param("q") or "").startswith("isrc:")]
    assert len(isrc_queries) == TRACKS
    assert len(searches) == TRACKS + len(expected["text"]) + len(expected["absent"])
    assert all(int(r.param("limit") or 0) <= 10 for r in searches)
    assert not [r for r in spotify.requests if r.path == "/v1/tracks"]

    # A second run finds nothing left to do; --retry-not-found looks at the misses again.
    again = await enrich_app.wait_for_state(await start_enrich(enrich_app), ("succeeded",))
    assert again["total"] == 0
    retry = await start_enrich(enrich_app, retry_not_found=True)
    retried = await enrich_app.wait_for_state(retry, ("succeeded",))
    assert retried["total"] == len(expected["absent"])


async def test_short_rate_limit_waits_and_loses_nothing(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    expected = mirror_on_spotify(beatport, spotify)
    spotify.rate_limit_next(1, retry_after="2")
    task_id = await start_enrich(enrich_app)
    waiting = await enrich_app.wait_for_state(task_id, ("waiting", "succeeded"))
    assert waiting["state"] == "waiting" and waiting["retry_at"]
    status = await enrich_app.wait_for_state(task_id, ("succeeded", "failed"))
    assert status["counts"]["not_found"] == len(expected["absent"])
    assert status["counts"]["matched_isrc"] == len(expected["isrc"])
    badge = (await enrich_app.http.get(f"/tasks/status/{task_id}")).text
    assert f"{len(expected['isrc'])} matched by ISRC" in badge
    assert f"{len(expected['absent'])} not found" in badge


@pytest.mark.parametrize("retry_after", ["0", None])
async def test_rate_limit_without_a_usable_retry_after_backs_off(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify, retry_after: str | None
) -> None:
    expected = mirror_on_spotify(beatport, spotify)
    spotify.rate_limit_next(1, retry_after=retry_after)
    started = time.monotonic()
    status = await enrich_app.wait_for_state(
        await start_enrich(enrich_app), ("succeeded", "failed")
    )
    assert status["state"] == "succeeded"
    assert status["counts"]["not_found"] == len(expected["absent"])
    assert time.monotonic() - started >= 1.5  # backed off instead of hammering


async def test_server_errors_are_retried_never_recorded_as_not_found(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    expected = mirror_on_spotify(beatport, spotify)
    spotify.server_error_next(4, 503)
    status = await enrich_app.wait_for_state(
        await start_enrich(enrich_app), ("succeeded", "failed"), within=60
    )
    assert status["state"] == "succeeded"
    assert status["counts"]["not_found"] == len(expected["absent"])
    assert status["counts"]["errors"] == 0


async def test_long_rate_limit_puts_the_job_to_sleep_and_it_resumes(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    expected = mirror_on_spotify(beatport, spotify)
    task_id = await start_enrich(enrich_app, limit=TRACKS)
    await enrich_app.wait_for_state(task_id, ("running", "succeeded"))
    spotify.rate_limit_next(1, retry_after="3600")
    status = await enrich_app.wait_for_state(task_id, ("waiting", "succeeded"))
    assert status["state"] == "waiting", status
    retry_at = datetime.fromisoformat(status["retry_at"])
    assert 3500 < (retry_at - datetime.now(retry_at.tzinfo)).total_seconds() <= 3600
    # No worker sleeps: the job row says waiting, and the tracks not reached stay unsearched.
    await asyncio.sleep(0.3)
    job = await Job.select().where(Job.task_id == task_id).first().output(load_json=True)
    assert job is not None and job["state"] == "waiting" and job["checkpoint"]
    searched = await Track.count().where(Track.spotify_searched_at.is_not_null())
    assert searched == job["checkpoint"]["done"] < TRACKS
    badge = await enrich_app.http.get(f"/tasks/status/{task_id}")
    assert "waiting" in badge.text and "until" in badge.text

    # Time passes (the timer would fire in an hour): run it again under the same id.
    await job_queue.kick(enrich_app.app.state.broker, task_id, ENRICH_KIND, job["params"])
    final = await enrich_app.wait_for_state(task_id, ("succeeded", "failed"))
    assert final["state"] == "succeeded"
    assert final["done"] == TRACKS
    assert final["counts"]["not_found"] == len(expected["absent"])
    assert final["counts"]["matched_isrc"] + final["counts"]["matched_text"] == (
        len(expected["isrc"]) + len(expected["text"])
    )


async def test_quota_exceeded_defers_even_with_a_short_retry_after(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    mirror_on_spotify(beatport, spotify)
    spotify.rate_limit_next(1, retry_after="5", quota=True)
    status = await enrich_app.wait_for_state(
        await start_enrich(enrich_app), ("waiting", "succeeded")
    )
    assert status["state"] == "waiting"
    assert status["phase"] == "for Spotify"


async def test_audio_features_off_after_the_first_403(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    mirror_on_spotify(beatport, spotify)
    status = await enrich_app.wait_for_state(await start_enrich(enrich_app), ("succeeded",))
    assert status["counts"]["matched_isrc"] > 0
    assert len(spotify.requests_to("/v1/audio-features")) == 1
    assert await Track.count().where(Track.audio_features.is_not_null()) == 0


async def test_audio_features_are_stored_for_extended_quota_apps(
    enrich_app: LiveApp, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    spotify.extended_quota = True
    expected = mirror_on_spotify(beatport, spotify)
    await enrich_app.wait_for_state(await start_enrich(enrich_app), ("succeeded",))
    rows = (
        await Track.select(Track.audio_features)
        .where(Track.spotify_id.is_not_null())
        .output(load_json=True)
    )
    assert len(rows) == len(expected["isrc"]) + len(expected["text"])
    assert all(0 <= row["audio_features"]["energy"] <= 1 for row in rows)


async def test_refused_credentials_fail_the_job_without_the_secret(
    database_url: str, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    settings = spotify_settings(
        database_url, beatport, spotify, spotify_client_secret="wrong-secret-value"
    )
    await collect_chart(settings)
    async for live in serve_app(create_app(settings)):
        status = await live.wait_for_state(await start_enrich(live), ("failed", "succeeded"))
        assert status["state"] == "failed"
        assert "client id" in status["error"].lower()
        assert "wrong-secret-value" not in status["error"]
    assert await Track.count().where(Track.spotify_searched_at.is_not_null()) == 0


async def test_enrich_needs_credentials_before_anything_is_queued(
    database_url: str, beatport: FakeBeatport
) -> None:
    settings = make_settings(database_url)
    async for live in serve_app(create_app(settings)):
        response = await live.http.post("/collect/spotify/enrich", json={})
        assert response.status_code == 422
        assert "SPOTIFY_CLIENT_ID" in response.json()["detail"]
        bad = await live.http.post("/collect/spotify/enrich", json={"limit": "-3"})
        assert bad.status_code == 422
    assert await Job.count() == 0


async def test_enrich_only_the_tracks_one_job_collected(
    database_url: str, beatport: FakeBeatport, spotify: FakeSpotify
) -> None:
    settings = spotify_settings(database_url, beatport, spotify)
    await collect_chart(settings)  # 12 tracks nobody's job collected
    async for live in serve_app(create_app(settings)):
        collected = await live.http.post(
            "/collect/beatport/collect",
            json={"url": "https://www.beatport.com/top-100", "max_pages": 1},
        )
        collect_id = collected.json()["task_id"]
        done = await live.wait_for_state(collect_id, ("succeeded", "failed"))
        assert done["state"] == "succeeded"
        status = await live.wait_for_state(
            await start_enrich(live, job=collect_id), ("succeeded", "failed")
        )
        assert status["total"] == done["done"]
    chart_ids = set(beatport.track_ids("chart", 11) or [])
    chart_searched = await Track.count().where(
        Track.beatport_id.is_in(list(chart_ids)), Track.spotify_searched_at.is_not_null()
    )
    assert chart_searched == 0


async def test_enrichment_resumes_on_a_real_worker_after_a_long_wait(
    database_url: str,
    redis_url: str,
    beatport: FakeBeatport,
    spotify: FakeSpotify,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    settings = spotify_settings(database_url, beatport, spotify, redis_url=redis_url)
    await collect_chart(settings)
    mirror_on_spotify(beatport, spotify)
    spotify.rate_limit_next(1, retry_after="7200")
    env = {
        **process_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SPOTIFY_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "SPOTIFY_API_URL": spotify.api_url,
        "SPOTIFY_TOKEN_URL": spotify.token_url,
    }
    worker = start_crate(["worker"], env, tmp_path / "worker.log")
    try:
        async for live in serve_app(create_app(settings)):
            task_id = await start_enrich(live)
            status = await live.wait_for_state(task_id, ("waiting", "failed"), within=60)
            assert status["state"] == "waiting", (tmp_path / "worker.log").read_text()
            client = redis.Redis.from_url(redis_url)
            entries: list[tuple[bytes, float]] = []
            for _ in range(100):  # the entry is written just after the badge says waiting
                entries = client.zrange(  # type: ignore[assignment]
                    job_queue.DEFERRED_KEY, 0, -1, withscores=True
                )
                if entries:
                    break
                await asyncio.sleep(0.05)
            assert len(entries) == 1
            member, due = entries[0]
            assert due > time.time() + 7000
            # Two hours pass: make the entry due; a worker picks the job up again.
            client.zadd(job_queue.DEFERRED_KEY, {member: time.time()})
            client.close()
            final = await live.wait_for_state(task_id, ("succeeded", "failed"), within=60)
            assert final["state"] == "succeeded"
            assert final["done"] == TRACKS
    finally:
        stop_process(worker)


def test_cli_enrich_reports_and_refuses_without_credentials(
    tmp_path: Path, beatport: FakeBeatport, spotify: FakeSpotify, process_env: dict[str, str]
) -> None:
    env = {**process_env, **beatport.web_env()}
    refused = subprocess.run(
        crate_command("enrich"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "SPOTIFY_CLIENT_ID" in refused.stderr
    collected = subprocess.run(
        crate_command("collect", "https://www.beatport.com/chart/c/11"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    mirror_on_spotify(beatport, spotify)
    env |= {
        "SPOTIFY_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "SPOTIFY_API_URL": spotify.api_url,
        "SPOTIFY_TOKEN_URL": spotify.token_url,
    }
    done = subprocess.run(
        crate_command("enrich", "--limit", "6", "--wait"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Done (" in done.stdout and "matched by ISRC" in done.stdout, done.stdout
    assert "not found" in done.stdout
    assert DEFAULT_CLIENT_SECRET not in done.stdout + done.stderr
