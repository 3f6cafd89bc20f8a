"""Beatport collection end to end: form -> job -> rows, against the fake Beatport over HTTP."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from services import search_index
from services.beatport.client import BeatportClient
from services.beatport.targets import Target
from services.collect_request import CollectRequest
from services.collection import CollectionService
from services.tables import Artist, Genre, Job, JobTrack, Label, Release, Track, TrackArtist
from tests.conftest import (
    LiveApp,
    crate_command,
    make_settings,
    serve_app,
    start_crate,
    stop_process,
)
from tests.fakes.beatport import FakeBeatport, label_name
from web.app import create_app

API_TOKEN = "fake-beatport-token-123"


@pytest.fixture
def fake() -> Iterator[FakeBeatport]:
    """A fake Beatport with a few lists of known sizes."""
    with FakeBeatport(
        per_page=25,
        charts={11: 40},
        labels={21: 120, 22: 400},
        artists={31: 30},
        releases={41: 8},
        genres={5: 60},
        api_token=API_TOKEN,
        release_window=(date(2026, 1, 1), date(2026, 1, 31)),
    ) as server:
        yield server


def beatport_settings(database_url: str, fake: FakeBeatport, mode: str = "web", **more: Any) -> Any:
    """Settings pointing Crate at the fake, in web or API mode."""
    return make_settings(
        database_url,
        beatport_mode=mode,
        beatport_web_url=fake.web_url,
        beatport_api_url=fake.api_url,
        beatport_token=API_TOKEN if mode == "api" else None,
        **more,
    )


async def collect(settings: Any, target: Target, max_pages: int = 100) -> dict[str, int]:
    """Run one collection at the service level; return its counts."""
    async with BeatportClient(settings) as client:
        snapshot = await CollectionService().collect(
            CollectRequest(target, max_pages), source=client
        )
    assert snapshot.state == "succeeded"
    return snapshot.counts


TARGETS = [
    ("https://www.beatport.com/top-100", "top100", 0),
    ("https://www.beatport.com/genre/techno/5/top-100", "genre_top100", 5),
    ("https://www.beatport.com/genre/techno/5/hype-100", "genre_hype100", 5),
    ("https://www.beatport.com/chart/peak-time/11", "chart", 11),
    ("https://www.beatport.com/release/the-ep/41", "release", 41),
    ("https://www.beatport.com/track/one-track/0", "track", 0),
    ("https://www.beatport.com/label/the-label/21/tracks", "label", 21),
    ("https://www.beatport.com/artist/the-artist/31/tracks", "artist", 31),
]


@pytest.mark.parametrize("mode", ["web", "api"])
@pytest.mark.parametrize(("url", "kind", "list_id"), TARGETS)
async def test_every_source_kind_collects_every_track(
    sqlite_url: str, fake: FakeBeatport, mode: str, url: str, kind: str, list_id: int
) -> None:
    from services.beatport.links import parse_target

    if kind == "track":
        track_id = fake.track_ids("chart", 11)[3]  # type: ignore[index]
        url = f"https://www.beatport.com/track/one-track/{track_id}"
        expected = [track_id]
    else:
        expected = fake.track_ids(kind, list_id) or []
    counts = await collect(beatport_settings(sqlite_url, fake, mode), parse_target(url))
    stored = {row["beatport_id"] for row in await Track.select(Track.beatport_id)}
    assert stored == set(expected)
    assert counts == {"new": len(expected), "updated": 0, "unchanged": 0, "skipped": 0}


async def test_genre_date_range_collects_only_that_window(
    sqlite_url: str, fake: FakeBeatport
) -> None:
    from services.beatport.targets import genre_target

    window = (date(2026, 1, 10), date(2026, 1, 20))
    expected = fake.track_ids("genre_dates", 5, window) or []
    assert 0 < len(expected) < 60
    await collect(beatport_settings(sqlite_url, fake, "api"), genre_target(5, *window))
    rows = await Track.select(Track.beatport_id, Track.publish_date)
    assert {row["beatport_id"] for row in rows} == set(expected)
    assert all(window[0] <= row["publish_date"] <= window[1] for row in rows)


async def test_collect_stores_everything_by_beatport_id_without_duplicates(
    database_url: str, fake: FakeBeatport
) -> None:
    settings = beatport_settings(database_url, fake)
    target = Target(kind="label", beatport_id=21, slug="the-label")
    first = await collect(settings, target)
    assert first == {"new": 120, "updated": 0, "unchanged": 0, "skipped": 0}
    sizes = {
        table.__name__: await table.count()
        for table in (Track, Artist, TrackArtist, Label, Release, Genre)
    }
    assert sizes["Track"] == 120

    # The same collection again: nothing new, nothing duplicated.
    second = await collect(settings, target)
    assert second == {"new": 0, "updated": 0, "unchanged": 120, "skipped": 0}
    again = {
        table.__name__: await table.count()
        for table in (Track, Artist, TrackArtist, Label, Release, Genre)
    }
    assert again == sizes

    # Beatport changed some fields: the same rows are updated, still no duplicates.
    fake.set_content(null_fields={"bpm"})
    third = await collect(settings, target)
    assert third == {"new": 0, "updated": 120, "unchanged": 0, "skipped": 0}
    assert await Track.count() == 120
    assert await Track.count().where(Track.bpm.is_null()) == 120


async def test_track_fields_artists_and_remixers_are_stored_in_order(
    database_url: str, fake: FakeBeatport
) -> None:
    settings = beatport_settings(database_url, fake)
    await collect(settings, Target(kind="chart", beatport_id=11, slug="peak-time"))
    for beatport_id in (fake.track_ids("chart", 11) or [])[:10]:
        served = fake.track(beatport_id)
        row = await Track.select().where(Track.beatport_id == beatport_id).first()
        assert row is not None
        assert row["title"] == served["name"].strip()
        assert row["mix_name"] == served["mix_name"]
        assert row["isrc"] == served["isrc"]
        assert row["bpm"] == served["bpm"]
        assert row["key_name"] == served["key"]["name"]
        key = served["key"]
        assert row["camelot"] == f"{key['camelot_number']}{key['camelot_letter']}"
        assert row["length_ms"] == served["length_ms"]
        assert row["new_release_date"] == date.fromisoformat(served["new_release_date"])
        assert row["sample_url"] == served["sample_url"]
        assert row["artists_text"] == ", ".join(a["name"] for a in served["artists"])
        credits = (
            await TrackArtist.select(TrackArtist.role, TrackArtist.artist.beatport_id)
            .where(TrackArtist.track == row["id"])
            .order_by(TrackArtist.role)
            .order_by(TrackArtist.position)
        )
        artists = [c["artist.beatport_id"] for c in credits if c["role"] == "artist"]
        remixers = [c["artist.beatport_id"] for c in credits if c["role"] == "remixer"]
        assert artists == [a["id"] for a in served["artists"]]
        assert remixers == [a["id"] for a in served["remixers"]]
        label = await Label.select().where(Label._meta.primary_key == row["label"]).first()
        assert label is not None
        assert label["beatport_id"] == served["release"]["label"]["id"]


async def test_missing_fields_are_stored_as_unknown(sqlite_url: str, fake: FakeBeatport) -> None:
    fake.missing_fields()
    await collect(beatport_settings(sqlite_url, fake), Target(kind="chart", beatport_id=11))
    rows = await Track.select(Track.isrc, Track.bpm, Track.camelot, Track.sub_genre)
    assert len(rows) == 40
    assert all(r["isrc"] is None and r["bpm"] is None and r["camelot"] is None for r in rows)


async def test_max_pages_caps_the_collection(sqlite_url: str, fake: FakeBeatport) -> None:
    counts = await collect(
        beatport_settings(sqlite_url, fake), Target(kind="label", beatport_id=22), max_pages=2
    )
    assert counts["new"] == await Track.count()
    assert 0 < counts["new"] < 400
    pages = {r.param("page") for r in fake.requests if "/label/" in r.path}
    assert len(pages) == 2


# ------------------------------------------------------------------ through the app


@pytest.fixture
async def app_with_fake(database_url: str, fake: FakeBeatport) -> AsyncIterator[LiveApp]:
    """The in-process app pointed at the fake Beatport (web mode)."""
    async for live in serve_app(create_app(beatport_settings(database_url, fake))):
        yield live


async def test_json_api_starts_a_collection_and_reports_it(
    app_with_fake: LiveApp, fake: FakeBeatport
) -> None:
    response = await app_with_fake.http.post(
        "/collect/beatport/collect",
        json={"url": "https://www.beatport.com/chart/peak-time/11", "max_pages": 10},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status_url"] == f"/tasks/status/{body['task_id']}"
    status = await app_with_fake.wait_for_state(body["task_id"], ("succeeded", "failed"))
    assert status["state"] == "succeeded", status
    assert status["kind"] == "collect_bp_tracks_task"
    assert status["counts"]["new"] == 40 and status["done"] == 40
    # The job knows which tracks it saw, at which chart position.
    job = await Job.select().where(Job.task_id == body["task_id"]).first()
    assert job is not None and job["params"]
    sightings = await JobTrack.select(JobTrack.position, JobTrack.track.beatport_id).where(
        JobTrack.job == job["id"]
    )
    by_position = {s["position"]: s["track.beatport_id"] for s in sightings}
    assert [by_position[i] for i in range(1, 41)] == fake.track_ids("chart", 11)
    # Once the job has ended, its tracks enter SQLite's search index.
    for _ in range(100):
        if await search_index.pending() == 0:
            break
        await asyncio.sleep(0.05)
    assert await search_index.pending() == 0


async def test_htmx_form_answers_with_the_live_badge(app_with_fake: LiveApp) -> None:
    token = await app_with_fake.csrf_token()
    response = await app_with_fake.http.post(
        "/collect/beatport/collect",
        data={"url": "https://www.beatport.com/label/x/21/tracks", "max_pages": "2"},
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert response.status_code == 200
    panel = BeautifulSoup(response.text, "html.parser")
    badge = panel.select_one("#collect-panel .badge")
    assert badge is not None
    task_id = str(badge["data-task-id"])
    await app_with_fake.wait_for_state(task_id, ("succeeded",))


async def test_plain_form_post_redirects_to_the_dashboard(app_with_fake: LiveApp) -> None:
    token = await app_with_fake.csrf_token()
    response = await app_with_fake.http.post(
        "/collect/beatport/collect",
        data={"url": "https://www.beatport.com/top-100", "_csrf_token": token},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


BAD_INPUTS = [
    ({"url": "https://evil.example/chart/x/1"}, "url", "www.beatport.com"),
    ({"url": "https://www.beatport.com/search?q=x"}, "url", "accepts links"),
    ({"url": "ftp://www.beatport.com/top-100"}, "url", ""),
    ({"url": ""}, "url", "Paste a Beatport link"),
    ({"url": "https://www.beatport.com/top-100", "max_pages": "0"}, "max_pages", "from 1 to"),
    ({"url": "https://www.beatport.com/top-100", "max_pages": "100000"}, "max_pages", "from 1"),
    ({"url": "https://www.beatport.com/top-100", "max_pages": "ten"}, "max_pages", "whole"),
    ({"url": "https://www.beatport.com/top-100", "genre": "5"}, "url", "either"),
    ({"url": "https://www.beatport.com/" + "a" * 3000}, "url", "too long"),
]


@pytest.mark.parametrize(("fields", "field", "words"), BAD_INPUTS)
async def test_bad_input_is_refused_in_words_and_queues_nothing(
    app_with_fake: LiveApp, fields: dict[str, str], field: str, words: str
) -> None:
    response = await app_with_fake.http.post("/collect/beatport/collect", json=fields)
    assert response.status_code == 422, response.text
    body = response.json()
    assert any(name.startswith(field) for name in body["errors"]), body
    assert words.lower() in body["detail"].lower()
    assert await Job.count() == 0


BAD_GENRE_INPUTS = [
    ({"genre": "5", "date_from": "2026-02-01", "date_to": "2026-01-01"}, "date", ""),
    ({"genre": "5", "date_from": "yesterday", "date_to": "2026-01-01"}, "date_from", "like"),
    ({"genre": "techno", "date_from": "2026-01-01", "date_to": "2026-01-02"}, "genre", "id"),
    ({"genre": "", "date_from": "2026-01-01", "date_to": "2026-01-02"}, "genre", "pick a genre"),
    ({"genre": "4242", "date_from": "2026-01-01", "date_to": "2026-01-02"}, "genre", "4242"),
]


@pytest.fixture
async def api_app_with_fake(database_url: str, fake: FakeBeatport) -> AsyncIterator[LiveApp]:
    """The in-process app pointed at the fake Beatport's v4 API (API mode)."""
    async for live in serve_app(create_app(beatport_settings(database_url, fake, "api"))):
        yield live


