"""Recurring collections: stored schedules fire once per period, never over a running job."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from services import jobs, schedules
from services.errors import InvalidRequest
from services.tables import Genre, Job, Schedule
from tasks.schedules import start_scheduled_collection
from tests.conftest import (
    LiveApp,
    crate_command,
    make_settings,
    serve_app,
    start_crate,
    stop_process,
)
from tests.fakes.beatport import FakeBeatport
from web.app import create_app


@pytest.fixture
def beatport() -> Iterator[FakeBeatport]:
    with FakeBeatport(charts={11: 30}, genres={5: 40}, per_page=50) as server:
        yield server


def test_schedule_form_is_validated_in_words() -> None:
    good = schedules.parse_schedule_form(
        name="Peak time", cron="0  6 * * 1", url="https://www.beatport.com/chart/p/11"
    )
    assert good.cron == "0 6 * * 1" and good.params["url"].endswith("/11")
    genre = schedules.parse_schedule_form(name="Techno", cron="0 6 * * *", genre="5", days="7")
    assert genre.params == {"genre": 5, "days": 7, "max_pages": 100}
    bad_inputs: list[tuple[dict[str, Any], str]] = [
        ({"name": "", "cron": "0 6 * * 1", "url": "https://www.beatport.com/top-100"}, "name"),
        ({"name": "x", "cron": "every monday", "url": "https://www.beatport.com/top-100"}, "cron"),
        ({"name": "x", "cron": "99 6 * * 1", "url": "https://www.beatport.com/top-100"}, "cron"),
        ({"name": "x", "cron": "0 6 * * 1", "url": "https://evil.example/top-100"}, "url"),
        ({"name": "x", "cron": "0 6 * * 1"}, "url"),
        ({"name": "x", "cron": "0 6 * * 1", "genre": "5", "days": "9999"}, "days"),
        ({"name": "x", "cron": "0 6 * * 1", "genre": "techno", "days": "7"}, "genre"),
        ({"name": "x", "cron": "0 6 * * 1", "genre": "0"}, "genre"),
        (
            {
                "name": "x",
                "cron": "0 6 * * 1",
                "url": "https://www.beatport.com/top-100",
                "max_pages": "many",
            },
            "max_pages",
        ),
    ]
    for fields, field in bad_inputs:
        with pytest.raises(InvalidRequest) as caught:
            schedules.parse_schedule_form(**fields)
        assert field in caught.value.errors, fields


def test_a_genre_schedule_needs_api_mode_and_a_genre_beatport_has() -> None:
    genre = {"name": "Techno", "cron": "0 6 * * *", "genre": "6", "days": "7"}
    known = {6: "Techno (Peak Time / Driving)"}
    made = schedules.parse_schedule_form(**genre, mode="api", genres=known)
    assert made.params["genre"] == 6
    with pytest.raises(InvalidRequest) as web:
        schedules.parse_schedule_form(**genre, mode="web", genres=known)
    assert "BEATPORT_MODE=api" in web.value.errors["genre"]
    with pytest.raises(InvalidRequest) as unknown:
        schedules.parse_schedule_form(**{**genre, "genre": "4242"}, mode="api", genres=known)
    assert "no genre with the id 4242" in unknown.value.errors["genre"]
    # A link is what web mode collects: it is not refused.
    link = schedules.parse_schedule_form(
        name="Top", cron="0 6 * * 1", url="https://www.beatport.com/top-100", mode="web"
    )
    assert link.params["url"]


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 6 * * 1", "Mondays 06:00"),
        ("0 6 * * mon", "Mondays 06:00"),
        ("0 6 * * *", "Every day 06:00"),
        ("15 * * * *", "Every hour at :15"),
        ("0 6 1 * *", "1st of each month 06:00"),
        ("30 22 2,23 * *", "2nd and 23rd of each month 22:30"),
        ("0 6 * * 1-5", "Weekdays 06:00"),
        ("0 9 * * 0,6", "Weekends 09:00"),
        ("0 6 * * 0,3,5", "Wednesdays, Fridays and Sundays 06:00"),
        ("0 6,18 * * *", "Every day 06:00 and 18:00"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("* * * * *", "Every minute"),
        ("0 */2 * * *", "Every 2 hours at :00"),
        ("45 * * * 1", "Mondays, every hour at :45"),
        ("0 0 1 1 *", "1st of January 00:00"),
        # Unusual ones are shown as they are.
        ("0 6 1 * 1", "0 6 1 * 1"),
        ("0 6 */2 * *", "0 6 */2 * *"),
        ("1,2,3,4,5 6 * * *", "1,2,3,4,5 6 * * *"),
        ("0 6 * 1-3 *", "0 6 * 1-3 *"),
    ],
)
def test_cron_in_words(cron: str, words: str) -> None:
    assert schedules.cron_in_words(cron) == words


def test_next_run_is_the_next_matching_minute_in_local_time() -> None:
    local = datetime(2026, 3, 10, 12, 0, 30).astimezone()  # a Tuesday
    assert schedules.next_run("0 6 * * 1", local) == datetime(2026, 3, 16, 6, 0).astimezone()
    assert schedules.next_run("0 6 * * *", local) == datetime(2026, 3, 11, 6, 0).astimezone()
    assert schedules.next_run("15 * * * *", local) == datetime(2026, 3, 10, 12, 15).astimezone()
    assert schedules.next_run("0 12 * * 2", local) == datetime(2026, 3, 17, 12, 0).astimezone()
    assert schedules.next_run("0 6 1 * *", local) == datetime(2026, 4, 1, 6, 0).astimezone()
    assert schedules.next_run("0 0 29 2 *", local) == datetime(2028, 2, 29, 0, 0).astimezone()
    assert schedules.next_run("0 6 31 2 *", local) is None  # never
    # A time in another zone is the same instant.
    assert schedules.next_run("0 6 * * *", local.astimezone(UTC)) == schedules.next_run(
        "0 6 * * *", local
    )


def test_a_genre_schedule_collects_the_last_days_up_to_today() -> None:
    request = schedules.collect_request({"genre": 5, "days": 7, "max_pages": 3}, date(2026, 3, 10))
    assert request.target.date_from == date(2026, 3, 4)
    assert request.target.date_to == date(2026, 3, 10)
    assert request.max_pages == 3


async def test_a_schedule_fires_once_per_period_and_never_over_a_running_job(
    database_url: str, beatport: FakeBeatport
) -> None:
    settings = make_settings(database_url, beatport_mode="web", beatport_web_url=beatport.web_url)
    async for live in serve_app(create_app(settings)):
        form = schedules.parse_schedule_form(
            name="chart", cron="* * * * *", url="https://www.beatport.com/chart/c/11"
        )
        schedule_id = await schedules.create(form)
        broker = live.app.state.broker
        # Two schedulers firing at the same moment: one collection, not two.
        started = await asyncio.gather(
            start_scheduled_collection(broker, schedule_id),
            start_scheduled_collection(broker, schedule_id),
        )
        task_ids = [t for t in started if t]
        assert len(task_ids) == 1
        # Still in this period (and maybe still running): nothing more starts.
        assert await start_scheduled_collection(broker, schedule_id) is None
        status = await live.wait_for_state(task_ids[0], ("succeeded", "failed"))
        assert status["state"] == "succeeded" and status["counts"]["new"] == 30
        assert await start_scheduled_collection(broker, schedule_id) is None
        # The next period: it runs again.
        await Schedule.update({Schedule.last_run_at: jobs.now() - timedelta(minutes=2)}).where(
            Schedule._meta.primary_key == schedule_id
        )
        again = await start_scheduled_collection(broker, schedule_id)
        assert again is not None
        await live.wait_for_state(again, ("succeeded", "failed"))
        # A run still going blocks the next period's run.
        await Job.update({Job.state: "running"}).where(Job.task_id == again)
        await Schedule.update({Schedule.last_run_at: jobs.now() - timedelta(minutes=2)}).where(
            Schedule._meta.primary_key == schedule_id
        )
        assert await start_scheduled_collection(broker, schedule_id) is None
    assert await Job.count() == 2


async def test_schedules_page_adds_pauses_and_deletes(live_app: LiveApp) -> None:
    token = await live_app.csrf_token("/schedules")
    await Genre.insert(Genre(beatport_id=5, name="Hard Techno", slug="hard-techno"))
    empty = BeautifulSoup((await live_app.http.get("/schedules")).text, "html.parser")
    assert "No schedules yet" in empty.get_text()
    assert empty.select_one("#s-enrich").has_attr("checked")  # type: ignore[union-attr]
    # The genre is a choice: Beatport's genres, with the library's name for a stored one.
    choices = {o["value"]: o.get_text() for o in empty.select("#s-genre option")}
    assert choices[""] == "Pick a genre"
    assert choices["5"] == "Hard Techno" and choices["90"] == "Melodic House & Techno"
    # Web mode (no Beatport API credentials): a genre's releases cannot be collected.
    assert "Needs API mode" in empty.select_one("#s-genre-mode").get_text()  # type: ignore[union-attr]
    bad = await live_app.http.post(
        "/schedules", data={"name": "x", "cron": "soon", "url": "", "_csrf_token": token}
    )
    assert bad.status_code == 422
    page = BeautifulSoup(bad.text, "html.parser")
    assert page.select_one("#cron-error") is not None
    # What was typed comes back as it was: the box left unticked stays unticked.
    assert page.select_one("#s-name")["value"] == "x"  # type: ignore[index]
    assert not page.select_one("#s-enrich").has_attr("checked")  # type: ignore[union-attr]
    genre = {"name": "Mondays", "cron": "0 6 * * 1", "genre": "5", "days": "7"}
    refused = await live_app.http.post("/schedules", data={**genre, "_csrf_token": token})
    assert refused.status_code == 422
    error = BeautifulSoup(refused.text, "html.parser").select_one("#genre-error")
    assert error is not None and "BEATPORT_MODE=api" in error.get_text()
    assert await Schedule.count() == 0
    made = await live_app.http.post(
        "/schedules",
        data={
            "name": "Mondays",
            "cron": "0 6 * * 1",
            "url": "https://www.beatport.com/top-100",
            "enrich_after": "1",
            "_csrf_token": token,
        },
    )
    assert made.status_code == 303
    listing = await live_app.http.get("/schedules")
    assert "Mondays" in listing.text and "https://www.beatport.com/top-100" in listing.text
    row = await Schedule.select().first()
    assert row is not None and row["enrich_after"] is True
    await live_app.http.post(f"/schedules/{row['id']}/toggle", data={"_csrf_token": token})
    assert "(paused)" in (await live_app.http.get("/schedules")).text
    await live_app.http.post(f"/schedules/{row['id']}/delete", data={"_csrf_token": token})
    assert await Schedule.count() == 0
    api = await live_app.http.post("/schedules", json={"name": "x", "cron": "0 6 * * 1"})
    assert api.status_code == 422 and "url" in api.json()["errors"]
    web_genre = await live_app.http.post("/schedules", json=genre)
    assert web_genre.status_code == 422 and "API mode" in web_genre.json()["errors"]["genre"]


async def test_in_api_mode_a_genre_schedule_is_added_by_name(database_url: str) -> None:
    settings = make_settings(database_url, beatport_mode="api", beatport_token="t0ken")
    async for live in serve_app(create_app(settings)):
        page = BeautifulSoup((await live.http.get("/schedules")).text, "html.parser")
        assert page.select_one("#s-genre-mode") is None
        genre = {"name": "Techno", "cron": "0 6 * * *", "genre": "6", "days": "7"}
        unknown = await live.http.post("/schedules", json={**genre, "genre": "4242"})
        assert unknown.status_code == 422
        assert "no genre with the id 4242" in unknown.json()["errors"]["genre"]
        made = await live.http.post("/schedules", json=genre)
        assert made.status_code == 201, made.text
        listing = await live.http.get("/schedules")
        assert "Techno (Peak Time / Driving) #6, last 7 days" in listing.text


async def test_schedules_say_when_in_words_the_next_run_and_how_the_last_one_ended(
    live_app: LiveApp,
) -> None:
    weekly = await schedules.create(
        schedules.parse_schedule_form(
            name="Weekly chart", cron="0 6 * * 1", url="https://www.beatport.com/chart/c/11"
        )
    )
    odd = await schedules.create(
        schedules.parse_schedule_form(
            name="Odd days", cron="0 6 */2 * *", url="https://www.beatport.com/top-100"
        )
    )
    fresh = await schedules.create(
        schedules.parse_schedule_form(
            name="Fresh", cron="15 * * * *", url="https://www.beatport.com/top-100"
        )
    )
    failed = jobs.Snapshot(
        state="failed", error="Beatport answered 404 for chart #11: it does not exist."
    )
    done = jobs.Snapshot(state="succeeded", phase="done", counts={"new": 1200, "updated": 3})
    for schedule_id, task_id, snapshot in ((weekly, "job-failed", failed), (odd, "job-ok", done)):
        await jobs.create(task_id, "collect_bp_tracks_task", {"label": "chart"})
        await jobs.save_snapshot(task_id, snapshot)
        await Schedule.update(
            {Schedule.last_task_id: task_id, Schedule.last_run_at: jobs.now()}
        ).where(Schedule._meta.primary_key == schedule_id)
    await schedules.set_enabled(odd, False)

    page = BeautifulSoup((await live_app.http.get("/schedules")).text, "html.parser")

    def cell(schedule_id: int, name: str) -> str:
        found = page.select_one(f"#schedule-{schedule_id} .{name}")
        assert found is not None
        return " ".join(found.get_text().split())

    assert cell(weekly, "when").startswith("Mondays 06:00")
    assert cell(fresh, "when").startswith("Every hour at :15")
    assert cell(odd, "when") == "0 6 */2 * *"  # too unusual for words: the cron itself
    expected = schedules.next_run("0 6 * * 1", jobs.now())
    assert expected is not None
    shown = page.select_one(f"#schedule-{weekly} .next-run time")
    assert shown is not None and shown["datetime"] == expected.isoformat()
    assert cell(weekly, "next-run") == expected.strftime("%a %d %b %H:%M")
    assert cell(odd, "next-run") == "paused"
    assert "failed: Beatport answered 404 for chart #11" in cell(weekly, "last-run")
    assert "done (1,200 new, 3 updated)" in cell(odd, "last-run")
    assert cell(fresh, "last-run") == "never"
    link = page.select_one(f"#schedule-{weekly} .last-run a.job-tracks")
    assert link is not None and link["href"] == "/tracks?job=job-failed"


def test_scheduler_needs_redis(tmp_path: Path, process_env: dict[str, str]) -> None:
    result = subprocess.run(
        crate_command("scheduler"),
        cwd=tmp_path,
        env=process_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "REDIS_URL" in result.stderr


async def test_two_scheduler_processes_start_one_run_per_minute(
    sqlite_url: str,
    redis_url: str,
    beatport: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    form = schedules.parse_schedule_form(
        name="every minute", cron="* * * * *", url="https://www.beatport.com/chart/c/11"
    )
    schedule_id = await schedules.create(form)
    env = {
        **process_env,
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": redis_url,
        **beatport.web_env(),
    }
    processes = []
    for name in ("scheduler-a", "scheduler-b", "worker"):
        command = "worker" if name == "worker" else "scheduler"
        processes.append(start_crate([command], env, tmp_path / f"{name}.log"))
    try:
        for _ in range(150):  # the next minute boundary, plus start-up
            row = await Schedule.select().where(Schedule._meta.primary_key == schedule_id).first()
            if row and row["last_task_id"]:
                break
            await asyncio.sleep(0.5)
        assert row is not None and row["last_task_id"], (tmp_path / "scheduler-a.log").read_text()
        for _ in range(100):
            job = await Job.select().where(Job.task_id == row["last_task_id"]).first()
            if job and job["state"] in jobs.FINAL_STATES:
                break
            await asyncio.sleep(0.3)
        assert job is not None and job["state"] == "succeeded"
        assert await Job.count() == 1
    finally:
        for process in processes:
            stop_process(process)
