"""Benchmark: browsing a 100,000-track library on SQLite and PostgreSQL.

    uv run python tests/bench/browse.py [--tracks 100000] [--engines sqlite,postgres]
                                        [--samples 40] [--reuse] [--keep]

Seeds each database with `tests.support.seed` (SQLite in a temporary file, PostgreSQL in
a `crate_bench` database it creates, or the one CRATE_BENCH_POSTGRES_URL names), both at
once, then serves the app with uvicorn in a child process and asks it for every shape of
`/tracks` page one after another over keep-alive HTTP: no filter, search (also a word
typed without its accent), each filter, each sort, a deep page, a track page
(and, for information, a word in a fifth of all tracks, a deep page in title order, an
htmx fragment, a label page, a job's chart and the dashboard). It prints the
median and 95th percentile of each, and their ratio to `/healthz` measured in the same
run; the number of SQL queries each page render ran (the server counts them with an
engine subclass and reports them in a response header); and the CSV export of the whole
library: time, size and the server's peak RSS growth while it streamed.

Targets: every listed page p50 <= 30 ms and p95 <= 100 ms; <= 3 queries a page render;
the 100,000-row export in <= 5 s with flat memory. Latency depends on what else the
machine runs, so the load average is printed, and so is the server's CPU time per page
(all its threads), which does not. `--keep` keeps both databases and `--reuse` uses them
again (migrations are still applied); PostgreSQL gets VACUUM ANALYZE before measuring,
as autovacuum would shortly do after a bulk load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
# CRATE_BENCH_POSTGRES_URL names another database (two benchmarks side by side).
PG_BENCH = os.environ.get(
    "CRATE_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crate_bench"
)
QUERY_HEADER = "x-crate-queries"
P50_TARGET_MS = 30.0
P95_TARGET_MS = 100.0
QUERY_TARGET = 3
EXPORT_TARGET_S = 5.0
# RSS growth that still counts as flat for a 100,000-row (~35 MB) export.
EXPORT_RSS_FLAT_MB = 60.0


# ---------------------------------------------------------------- the server (child)


def serve(database_url: str, port: int) -> None:
    """Run the app under uvicorn, counting each request's SQL queries into a header."""
    import uvicorn

    from services import db
    from services.settings import Settings
    from web.app import create_app

    app = create_app(Settings(database_url=database_url, secret_key="bench-secret-key-0123"))
    queries: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
        "queries", default=None
    )
    engine = db.engine()
    base = type(engine)

    class CountingEngine(base):  # type: ignore[valid-type,misc]
        """The same engine, counting every query it runs for the current request."""

        __slots__ = ()

        async def run_querystring(self, querystring: Any, in_pool: bool = False) -> Any:
            counter = queries.get()
            if counter is not None:
                counter[0] += 1
            return await base.run_querystring(self, querystring, in_pool=in_pool)

        async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
            counter = queries.get()
            if counter is not None:
                counter[0] += 1
            return await base.run_ddl(self, ddl, in_pool=in_pool)

    # Engines use __slots__, so swapping the class is the only way to wrap one in place.
    engine.__class__ = CountingEngine
    database = db.database()
    if database.is_sqlite:
        # On SQLite the database runs the pages' reads on connections of its own, past
        # the engine.
        read, read_tuples = database.read, database.read_tuples

        async def counted_read(*found: Any) -> Any:
            counter = queries.get()
            if counter is not None:
                counter[0] += len(found)
            return await read(*found)

        async def counted_read_tuples(query: Any) -> Any:
            counter = queries.get()
            if counter is not None:
                counter[0] += 1
            return await read_tuples(query)

        database.read = counted_read  # type: ignore[method-assign]
        database.read_tuples = counted_read_tuples  # type: ignore[method-assign]

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        counter = [0]
        token = queries.set(counter)

        async def send_counted(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (QUERY_HEADER.encode(), b"%d" % counter[0])]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_counted)
        finally:
            queries.reset(token)

    uvicorn.run(counted, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


# ---------------------------------------------------------------- databases


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_url(tracks: int) -> str:
    """Where the SQLite library of this size lives between runs."""
    return f"sqlite:///{tempfile.gettempdir()}/crate-bench-{tracks}.sqlite3"


async def track_count(database_url: str) -> int:
    """How many tracks a database already holds (0 if it has no library yet)."""
    from services import db
    from services.tables import Track

    db.use(database_url)
    try:
        return int(await Track.count())
    except Exception:  # no table yet, or no database: it needs seeding
        return 0


async def reset_postgres() -> None:
    """An empty crate_bench database."""
    import asyncpg

    name = PG_BENCH.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(PG_BENCH)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def drop_postgres() -> None:
    """Remove the crate_bench database."""
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def prepare(engines: list[str], tracks: int, reuse: bool) -> dict[str, str]:
    """Seed the engines' databases side by side (or reuse them); return their URLs."""
    urls = {"sqlite": sqlite_url(tracks), "postgres": PG_BENCH}
    children: dict[str, subprocess.Popen[bytes]] = {}
    for engine in engines:
        url = urls[engine]
        if reuse and asyncio.run(track_count(url)) >= tracks:
            print(f"{engine}: reusing the {tracks:,}-track library at {url}")
            continue
        if engine == "sqlite":
            path = Path(url.removeprefix("sqlite:///"))
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
        else:
            asyncio.run(reset_postgres())
        print(f"{engine}: seeding {tracks:,} tracks…", flush=True)
        children[engine] = subprocess.Popen(
            [sys.executable, "-m", "tests.support.seed", "--tracks", str(tracks),
             "--database-url", url],
            cwd=ROOT,
        )  # fmt: skip
    for engine, child in children.items():
        if child.wait() != 0:
            raise SystemExit(f"seeding {engine} failed")
    for engine in engines:
        asyncio.run(migrate(urls[engine]))
    return {engine: urls[engine] for engine in engines}


async def migrate(database_url: str) -> None:
    """Apply any new migration, and on PostgreSQL refresh statistics and the visibility map."""
    from services import db
    from services.tables import Track

    db.use(database_url)
    await db.migrate()
    if not db.is_sqlite():
        await Track.raw("VACUUM ANALYZE")


async def sample_ids(database_url: str) -> dict[str, Any]:
    """Real values to filter on: a mid-sized genre, a busy label and artist, a job."""
    from services import db
    from services.tables import Job, Track

    db.use(database_url)
    genre = await Track.raw(
        "SELECT genre AS id FROM track GROUP BY genre ORDER BY COUNT(*) DESC LIMIT 1 OFFSET 8"
    )
    label = await Track.raw(
        "SELECT label AS id FROM track GROUP BY label ORDER BY COUNT(*) DESC LIMIT 1 OFFSET 5"
    )
    artist = await Track.raw(
        "SELECT artist AS id FROM track_artist GROUP BY artist ORDER BY COUNT(*) DESC"
        " LIMIT 1 OFFSET 10"
    )
    track = await Track.raw("SELECT id FROM track ORDER BY id LIMIT 1 OFFSET 50000")
    job = await Job.select(Job.task_id).first()
    names = await Track.raw(
        "SELECT (SELECT name FROM label WHERE id = {}) AS label,"
        " (SELECT name FROM artist WHERE id = {}) AS artist,"
        " (SELECT release FROM track WHERE id = {}) AS release",
        label[0]["id"],
        artist[0]["id"],
        track[0]["id"],
    )
    return {
        "genre": genre[0]["id"],
        "label": label[0]["id"],
        "artist": artist[0]["id"],
        "track": track[0]["id"],
        "job": job["task_id"] if job else None,
        # As a person types them: the start of a label's name, an artist's whole name.
        "label_typed": quote_plus(str(names[0]["label"])[:4].lower()),
        "artist_typed": quote_plus(str(names[0]["artist"])),
        "release": names[0]["release"],
    }


# ---------------------------------------------------------------- measuring


@dataclass
class Result:
    """Latencies, server CPU and query counts of one page shape."""

    name: str
    path: str
    millis: list[float]
    cpu_ms: float  # the server's CPU time per request, all threads: unmoved by other load
    queries: int
    status: int
    target: bool

    @property
    def p50(self) -> float:
        """The median, in ms."""
        return statistics.median(self.millis)

    @property
    def p95(self) -> float:
        """The 95th percentile, in ms."""
        ordered = sorted(self.millis)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def shapes(ids: dict[str, Any]) -> list[tuple[str, str, dict[str, str], bool]]:
    """(name, path, headers, counts toward the targets) for every page measured."""
    htmx = {"HX-Request": "true"}
    listed = [
        ("no filter", "/tracks", {}, True),
        ("q title word", "/tracks?q=midnight", {}, True),
        ("q two words", "/tracks?q=deep+groove", {}, True),
        # Typed without its accent: the stored text is folded (Señor, Café).
        ("q folded word", "/tracks?q=senor", {}, True),
        # "remix" is in a fifth of all tracks: the worst case for a word search.
        ("q common word", "/tracks?q=remix", {}, False),
        ("genre", f"/tracks?genre={ids['genre']}", {}, True),
        ("bpm range", "/tracks?bpm_min=122&bpm_max=126", {}, True),
        ("key+compatible", "/tracks?key=8A&compatible=1", {}, True),
        ("label", f"/tracks?label={ids['label']}", {}, True),
        ("artist", f"/tracks?artist={ids['artist']}", {}, True),
        ("label typed (start)", f"/tracks?label={ids['label_typed']}", {}, True),
        ("artist typed (name)", f"/tracks?artist={ids['artist_typed']}", {}, True),
        ("dates", "/tracks?released_from=2025-01-01&released_to=2025-03-31", {}, True),
        ("spotify not_found", "/tracks?spotify=not_found", {}, True),
        ("spotify matched", "/tracks?spotify=matched", {}, True),
        (
            "combined",
            f"/tracks?genre={ids['genre']}&bpm_min=120&bpm_max=130&key=8A&compatible=1&sort=bpm",
            {},
            True,
        ),  # fmt: skip
        ("sort bpm", "/tracks?sort=bpm", {}, True),
        ("sort key", "/tracks?sort=key", {}, True),
        ("sort title", "/tracks?sort=title", {}, True),
        ("sort artist", "/tracks?sort=artist", {}, True),
        ("sort label", "/tracks?sort=label", {}, True),
        ("deep page 1000", "/tracks?page=1000", {}, True),
        ("deep page, sort title", "/tracks?page=1000&sort=title", {}, False),
        ("track page", f"/tracks/{ids['track']}", {}, True),
        ("htmx fragment", "/tracks?bpm_min=122&bpm_max=126", htmx, False),
        ("label page", f"/labels/{ids['label']}", {}, False),
        ("artist page", f"/artists/{ids['artist']}", {}, False),
        ("release page", f"/releases/{ids['release']}", {}, False),
        ("name suggestions", f"/tracks/names?label={ids['label_typed'][:2]}", htmx, False),
        ("dashboard", "/", {}, False),
    ]
    if ids["job"]:
        listed.append(("job (chart order)", f"/tracks?job={ids['job']}", {}, False))
    return listed


def measure(
    base_url: str, pid: int, ids: dict[str, Any], samples: int
) -> tuple[Result, list[Result]]:
    """Time /healthz and every page shape, `samples` times each after a warm-up."""
    import httpx
    import psutil  # type: ignore[import-untyped]  # no stubs in the dev group

    server = psutil.Process(pid)

    def cpu_seconds() -> float:
        times = server.cpu_times()
        return float(times.user + times.system)

    results = []
    with httpx.Client(base_url=base_url, timeout=60) as http:

        def timed(name: str, path: str, headers: dict[str, str], target: bool) -> Result:
            for _ in range(3):
                http.get(path, headers=headers)
            millis, queries, status = [], 0, 0
            cpu_before = cpu_seconds()
            for _ in range(samples):
                started = time.perf_counter()
                response = http.get(path, headers=headers)
                millis.append((time.perf_counter() - started) * 1000)
                status = response.status_code
                queries = max(queries, int(response.headers.get(QUERY_HEADER, "0")))
            cpu_ms = (cpu_seconds() - cpu_before) * 1000 / samples
            return Result(name, path, millis, cpu_ms, queries, status, target)

        health = timed("/healthz", "/healthz", {}, False)
        for name, path, headers, target in shapes(ids):
            results.append(timed(name, path, headers, target))
    return health, results


def export(base_url: str, pid: int) -> dict[str, float]:
    """Download the whole library as CSV while watching the server's memory."""
    import httpx
    import psutil

    server = psutil.Process(pid)
    baseline = server.memory_info().rss
    peak = baseline
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    size = lines = 0
    first_byte = 0.0
    with (
        httpx.Client(base_url=base_url, timeout=120) as http,
        http.stream("GET", "/tracks/export.csv") as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if not size:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    return {
        "seconds": seconds,
        "first_byte": first_byte,
        "rows": lines - 1,
        "megabytes": size / 1e6,
        "rss_growth_mb": (peak - baseline) / 1e6,
        "rss_mb": peak / 1e6,
    }


def run_engine(engine: str, database_url: str, samples: int) -> bool:
    """Serve one database, measure everything, print it; True when every target is met."""
    ids = asyncio.run(sample_ids(database_url))
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", database_url, "--port", str(port)], cwd=ROOT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, child)
        health, results = measure(base_url, child.pid, ids, samples)
        exported = export(base_url, child.pid)
    finally:
        child.terminate()
        child.wait(10)
    return report(engine, health, results, exported)


def wait_until_up(base_url: str, child: subprocess.Popen[bytes]) -> None:
    """Poll /healthz until the server answers."""
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit("the server stopped before it answered")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not answer within 60 s")


def report(engine: str, health: Result, results: list[Result], exported: dict[str, float]) -> bool:
    """Print one engine's numbers and say whether they meet the targets."""
    print(f"\n== {engine} ==  load average {os.getloadavg()[0]:.2f} (other processes count too)")
    print(
        f"{'page':24} {'p50 ms':>8} {'p95 ms':>8} {'x healthz':>10} {'cpu ms':>8}"
        f" {'queries':>8}  status"
    )
    print(f"{'/healthz':24} {health.p50:8.1f} {health.p95:8.1f} {1:10.1f} {health.cpu_ms:8.1f}")
    ok = True
    for result in results:
        misses = []
        if result.target and result.p50 > P50_TARGET_MS:
            misses.append("p50")
        if result.target and result.p95 > P95_TARGET_MS:
            misses.append("p95")
        if result.queries > QUERY_TARGET:
            misses.append("queries")
        if result.status != 200:
            misses.append(f"HTTP {result.status}")
        ok = ok and not misses
        flag = "MISS " + ",".join(misses) if misses else ("ok" if result.target else "(info)")
        print(
            f"{result.name:24} {result.p50:8.1f} {result.p95:8.1f}"
            f" {result.p50 / health.p50:10.1f} {result.cpu_ms:8.1f} {result.queries:8d}  {flag}"
        )
    export_ok = (
        exported["seconds"] <= EXPORT_TARGET_S and exported["rss_growth_mb"] <= EXPORT_RSS_FLAT_MB
    )
    ok = ok and export_ok
    print(
        f"CSV export: {exported['rows']:,.0f} rows, {exported['megabytes']:.1f} MB in"
        f" {exported['seconds']:.2f} s (first byte {exported['first_byte'] * 1000:.0f} ms);"
        f" server RSS +{exported['rss_growth_mb']:.1f} MB (peak {exported['rss_mb']:.0f} MB)"
        f"  {'ok' if export_ok else 'MISS'}"
    )
    return ok


def main(argv: list[str] | None = None) -> None:
    """Seed, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="reuse a library left by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    urls = prepare(engines, args.tracks, args.reuse)
    results = {engine: run_engine(engine, url, args.samples) for engine, url in urls.items()}
    if not args.keep:
        if "sqlite" in urls:
            path = Path(urls["sqlite"].removeprefix("sqlite:///"))
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
        if "postgres" in urls:
            asyncio.run(drop_postgres())
    print(
        "\n"
        + ", ".join(f"{e}: {'all targets met' if ok else 'MISSED'}" for e, ok in results.items())
    )
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