@pytest.mark.parametrize(("fields", "field", "words"), BAD_GENRE_INPUTS)
async def test_bad_genre_or_dates_are_refused_in_words(
    api_app_with_fake: LiveApp, fields: dict[str, str], field: str, words: str
) -> None:
    response = await api_app_with_fake.http.post("/collect/beatport/collect", json=fields)
    assert response.status_code == 422, response.text
    body = response.json()
    assert any(name.startswith(field) for name in body["errors"]), body
    assert words.lower() in body["detail"].lower()
    assert await Job.count() == 0


async def test_in_api_mode_a_genre_is_picked_by_name_and_collected_between_two_dates(
    api_app_with_fake: LiveApp, fake: FakeBeatport
) -> None:
    # A genre the library has stored joins the built-in list under its stored name.
    await Genre.insert(Genre(beatport_id=4242, name="Future Genre", slug="future-genre"))
    page = BeautifulSoup((await api_app_with_fake.http.get("/")).text, "html.parser")
    choices = {o["value"]: o.get_text() for o in page.select("select#collect-genre option")}
    assert choices["5"] == "House" and choices["90"] == "Melodic House & Techno"
    assert choices["4242"] == "Future Genre"
    assert page.select_one("#genre-dates-mode") is None  # no "needs API mode" note here
    window = {"date_from": "2026-01-10", "date_to": "2026-01-20"}
    status = await api_app_with_fake.run_job("/collect/beatport/collect", {"genre": 5, **window})
    assert status[1]["state"] == "succeeded", status
    expected = fake.track_ids("genre_dates", 5, (date(2026, 1, 10), date(2026, 1, 20)))
    assert status[1]["counts"]["new"] == len(expected or [])


