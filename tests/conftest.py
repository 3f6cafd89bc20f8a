"""Shared fixtures: real SQLite and PostgreSQL databases, real Redis, the app over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# Before any app import: without `db.use`, the database is the environment's, and the
# default would create ./data inside the checkout.
_SCRATCH = Path(tempfile.mkdtemp(prefix="crate-tests-"))
os.environ["DATABASE_URL"] = f"sqlite:///{_SCRATCH}/default.sqlite3"
os.environ.pop("REDIS_URL", None)

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402
import uvicorn  # noqa: E402
from bs4 import BeautifulSoup  # noqa: E402
from litestar import Litestar  # noqa: E402

from services import db  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.tables import TABLES  # noqa: E402
from tests.fakes.beatport import FakeBeatport  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
# Each local run gets its own database and Redis database, so two runs on one machine
# (a developer and CI, say) never empty each other's tables; CI names its own.
PG_TEST_URL = os.environ.get(
    "TEST_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/crate_test_{os.getpid()}"
)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{2 + os.getpid() % 14}")
_OWN_PG_DATABASE = "TEST_DATABASE_URL" not in os.environ
SECRET_KEY = "test-secret-key-0123456789"


def missing_service(what: str, exc: BaseException) -> None:
    """Fail in CI, skip elsewhere: a test never silently passes without its service."""
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip", pytrace=False)
    pytest.skip(message)


# ---------------------------------------------------------------- databases


def run_outside_loop(work: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine to completion on a fresh loop in another thread (safe inside a test)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = _SCRATCH / "template.sqlite3"
    db.use(f"sqlite:///{path}")
    run_outside_loop(db.migrate)
    return path


_pg_ready: bool | None = None


def ensure_postgres() -> None:
    """Create the test database once per session, empty, and migrate it from nothing."""
    global _pg_ready
    if _pg_ready:
        return

    async def setup() -> None:
        name = PG_TEST_URL.rsplit("/", 1)[1]
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(PG_TEST_URL, timeout=5)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()
        db.use(PG_TEST_URL)
        await db.migrate()

    try:
        run_outside_loop(setup)
    except (OSError, asyncpg.PostgresError) as exc:
        missing_service("PostgreSQL", exc)
    _pg_ready = True


@pytest.fixture(scope="session", autouse=True)
def drop_own_postgres_database() -> Iterator[None]:
    """Drop the per-run test database at the end (CI's own database is left to CI)."""
    yield
    if not (_pg_ready and _OWN_PG_DATABASE):
        return

    async def drop() -> None:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            name = PG_TEST_URL.rsplit("/", 1)[1]
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    run_outside_loop(drop)


async def truncate_postgres() -> None:
    """Empty every Crate table (fast, and resets ids)."""
    names = ", ".join(f'"{table._meta.tablename}"' for table in TABLES)
    conn = await asyncpg.connect(PG_TEST_URL)
    try:
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[str]:
    """An empty, migrated database on each engine, active for the test's own queries."""
    if request.param == "sqlite":
        path = tmp_path / "crate.sqlite3"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        ensure_postgres()
        await truncate_postgres()
        url = PG_TEST_URL
    db.use(url)
    yield url


@pytest.fixture
def label_beatport() -> Iterator[FakeBeatport]:
    """A fake Beatport with one long label list (paged 25 at a time)."""
    with FakeBeatport(labels={21: 400}, per_page=25) as server:
        yield server


@pytest.fixture
async def postgres_url() -> str:
    """An empty, migrated PostgreSQL database only (for faults only a server can have)."""
    ensure_postgres()
    await truncate_postgres()
    db.use(PG_TEST_URL)
    return PG_TEST_URL


@pytest.fixture
async def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """An empty, migrated SQLite database only (for tests that are engine-agnostic)."""
    path = tmp_path / "crate.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    db.use(url)
    return url


# ---------------------------------------------------------------- redis


@pytest.fixture
def redis_url() -> str:
    """A real Redis database of its own, flushed before the test."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=3)
    try:
        client.flushdb()
    except (redis.ConnectionError, OSError) as exc:
        missing_service("Redis", exc)
    finally:
        client.close()
    return REDIS_TEST_URL


# ---------------------------------------------------------------- the app


def make_settings(database_url: str, **changes: Any) -> Settings:
    """Settings for a test app: no real Beatport or Spotify, a fixed secret key, files
    (sessions without Redis) in the run's scratch directory, not in the checkout."""
    base = Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,
        beatport_min_interval=0.0,
        data_dir=_SCRATCH / "data",
    )
    return replace(base, **changes)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Every field the status JSON answers, running or ended (the public contract).
