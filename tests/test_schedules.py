"""Recurring collections: stored schedules fire once per period, never over a running job."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

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
    bad_inputs = [
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
    suggested = empty.select("#s-genre-choices option")
    assert [(o["value"], o.get_text()) for o in suggested] == [("5", "Hard Techno")]
    bad = await live_app.http.post(
        "/schedules", data={"name": "x", "cron": "soon", "url": "", "_csrf_token": token}
    )
    assert bad.status_code == 422
    page = BeautifulSoup(bad.text, "html.parser")
    assert page.select_one("#cron-error") is not None
    # What was typed comes back as it was: the box left unticked stays unticked.
    assert page.select_one("#s-name")["value"] == "x"  # type: ignore[index]
    assert not page.select_one("#s-enrich").has_attr("checked")  # type: ignore[union-attr]
    made = await live_app.http.post(
        "/schedules",
        data={
            "name": "Mondays",
            "cron": "0 6 * * 1",
            "genre": "5",
            "days": "7",
            "enrich_after": "1",
            "_csrf_token": token,
        },
    )
    assert made.status_code == 303
    listing = await live_app.http.get("/schedules")
    assert "Mondays" in listing.text and "Hard Techno #5, last 7 days" in listing.text
    row = await Schedule.select().first()
    assert row is not None and row["enrich_after"] is True
    await live_app.http.post(f"/schedules/{row['id']}/toggle", data={"_csrf_token": token})
    assert "(paused)" in (await live_app.http.get("/schedules")).text
    await live_app.http.post(f"/schedules/{row['id']}/delete", data={"_csrf_token": token})
    assert await Schedule.count() == 0
    api = await live_app.http.post("/schedules", json={"name": "x", "cron": "0 6 * * 1"})
    assert api.status_code == 422 and "url" in api.json()["errors"]


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