async def test_in_web_mode_a_genre_with_dates_is_refused_and_points_to_api_mode(
    app_with_fake: LiveApp, fake: FakeBeatport
) -> None:
    fields = {"genre": "5", "date_from": "2026-01-01", "date_to": "2026-01-31"}
    page = BeautifulSoup((await app_with_fake.http.get("/")).text, "html.parser")
    note = page.select_one("#genre-dates-mode")
    assert note is not None and "Needs API mode" in note.get_text()
    # The htmx form: the panel comes back with the words at the genre field.
    token = await app_with_fake.csrf_token()
    answer = await app_with_fake.http.post(
        "/collect/beatport/collect",
        data=fields,
        headers={"HX-Request": "true", "x-csrftoken": token},
    )
    assert answer.status_code == 422
    panel = BeautifulSoup(answer.text, "html.parser")
    error = panel.select_one("#genre-error")
    assert error is not None
    words = " ".join(error.get_text().split())
    assert "cannot list a genre's releases between two dates" in words
    assert "BEATPORT_MODE=api" in words and "BEATPORT_TOKEN" in words
    selected = panel.select_one("#collect-genre option[selected]")
    assert selected is not None and selected["value"] == "5"  # the choice is kept
    # JSON: 422 in the same words.
    api = await app_with_fake.http.post("/collect/beatport/collect", json=fields)
    assert api.status_code == 422 and "BEATPORT_MODE=api" in api.json()["errors"]["genre"]
    # Nothing was queued and no made-up page was asked for.
    assert await Job.count() == 0
    assert fake.requests == []


