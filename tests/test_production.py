"""Production topology under faults: real PostgreSQL/SQLite, real Redis, real worker processes.

Workers are started exactly as docker-compose.yml starts them (`crate worker`), with a
short CRATE_JOB_IDLE_TIMEOUT so a dead worker's job moves on within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis

from services.tables import JobTrack, Track
from tasks.jobs import enqueue
from tests.conftest import (
    PG_ADMIN_URL,
    LiveApp,
    crate_command,
    free_port,
    make_settings,
    missing_service,
    serve_app,
    stop_process,
)
from tests.fakes.beatport import FakeBeatport
from tests.support import demo_jobs
from web.app import create_app

IDLE = "3"


def worker_env(
    base: dict[str, str], database_url: str, redis_url: str, beatport: FakeBeatport | None = None
) -> dict[str, str]:
    """The environment compose gives a worker, pointed at the test services."""
    env = {
        **base,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CRATE_JOB_IDLE_TIMEOUT": IDLE,
    }
    if beatport is not None:
        # Slow enough that a test can act while the collection is under way.
        env |= beatport.web_env(min_interval=0.15)
    return env


def start_worker(env: dict[str, str], log: Path, *modules: str) -> subprocess.Popen[bytes]:
    """`crate worker` in its own process group (so a kill reaches its child process too)."""
    with log.open("ab") as output:
        return subprocess.Popen(
            crate_command("worker", *modules),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send a signal to a worker and its children."""
    os.killpg(process.pid, signum)


@pytest.fixture
async def redis_app(database_url: str, redis_url: str) -> AsyncIterator[LiveApp]:
    """The web app on the Redis broker."""
    app = create_app(make_settings(database_url, redis_url=redis_url, job_idle_timeout=3.0))
    demo_jobs.register(app.state.broker)
    async for live in serve_app(app):
        yield live