JOB_STATUS_FIELDS = frozenset(
    {"task_id", "kind", "state", "phase", "done", "total", "counts", "retry_at", "error"}
)


@dataclass
class LiveApp:
    """The app served by uvicorn in the test's own event loop, plus an HTTP client for it."""

    app: Litestar
    url: str
    http: httpx.AsyncClient

    async def csrf_token(self, path: str = "/") -> str:
        """Load a page (which sets the CSRF cookie) and read the token htmx would send."""
        response = await self.http.get(path)
        body = BeautifulSoup(response.text, "html.parser").body
        assert body is not None
        header = body.get("hx-headers")
        assert isinstance(header, str)
        token: str = json.loads(header)["x-csrftoken"]
        return token

    async def start_job(self, path: str, body: dict[str, Any]) -> str:
        """POST a job route's JSON body; return the task id of the 202 answer."""
        response = await self.http.post(path, json=body)
        assert response.status_code == 202, response.text
        task_id: str = response.json()["task_id"]
        return task_id

    async def run_job(self, path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Start a job and wait for its end: its task id and final status."""
        task_id = await self.start_job(path, body)
        return task_id, await self.wait_for_state(task_id, ("succeeded", "failed"))

    async def status(self, task_id: str) -> dict[str, Any]:
        """The job's status JSON."""
        response = await self.http.get(
            f"/tasks/status/{task_id}", headers={"Accept": "application/json"}
        )
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        return status

    async def wait_for_state(
        self, task_id: str, states: tuple[str, ...], within: float = 20.0
    ) -> dict[str, Any]:
        """Poll the status JSON until the job reaches one of `states`."""
        deadline = asyncio.get_running_loop().time() + within
        last: dict[str, Any] = {}
        while asyncio.get_running_loop().time() < deadline:
            last = await self.status(task_id)
            if last["state"] in states:
                return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {task_id} never reached {states}; last status {last}")


async def serve_app(app: Litestar, port: int | None = None) -> AsyncIterator[LiveApp]:
    """Run `app` under uvicorn on a free loopback port (or `port`) until the caller is done."""
    port = port or free_port()
    # Like `crate serve`: uvicorn leaves X-Forwarded-For to Crate (CRATE_TRUSTED_PROXIES).
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            yield LiveApp(app=app, url=url, http=http)
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def live_app(database_url: str) -> AsyncIterator[LiveApp]:
    """The app with in-process jobs, on each database engine."""
    from web.app import create_app

    app = create_app(make_settings(database_url))
    async for live in serve_app(app):
        yield live


# ---------------------------------------------------------------- processes


def crate_command(*args: str) -> list[str]:
    """The `crate` entry point of this environment."""
    return [str(Path(sys.executable).parent / "crate"), *args]


@pytest.fixture
def process_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A clean environment for subprocesses (no settings leaking from the developer's shell)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRATE_", "BEATPORT_", "SPOTIFY_", "REDIS_", "DATABASE_"))
    }
    env["CRATE_SECRET_KEY"] = SECRET_KEY
    env["PYTHONUNBUFFERED"] = "1"
    yield env


def start_crate(
    args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a `crate` command in the background, its output going to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            crate_command(*args), env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