async def test_bad_input_in_the_plain_form_shows_the_dashboard_with_the_error(
    app_with_fake: LiveApp,
) -> None:
    token = await app_with_fake.csrf_token()
    response = await app_with_fake.http.post(
        "/collect/beatport/collect",
        data={"url": "https://beatport.com.evil.example/top-100", "_csrf_token": token},
    )
    assert response.status_code == 422
    page = BeautifulSoup(response.text, "html.parser")
    error = page.select_one("#url-error")
    assert error is not None and "beatport.com" in error.text
    url_input = page.select_one("#collect-url")
    assert (
        url_input is not None and url_input["value"] == "https://beatport.com.evil.example/top-100"
    )


@pytest.mark.parametrize("challenge", ["cloudflare", "human-test"])
async def test_bot_challenge_fails_the_job_in_words(
    app_with_fake: LiveApp, fake: FakeBeatport, challenge: str
) -> None:
    fake.challenge = challenge
    response = await app_with_fake.http.post(
        "/collect/beatport/collect", json={"url": "https://www.beatport.com/top-100"}
    )
    status = await app_with_fake.wait_for_state(response.json()["task_id"], ("failed", "succeeded"))
    assert status["state"] == "failed"
    assert "BEATPORT_MODE=api" in status["error"]
    assert await Track.count() == 0
    # Failed at once: one request, no retries against a bot wall.
    assert len([r for r in fake.requests if r.path == "/top-100"]) == 1