async def test_two_workers_run_each_job_exactly_once_and_share_them(
    redis_app: LiveApp,
    database_url: str,
    redis_url: str,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    env = worker_env(process_env, database_url, redis_url)
    workers = [
        start_worker(env, tmp_path / f"worker{i}.log", "tests.support.demo_worker")
        for i in range(2)
    ]
    try:
        broker = redis_app.app.state.broker
        ids = [
            await enqueue(broker, demo_jobs.KIND, {"steps": 3, "delay": 0.3, "count_runs": True})
            for _ in range(10)
        ]
        finals = [
            await redis_app.wait_for_state(i, ("succeeded", "failed"), within=90) for i in ids
        ]
    finally:
        for worker in workers:
            stop_process(worker)
    assert {f["state"] for f in finals} == {"succeeded"}
    client = redis.Redis.from_url(redis_url)
    runs = [int(client.get(f"demo:runs:{task_id}") or 0) for task_id in ids]
    client.close()
    assert runs == [1] * 10
    processes = {f["phase"].rsplit(" ", 1)[1] for f in finals}
    assert len(processes) == 2, processes  # both workers took jobs


async def collect_label(live: LiveApp) -> str:
    """Start the long label collection over the JSON API."""
    url = "https://www.beatport.com/label/l/21/tracks"
    return await live.start_job("/collect/beatport/collect", {"url": url})


async def wait_until_some_pages(live: LiveApp, task_id: str, pages: int = 2) -> dict[str, Any]:
    """Wait until the job has stored a few pages."""
    for _ in range(600):
        status = await live.status(task_id)
        if status["done"] >= 25 * pages:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("the collection never got going")


async def assert_collected_once(task_id: str, status: dict[str, Any]) -> None:
    """The whole label, each track once, counts right, every sighting recorded once."""
    assert status["state"] == "succeeded", status
    assert status["counts"] == {"new": 400, "updated": 0, "unchanged": 0, "skipped": 0}
    assert status["done"] == 400
    assert await Track.count() == 400
    assert await JobTrack.count() == 400


async def collected_through(
    live: LiveApp, fault: Callable[[], Awaitable[None]], logs: list[Path]
) -> str:
    """Collect the label, bring about `fault` once some pages are stored, and check the
    job still ends with every track stored once and the counts right; its task id."""
    task_id = await collect_label(live)
    await wait_until_some_pages(live, task_id)
    await fault()
    status = await live.wait_for_state(task_id, ("succeeded", "failed"), within=120)
    assert status["state"] == "succeeded", [log.read_text() for log in logs if log.exists()]
    await assert_collected_once(task_id, status)
    return task_id


class LabelJobOnWorkers:
    """The 400-track label queued on a first worker, which has stored some pages; a second
    worker can join. Both are stopped when the block ends."""

    def __init__(self, app: LiveApp, env: dict[str, str], logs: Path) -> None:
        self.app, self.env, self.logs = app, env, logs
        self.first = start_worker(env, logs / "first.log")
        self.second: subprocess.Popen[bytes] | None = None
        self.task_id = ""

    def start_second(self) -> None:
        self.second = start_worker(self.env, self.logs / "second.log")

    async def outcome(self) -> dict[str, Any]:
        return await self.app.wait_for_state(self.task_id, ("succeeded", "failed"), within=120)

    def stop(self) -> None:
        stop_process(self.first)
        if self.second is not None:
            stop_process(self.second)


@pytest.fixture
def beatport_workers_env(
    database_url: str, redis_url: str, label_beatport: FakeBeatport, process_env: dict[str, str]
) -> dict[str, str]:
    """The environment of `crate worker` processes collecting from the fake Beatport."""
    return worker_env(process_env, database_url, redis_url, label_beatport)


@contextlib.asynccontextmanager
async def label_job_on_workers(
    app: LiveApp, env: dict[str, str], logs: Path
) -> AsyncIterator[LabelJobOnWorkers]:
    """See `LabelJobOnWorkers`."""
    workers = LabelJobOnWorkers(app, env, logs)
    try:
        workers.task_id = await collect_label(app)
        await wait_until_some_pages(app, workers.task_id)
        yield workers
    finally:
        workers.stop()


async def test_killed_worker_job_completes_on_the_other_worker(
    redis_app: LiveApp, beatport_workers_env: dict[str, str], tmp_path: Path
) -> None:
    async with label_job_on_workers(redis_app, beatport_workers_env, tmp_path) as workers:
        workers.start_second()
        await asyncio.sleep(1.0)  # let it join the group
        kill_group(workers.first, signal.SIGKILL)
        workers.first.wait(10)
        status = await workers.outcome()
    await assert_collected_once(workers.task_id, status)


async def test_sigterm_finishes_the_page_and_another_worker_resumes(
    redis_app: LiveApp, beatport_workers_env: dict[str, str], tmp_path: Path
) -> None:
    async with label_job_on_workers(redis_app, beatport_workers_env, tmp_path) as workers:
        stopped_at = time.monotonic()
        kill_group(workers.first, signal.SIGTERM)
        workers.first.wait(30)
        stop_seconds = time.monotonic() - stopped_at
        status = await redis_app.status(workers.task_id)
        assert status["state"] == "queued", status
        assert 0 < status["done"] < 400
        workers.start_second()
        status = await workers.outcome()
    assert stop_seconds < 15, (tmp_path / "first.log").read_text()
    await assert_collected_once(workers.task_id, status)


# ------------------------------------------------------------------ Redis restarting


class PrivateRedis:
    """A redis-server of the test's own, so restarting it disturbs nobody else."""

    def __init__(self, workdir: Path, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing_service("redis-server binary", FileNotFoundError("redis-server"))
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def kill(self) -> None:
        """kill -9: what survives is what the append-only file had written."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


async def test_redis_restart_mid_job_loses_nothing(
    database_url: str,
    label_beatport: FakeBeatport,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    settings = make_settings(database_url, redis_url=server.url, job_idle_timeout=3.0)
    env = worker_env(process_env, database_url, server.url, label_beatport)
    worker = start_worker(env, tmp_path / "worker.log")
    try:

        async def restart_empty() -> None:
            server.stop()
            await asyncio.sleep(1.0)
            server.start()  # empty: the stream, results and progress are gone

        async for live in serve_app(create_app(settings)):
            await collected_through(live, restart_empty, [tmp_path / "worker.log"])
            # The worker kept serving after the restart: a new job runs too.
            again = await collect_label(live)
            final = await live.wait_for_state(again, ("succeeded", "failed"), within=120)
            assert final["state"] == "succeeded"
            assert final["counts"]["unchanged"] == 400
    finally:
        stop_process(worker)
        server.stop()


async def test_redis_down_when_submitting_answers_503_in_words(database_url: str) -> None:
    settings = make_settings(database_url, redis_url="redis://127.0.0.1:1/0")
    async for live in serve_app(create_app(settings)):
        url = "https://www.beatport.com/top-100"
        api = await live.http.post("/collect/beatport/collect", json={"url": url})
        assert api.status_code == 503
        assert "not reachable" in api.json()["detail"]
        token = await live.csrf_token()
        htmx = await live.http.post(
            "/collect/beatport/collect",
            data={"url": url},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert htmx.status_code == 503
        assert "not reachable" in htmx.text and "<html" not in htmx.text
        plain = await live.http.post(
            "/collect/beatport/collect", data={"url": url, "_csrf_token": token}
        )
        assert plain.status_code == 503 and "not reachable" in plain.text
        jobs_page = await live.http.get("/jobs")
        assert jobs_page.status_code == 200 and "not reachable" in jobs_page.text


# ------------------------------------------------------------------ migrations


async def fresh_database(name: str) -> str:
    """An empty PostgreSQL database of the test's own."""
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        missing_service("PostgreSQL", exc)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def migrate_to_first(env: dict[str, str], url: str) -> None:
    """Apply only the first migration, as an older Crate would have."""
    from services.piccolo_app import APP_CONFIG

    folder = Path(APP_CONFIG.resolved_migrations_folder_path)
    first = sorted(f.stem for f in folder.glob("crate_*.py"))[0]
    script = (
        "import asyncio, piccolo_conf\n"
        "from piccolo.apps.migrations.commands.forwards import run_forwards\n"
        f"from services.piccolo_migrations.{first} import ID\n"
        "r = asyncio.run(run_forwards('crate', migration_id=ID))\n"
        "assert r.success, r.message\n"
    )
    old = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert old.returncode == 0, old.stderr


def migrate(env: dict[str, str], url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`crate migrate` as the compose `migrate` service runs it."""
    return subprocess.run(
        crate_command("migrate", *extra),
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_migrations_from_empty_and_upgrade_keep_data(
    process_env: dict[str, str], tmp_path: Path
) -> None:
    url = await fresh_database(f"crate_migrate_{os.getpid()}")
    try:
        conn = await asyncpg.connect(url)
        try:
            # An older Crate: only the first migration applied, with a track in it.
            migrate_to_first(process_env, url)
            await conn.execute(
                "INSERT INTO track (beatport_id, title, mix_name, slug, artists_text,"
                " remixers_text, search_text, beatport_json, content_hash)"
                " VALUES (42, 'Kept', 'Original Mix', 'kept', 'A', '', 'kept a', '{}', 'h')"
            )
            upgraded = migrate(process_env, url)
            assert upgraded.returncode == 0, upgraded.stderr
            assert "Running" in upgraded.stdout
            assert await conn.fetchval("SELECT title FROM track WHERE beatport_id = 42") == "Kept"
            names = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes")}
            assert {"track_artist_unique", "job_track_unique"} <= names
            again = migrate(process_env, url)
            assert "No migrations need to be run" in again.stdout
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "crate_migrate_{os.getpid()}" WITH (FORCE)')
        await admin.close()
