"""The job machinery, through both brokers: in-process, and real Redis with a real worker."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from bs4 import BeautifulSoup
from taskiq import InMemoryBroker

from services import jobs
from tasks.collection import COLLECT_KIND
from tasks.jobs import QueueUnavailable, enqueue
from tasks.registry import register_all
from tasks.schedules import RUN_SCHEDULE_TASK
from tasks.stream import TICK_TASK
from tests.conftest import (
    JOB_STATUS_FIELDS,
    LiveApp,
    make_settings,
    serve_app,
    start_crate,
    stop_process,
)
from tests.support import demo_jobs
from web.app import create_app


def badge(html: str) -> Any:
    """The badge element in an HTML fragment."""
    element = BeautifulSoup(html, "html.parser").select_one(".badge")
    assert element is not None, html
    return element


@pytest.fixture
async def demo_app(live_app: LiveApp) -> LiveApp:
    """The in-process app with the test-defined job registered."""
    demo_jobs.register(live_app.app.state.broker)
    return live_app


async def test_job_runs_in_process_and_reports_progress_until_done(demo_app: LiveApp) -> None:
    broker = demo_app.app.state.broker
    task_id = await enqueue(broker, demo_jobs.KIND, {"steps": 4, "delay": 0.1})

    seen: set[str] = set()
    status: dict[str, Any] = {}
    for _ in range(400):
        status = await demo_app.status(task_id)
        seen.add(status["state"])
        if status["state"] == "succeeded":
            break
        await asyncio.sleep(0.02)
    assert status["state"] == "succeeded"
    assert "running" in seen
    assert set(status) == JOB_STATUS_FIELDS
    assert status["kind"] == demo_jobs.KIND
    assert (status["done"], status["total"], status["counts"]) == (4, 4, {"ticks": 4})

    # The job row keeps the outcome for /jobs, whatever the result backend keeps.
    row = await jobs.get(task_id)
    assert row["state"] == "succeeded" and row["finished_at"] is not None
    assert row["started_at"] <= row["finished_at"]
    page = await demo_app.http.get("/jobs")
    assert badge(page.text)["data-state"] == "succeeded"
    assert "Demo job" in page.text  # a kind without a title of its own, in words


async def test_badge_polls_while_active_and_stops_when_done(demo_app: LiveApp) -> None:
    task_id = await enqueue(demo_app.app.state.broker, demo_jobs.KIND, {"steps": 30, "delay": 0.05})
    fragment = await demo_app.http.get(f"/tasks/status/{task_id}")
    running = badge(fragment.text)
    assert running["hx-get"] == f"/tasks/status/{task_id}"
    assert "every 1s" in running["hx-trigger"]
    assert fragment.headers["cache-control"] == "no-store"
    # A fragment, not a page.
    assert "<html" not in fragment.text

    await demo_app.wait_for_state(task_id, ("succeeded",))
    done = badge((await demo_app.http.get(f"/tasks/status/{task_id}")).text)
    assert done.get("hx-get") is None
    assert done["data-state"] == "succeeded"
    assert "30 ticks" in done.get_text()


async def test_failed_job_shows_its_reason_in_words(demo_app: LiveApp) -> None:
    broker = demo_app.app.state.broker
    task_id = await enqueue(broker, demo_jobs.KIND, {"steps": 1, "fail": "Beatport said no."})
    status = await demo_app.wait_for_state(task_id, ("failed",))
    assert status["error"] == "Beatport said no."
    html = (await demo_app.http.get(f"/tasks/status/{task_id}")).text
    assert "failed: Beatport said no." in " ".join(badge(html).get_text().split())


async def test_crashing_job_fails_with_a_message_not_a_traceback(demo_app: LiveApp) -> None:
    task_id = await enqueue(
        demo_app.app.state.broker, demo_jobs.KIND, {"steps": 1, "crash": "disk on fire"}
    )
    status = await demo_app.wait_for_state(task_id, ("failed",))
    assert status["error"] == "Unexpected error: RuntimeError: disk on fire"
    assert "Traceback" not in (await demo_app.http.get("/jobs")).text


async def test_waiting_job_shows_when_it_resumes(demo_app: LiveApp) -> None:
    task_id = await enqueue(
        demo_app.app.state.broker,
        demo_jobs.KIND,
        {"steps": 2, "delay": 0.01, "wait_at": 1, "wait_seconds": 1.5},
    )
    status = await demo_app.wait_for_state(task_id, ("waiting",))
    assert status["retry_at"] is not None
    html = (await demo_app.http.get(f"/tasks/status/{task_id}")).text
    element = badge(html)
    assert element["data-state"] == "waiting"
    assert element.select_one("time") is not None
    assert "until" in element.get_text()
    await demo_app.wait_for_state(task_id, ("succeeded",))


async def test_cancel_stops_a_running_job_between_steps(demo_app: LiveApp) -> None:
    task_id = await enqueue(
        demo_app.app.state.broker, demo_jobs.KIND, {"steps": 200, "delay": 0.05}
    )
    await demo_app.wait_for_state(task_id, ("running",))
    token = await demo_app.csrf_token()
    response = await demo_app.http.post(
        f"/tasks/{task_id}/cancel", headers={"x-csrftoken": token, "HX-Request": "true"}
    )
    assert response.status_code == 200
    status = await demo_app.wait_for_state(task_id, ("cancelled",))
    assert 0 < status["done"] < 200
    # The badge says what the job had done (and stored) before it stopped.
    html = (await demo_app.http.get(f"/tasks/status/{task_id}")).text
    text = " ".join(badge(html).select_one("[role=status]").get_text().split())
    assert text == f"cancelled (kept: {status['counts']['ticks']} ticks)", text


async def test_cancel_needs_the_csrf_token(demo_app: LiveApp) -> None:
    task_id = await enqueue(demo_app.app.state.broker, demo_jobs.KIND, {"steps": 1})
    await demo_app.http.get("/")  # has the cookie, but sends no token
    response = await demo_app.http.post(f"/tasks/{task_id}/cancel")
    assert response.status_code == 403
    assert "did not come from Crate" in response.text
    assert "<nav" in response.text  # the error page is in the layout


async def test_unknown_task_id_is_404_in_json_and_html(live_app: LiveApp) -> None:
    response = await live_app.http.get("/tasks/status/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]
    page = await live_app.http.get("/tasks/status/nope")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]


# ------------------------------------------------------------------ real Redis, real worker


@pytest.fixture
async def redis_app(database_url: str, redis_url: str) -> AsyncIterator[LiveApp]:
    """The app with the Redis broker: jobs run only in worker processes."""
    app = create_app(make_settings(database_url, redis_url=redis_url))
    async for live in serve_app(app):
        yield live


def start_worker(
    env: dict[str, str], database_url: str, redis_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """`crate worker` with the demo job, as its own process, logging to `log`."""
    env = {**env, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    return start_crate(["worker", "tests.support.demo_worker"], env, log)


async def test_job_runs_on_a_real_worker_through_redis(
    redis_app: LiveApp,
    database_url: str,
    redis_url: str,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    broker = redis_app.app.state.broker
    # Queued before any worker exists: it waits in the stream, reported as queued.
    task_id = await enqueue(broker, demo_jobs.KIND, {"steps": 5, "delay": 0.05})
    status = await redis_app.status(task_id)
    assert status["state"] == "queued"

    log = tmp_path / "worker.log"
    worker = start_worker(process_env, database_url, redis_url, log)
    try:
        status = await redis_app.wait_for_state(task_id, ("succeeded", "failed"), within=60)
    finally:
        stop_process(worker)
    assert status["state"] == "succeeded", log.read_text()
    assert status["counts"] == {"ticks": 5}
    assert status["phase"] == f"done in process {status['phase'].rsplit(' ', 1)[1]}"
    row = await jobs.get(task_id)
    assert row["state"] == "succeeded"

    # When Redis forgets the result, the job row still answers.
    client = redis.Redis.from_url(redis_url)
    client.delete(task_id, f"{task_id}__progress")
    client.close()
    again = await redis_app.status(task_id)
    assert again["state"] == "succeeded" and again["counts"] == {"ticks": 5}


async def test_failure_on_a_real_worker_reaches_the_badge(
    redis_app: LiveApp,
    database_url: str,
    redis_url: str,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    worker = start_worker(process_env, database_url, redis_url, tmp_path / "worker.log")
    try:
        task_id = await enqueue(
            redis_app.app.state.broker, demo_jobs.KIND, {"steps": 2, "fail": "No such chart."}
        )
        status = await redis_app.wait_for_state(task_id, ("succeeded", "failed"), within=60)
    finally:
        stop_process(worker)
    assert status["state"] == "failed"
    assert status["error"] == "No such chart."


async def test_enqueue_without_redis_fails_in_words_and_keeps_a_record(
    database_url: str, process_env: dict[str, str]
) -> None:
    app = create_app(make_settings(database_url, redis_url="redis://127.0.0.1:1/0"))
    broker = app.state.broker
    started = time.monotonic()
    with pytest.raises(QueueUnavailable, match="not reachable"):
        await enqueue(broker, demo_jobs.KIND, {"steps": 1})
    assert time.monotonic() - started < 30
    rows = await jobs.recent(5)
    assert rows[0]["state"] == "failed"
    assert "not reachable" in rows[0]["error"]


def test_every_kind_of_job_has_a_title_in_words() -> None:
    broker = InMemoryBroker()
    register_all(broker)
    kinds = set(broker.get_all_tasks()) - {TICK_TASK, RUN_SCHEDULE_TASK}
    assert kinds == set(jobs.JOB_TITLES)
    assert jobs.job_title(COLLECT_KIND) == "Beatport collection"
    assert jobs.job_title("some_new_task") == "Some new task"