async def test_retry_after_is_honoured_and_the_job_still_succeeds(
    app_with_fake: LiveApp, fake: FakeBeatport
) -> None:
    fake.fail_next(2, 429, retry_after="1")
    response = await app_with_fake.http.post(
        "/collect/beatport/collect", json={"url": "https://www.beatport.com/chart/x/11"}
    )
    status = await app_with_fake.wait_for_state(response.json()["task_id"], ("failed", "succeeded"))
    assert status["state"] == "succeeded" and status["counts"]["new"] == 40
    times = [r.time for r in fake.requests]
    assert times[2] - times[0] >= 1.9  # two Retry-After: 1 waits


# ------------------------------------------------------------------ real worker, CLI


async def test_collection_runs_on_a_real_worker_through_redis(
    database_url: str,
    redis_url: str,
    fake: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    settings = beatport_settings(database_url, fake, redis_url=redis_url)
    env = {
        **process_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **fake.web_env(),
    }
    log = tmp_path / "worker.log"
    worker = start_crate(["worker"], env, log)
    try:
        async for live in serve_app(create_app(settings)):
            response = await live.http.post(
                "/collect/beatport/collect",
                json={"url": "https://www.beatport.com/label/l/21/tracks"},
            )
            task_id = response.json()["task_id"]
            status = await live.wait_for_state(task_id, ("succeeded", "failed"), within=60)
            assert status["state"] == "succeeded", log.read_text()
            assert status["counts"] == {"new": 120, "updated": 0, "unchanged": 0, "skipped": 0}
            again = await live.http.post(
                "/collect/beatport/collect",
                json={"url": "https://www.beatport.com/label/l/21/tracks"},
            )
            status = await live.wait_for_state(
                again.json()["task_id"], ("succeeded", "failed"), within=60
            )
            assert status["counts"]["unchanged"] == 120
    finally:
        stop_process(worker)
    assert await Track.count() == 120


def test_cli_collects_with_a_progress_report_and_explains_failures(
    tmp_path: Path, fake: FakeBeatport, process_env: dict[str, str]
) -> None:
    # Pages half a second apart, so the CLI (polling four times a second) sees them.
    env = {**process_env, **fake.web_env(min_interval=0.5)}
    done = subprocess.run(
        crate_command(
            "collect", "https://www.beatport.com/label/x/22/tracks", "--max-pages", "5", "--wait"
        ),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Done (400 new, 0 updated, 0 unchanged, 0 skipped)." in done.stdout
    assert "page 1 of 4" in done.stderr, done.stderr  # progress lines off a terminal
    listing = subprocess.run(
        crate_command("jobs"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert listing.returncode == 0, listing.stderr
    # Named as Beatport names the label, in the words the badge uses.
    assert f"Label {label_name(22)}: done (400 new" in listing.stdout, listing.stdout

    bad = subprocess.run(
        crate_command("collect", "https://example.com/top-100"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "www.beatport.com" in bad.stderr and "Traceback" not in bad.stderr

    # Web mode cannot collect a genre between two dates: refused in words, nothing fetched.
    genre = subprocess.run(
        crate_command("collect", "--genre", "5", "--from", "2026-01-01", "--to", "2026-01-31"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert genre.returncode == 2 and "Traceback" not in genre.stderr
    assert "cannot list a genre's releases" in genre.stderr
    assert "BEATPORT_MODE=api" in genre.stderr
    assert not any(r.path.startswith("/genre") for r in fake.requests)

    fake.challenge = "cloudflare"
    blocked = subprocess.run(
        crate_command("collect", "https://www.beatport.com/chart/x/11"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert blocked.returncode == 1
    assert "Failed:" in blocked.stderr and "BEATPORT_MODE=api" in blocked.stderr


def test_cli_collects_a_genre_between_two_dates_in_api_mode(
    tmp_path: Path, fake: FakeBeatport, process_env: dict[str, str]
) -> None:
    env = {
        **process_env,
        "BEATPORT_MODE": "api",
        "BEATPORT_API_URL": fake.api_url,
        "BEATPORT_TOKEN": API_TOKEN,
        "BEATPORT_MIN_INTERVAL": "0",
    }
    dates = ("--from", "2026-01-10", "--to", "2026-01-20")
    unknown = subprocess.run(
        crate_command("collect", "--genre", "4242", *dates),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "no genre with the id 4242" in unknown.stderr
    assert "6 Techno (Peak Time / Driving)" in unknown.stderr  # the genres it can pick
    done = subprocess.run(
        crate_command("collect", "--genre", "5", *dates, "--wait"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    expected = fake.track_ids("genre_dates", 5, (date(2026, 1, 10), date(2026, 1, 20))) or []
    assert f"Done ({len(expected)} new" in done.stdout
