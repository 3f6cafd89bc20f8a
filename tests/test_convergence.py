"""Jobs converge through database and Redis faults: real worker processes, a real
PostgreSQL behind a proxy the test cuts, real redis-servers killed and restarted.

Each fault ends with the job finished, every track stored once, the counts right, and
no more page fetches than the pages plus the one page in hand when the fault came.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from services import jobs
from services.tables import Job
from tests.conftest import (
    crate_command,
    make_settings,
    serve_app,
    start_crate,
    stop_process,
)
from tests.fakes.beatport import FakeBeatport
from tests.support import demo_jobs
from tests.support.tcp_proxy import TcpProxy
from tests.test_production import (
    PrivateRedis,
    assert_collected_once,
    collect_label,
    collected_through,
    start_worker,
    worker_env,
)
from web.app import create_app

LABEL_PAGES = 16  # 400 tracks, 25 a page (the `label_beatport` fixture)


def label_page_fetches(beatport: FakeBeatport) -> int:
    return sum(1 for request in beatport.requests if request.path.startswith("/label/"))


def log_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def test_database_cut_mid_collection_the_worker_waits_and_resumes(
    postgres_url: str,
    redis_url: str,
    label_beatport: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    with TcpProxy("127.0.0.1", 5432) as proxy:
        env = worker_env(process_env, proxy.url_for(postgres_url), redis_url, label_beatport)
        worker = start_worker(env, log)
        settings = make_settings(postgres_url, redis_url=redis_url, job_idle_timeout=3.0)
        try:

            async def cut_for_ten_seconds() -> None:
                proxy.cut()
                await asyncio.sleep(10)
                proxy.restore()

            async for live in serve_app(create_app(settings)):
                await collected_through(live, cut_for_ten_seconds, [log])
        finally:
            stop_process(worker)
    assert label_page_fetches(label_beatport) <= LABEL_PAGES + 1
    assert "the database went away" in log_of(log)
    assert "Traceback" not in log_of(log)


async def test_database_cut_under_the_command_line_collection_ends_in_words(
    postgres_url: str,
    label_beatport: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    log = tmp_path / "collect.log"
    with TcpProxy("127.0.0.1", 5432) as proxy:
        env = {
            **process_env,
            **label_beatport.web_env(min_interval=0.15),
            "DATABASE_URL": proxy.url_for(postgres_url),
        }
        url = "https://www.beatport.com/label/l/21/tracks"
        command = start_crate(["collect", url, "--wait"], env, log)
        try:
            deadline = time.monotonic() + 60
            while await Job.count() == 0 or label_page_fetches(label_beatport) < 3:
                assert time.monotonic() < deadline, log_of(log)
                await asyncio.sleep(0.05)
            proxy.cut()
            await asyncio.sleep(10)
            proxy.restore()
            code = await asyncio.to_thread(command.wait, 120)
        finally:
            stop_process(command)
    output = log_of(log)
    assert code == 0, output
    assert "Done (400 new" in output
    assert "The database is not reachable; waiting for it." in output
    assert "Traceback" not in output
    (row,) = await Job.select().output(load_json=True)
    await assert_collected_once(row["task_id"], {**jobs.snapshot_of(row).to_json()})
    assert label_page_fetches(label_beatport) <= LABEL_PAGES + 1


async def test_redis_killed_with_its_append_only_file_runs_the_job_once(
    postgres_url: str,
    label_beatport: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server = PrivateRedis(tmp_path, appendonly=True)
    server.start()
    env = worker_env(process_env, postgres_url, server.url, label_beatport)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    workers = [start_worker(env, log) for log in logs]
    settings = make_settings(postgres_url, redis_url=server.url, job_idle_timeout=3.0)
    try:

        async def kill_for_eight_seconds() -> None:
            server.kill()
            # Longer than the idle timeout: once back, Redis hands the job's pending
            # message to the other worker, while the first still holds the job.
            await asyncio.sleep(8)
            server.start()

        async for live in serve_app(create_app(settings)):
            await collected_through(live, kill_for_eight_seconds, logs)
    finally:
        for worker in workers:
            stop_process(worker)
        server.stop()
    assert label_page_fetches(label_beatport) <= LABEL_PAGES + 1


async def test_a_job_queued_before_redis_forgot_it_still_runs(
    postgres_url: str,
    label_beatport: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    settings = make_settings(postgres_url, redis_url=server.url, job_idle_timeout=2.0)
    log = tmp_path / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        async for live in serve_app(create_app(settings)):
            # No worker yet: the job waits in the queue, and Redis restarts empty.
            task_id = await collect_label(live)
            server.stop()
            server.start()
            worker = start_worker(
                worker_env(process_env, postgres_url, server.url, label_beatport), log
            )
            status = await live.wait_for_state(task_id, ("succeeded", "failed"), within=120)
            assert status["state"] == "succeeded", log_of(log)
            await assert_collected_once(task_id, status)
    finally:
        if worker is not None:
            stop_process(worker)
        server.stop()
    assert "had nobody on it; queued again" in log_of(log)


async def test_a_running_job_nobody_holds_is_resumed_by_a_worker(
    postgres_url: str, redis_url: str, process_env: dict[str, str], tmp_path: Path
) -> None:
    # What a worker that died after acknowledging leaves: the row says running, with a
    # checkpoint, and no message and no lease anywhere.
    await jobs.create("orphan0001", demo_jobs.KIND, {"steps": 4, "delay": 0.05})
    await Job.update(
        {
            Job.state: "running",
            Job.done: 2,
            Job.checkpoint: {"step": 2},
            Job.kicked_at: time.time() - 60,
        }
    ).where(Job.task_id == "orphan0001")
    env = {**worker_env(process_env, postgres_url, redis_url), "CRATE_JOB_IDLE_TIMEOUT": "2"}
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, "tests.support.demo_worker")
    try:
        deadline = time.monotonic() + 60
        while (row := await jobs.get("orphan0001"))["state"] != "succeeded":
            assert time.monotonic() < deadline, (row, log_of(log))
            await asyncio.sleep(0.1)
    finally:
        stop_process(worker)
    assert row["counts"] == {"ticks": 4}
    assert "had nobody on it; queued again" in log_of(log)


async def test_cancel_ends_a_job_nobody_runs(
    database_url: str, process_env: dict[str, str]
) -> None:
    await jobs.create("queued0001", demo_jobs.KIND, {"steps": 4})
    await jobs.create("stuck00001", demo_jobs.KIND, {"steps": 4})
    await Job.update({Job.state: "running", Job.done: 1}).where(Job.task_id == "stuck00001")
    for task_id in ("queued0001", "stuck00001"):
        done = await asyncio.to_thread(
            subprocess.run,
            crate_command("jobs", "cancel", task_id),
            env={**process_env, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        row = await jobs.get(task_id)
        assert row["state"] == "cancelled", row
        assert row["finished_at"] is not None
        # No run of it can write any more: a claim taken before the cancel is outdated.
        assert await jobs.claim(task_id, 60) is None


async def test_a_run_that_lost_its_claim_cannot_write(database_url: str) -> None:
    await jobs.create("fenced0001", demo_jobs.KIND, {})
    first = await jobs.claim("fenced0001", ttl=0.2)
    assert first is not None
    assert await jobs.claim("fenced0001", ttl=60) is None  # held
    await asyncio.sleep(0.3)
    second = await jobs.claim("fenced0001", ttl=60)  # the first lease lapsed
    assert second == first + 1
    stale = jobs.Snapshot(state="running", done=99)
    try:
        await jobs.save_snapshot("fenced0001", stale, first)
    except jobs.LeaseLost:
        pass
    else:
        raise AssertionError("a stale run wrote its snapshot")
    await jobs.save_snapshot("fenced0001", jobs.Snapshot(state="running", done=5), second)
    assert (await jobs.get("fenced0001"))["done"] == 5
    assert not await jobs.renew("fenced0001", first, 60)
