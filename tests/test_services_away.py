"""The database or Redis away: every command says which in one line, and `crate worker`
waits for them (one line per try) and then works.

Real processes against a closed port, a real PostgreSQL behind a proxy the test cuts, and
a redis-server of the test's own that starts late.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from services import db
from tasks.broker import retry_pauses, wait_for_services
from tasks.jobs import enqueue
from tests.conftest import (
    PG_ADMIN_URL,
    ROOT,
    crate_command,
    free_port,
    make_settings,
    serve_app,
    stop_process,
)
from tests.support import demo_jobs
from tests.support.tcp_proxy import TcpProxy
from tests.test_production import PrivateRedis, start_worker, worker_env
from web.app import create_app

PASSWORD = "hunter2-not-for-logs"
LOG_PREFIX = re.compile(r"^(\[[^\]]*\]){4} ")
COMMANDS = [
    ["collect", "https://www.beatport.com/top-100"],
    ["collect", "https://www.beatport.com/top-100", "--wait"],
    ["enrich"],
    ["jobs"],
    ["jobs", "cancel", "0123456789abcdef"],
    ["migrate"],
    ["scheduler"],
    ["serve"],
]
NEEDS_REDIS = [
    ["collect", "https://www.beatport.com/top-100"],
    ["enrich", "--wait"],
    ["scheduler"],
]


def closed_port_url(scheme: str, path: str) -> str:
    """A URL with a password, to a port nothing listens on."""
    return f"{scheme}://crate:{PASSWORD}@127.0.0.1:{free_port()}/{path}"


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crate_command(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def assert_one_line(result: subprocess.CompletedProcess[str], starts: str) -> None:
    """Exit code non-zero, one line on stderr saying what is away, nothing else."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert result.stderr.strip().count("\n") == 0, output
    assert result.stderr.startswith(f"Error: {starts}"), output
    assert "is not reachable: " in result.stderr, output
    assert "Traceback" not in output and PASSWORD not in output


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_says_the_database_is_away_in_one_line(
    args: list[str], process_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **process_env,
        "DATABASE_URL": closed_port_url("postgres", "crate"),
        "REDIS_URL": closed_port_url("redis", "0"),
        "CRATE_PORT": str(free_port()),
        "SPOTIFY_CLIENT_ID": "id",
        "SPOTIFY_CLIENT_SECRET": "secret-for-the-test",
    }
    result = run(args, env, tmp_path)
    assert_one_line(result, "The database (postgres://crate:[redacted]@127.0.0.1:")
    assert "ConnectionRefusedError" in result.stderr


@pytest.mark.parametrize("args", NEEDS_REDIS, ids=" ".join)
def test_commands_that_need_redis_say_it_is_away_in_one_line(
    args: list[str], postgres_url: str, process_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **process_env,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": closed_port_url("redis", "0"),
        "SPOTIFY_CLIENT_ID": "id",
        "SPOTIFY_CLIENT_SECRET": "secret-for-the-test",
    }
    result = run(args, env, tmp_path)
    assert_one_line(result, "Redis (redis://crate:[redacted]@127.0.0.1:")


def log_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def lines_saying(path: Path, text: str) -> list[str]:
    return [line for line in log_of(path).splitlines() if text in line]


async def wait_for_lines(
    path: Path, text: str, count: int, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 90
    while len(lines_saying(path, text)) < count:
        assert process.poll() is None, log_of(path)
        assert time.monotonic() < deadline, log_of(path)
        await asyncio.sleep(0.1)


def start_taskiq_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Taskiq's own worker command on Crate's broker: no `crate worker` waiting before it,
    so the worker process's start-up does the waiting."""
    command = [str(Path(sys.executable).parent / "taskiq"), "worker", "tasks.worker:broker"]
    with log.open("ab") as output:
        return subprocess.Popen(
            [*command, "tests.support.demo_worker", "--app-dir", str(ROOT), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.parametrize("command", ["crate worker", "taskiq worker"])
async def test_worker_started_while_the_database_and_redis_are_away_waits_then_works(
    command: str, postgres_url: str, process_env: dict[str, str], tmp_path: Path
) -> None:
    redis_server = PrivateRedis(tmp_path)  # not started yet: its port refuses
    log = tmp_path / "worker.log"
    with TcpProxy("127.0.0.1", 5432) as proxy:
        proxy.cut()
        # A password the (trusting) test server never asks for, to see it is never shown.
        database_url = proxy.url_for(postgres_url).replace("postgres@", f"postgres:{PASSWORD}@")
        env = worker_env(process_env, database_url, redis_server.url)
        if command == "crate worker":
            worker = start_worker(env, log, "tests.support.demo_worker")
        else:
            worker = start_taskiq_worker(env, log)
        try:
            await wait_for_lines(log, "The database (", 2, worker)
            proxy.restore()
            await wait_for_lines(log, "Redis (", 1, worker)
            redis_server.start()
            settings = make_settings(postgres_url, redis_url=redis_server.url)
            app = create_app(settings)
            demo_jobs.register(app.state.broker)
            async for live in serve_app(app):
                task_id = await enqueue(app.state.broker, demo_jobs.KIND, {"steps": 2})
                final = await live.wait_for_state(task_id, ("succeeded", "failed"), within=90)
            assert worker.poll() is None
        finally:
            stop_process(worker)
            redis_server.stop()
    text = log_of(log)
    assert final["state"] == "succeeded", text
    assert "Traceback" not in text and PASSWORD not in text
    # Without Taskiq's "[time][logger][level][process] " before the worker process's lines.
    waits = [LOG_PREFIX.sub("", line) for line in lines_saying(log, "is not reachable")]
    assert waits[0].startswith("The database (postgres://postgres:[redacted]@127.0.0.1:"), text
    assert waits[0].endswith("; next try in 1 s") and waits[1].endswith("; next try in 2 s")
    assert any(line.startswith("Redis (redis://127.0.0.1:") for line in waits), text


def test_the_pause_between_tries_doubles_up_to_thirty_seconds() -> None:
    assert list(itertools.islice(retry_pauses(), 8)) == [1, 2, 4, 8, 16, 30, 30, 30]


async def count_connections(database: str) -> int:
    """Connections PostgreSQL has open to `database`, apart from this one."""
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return count


async def test_waiting_opens_the_pool_of_the_size_asked_once_the_database_answers(
    postgres_url: str,
) -> None:
    said: list[str] = []
    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = proxy.url_for(postgres_url)
        db.use(url)
        proxy.cut()

        def say(line: str) -> None:
            said.append(line)
            if len(said) == 2:
                proxy.restore()

        try:
            before = proxy.connections  # Piccolo's version check, when `use` named the URL
            assert await wait_for_services(make_settings(url), say, pool_size=3)
            assert proxy.connections - before == 3
        finally:
            await db.close_pool()
            db.use(postgres_url)
    assert [line.rsplit(" in ", 1)[1] for line in said] == ["1 s", "2 s"]
    assert all(line.startswith("The database (postgres://") for line in said)


# ------------------------------------------------------------ pool sizes


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


async def test_a_web_process_keeps_the_pool_size_it_is_given(postgres_url: str) -> None:
    assert await count_connections(database_name(postgres_url)) == 0
    app = create_app(make_settings(postgres_url, db_pool_size=4))
    async for live in serve_app(app):
        # Many pages at once: the pool never grows past its size.
        pages = await asyncio.gather(*(live.http.get("/tracks") for _ in range(12)))
        assert {page.status_code for page in pages} == {200}
        assert await count_connections(database_name(postgres_url)) == 4
    assert await count_connections(database_name(postgres_url)) == 0


async def test_a_worker_process_keeps_the_worker_pool_size(
    postgres_url: str, redis_url: str, process_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    env = {**worker_env(process_env, postgres_url, redis_url), "CRATE_WORKER_DB_POOL_SIZE": "2"}
    worker = start_worker(env, log)
    try:
        await wait_for_lines(log, "Listening started", 1, worker)
        assert await count_connections(database_name(postgres_url)) == 2
    finally:
        stop_process(worker)
