"""Benchmark: a chart collected weekly for 5 years (260 collections of 100) on SQLite and
PostgreSQL: its page with movement and history lines, its JSON, `/charts` and a track page
with its chart runs.

    uv run python tests/bench/charts.py [--collections 260] [--engines sqlite,postgres]
                                        [--samples 40]

Seeds a fresh database per engine (SQLite in a temporary file, PostgreSQL in a
`crate_bench_charts` database it creates anew) with 600 tracks and the collections (each
week a few tracks leave, a few enter, the rest shuffle a little), serves the app with
uvicorn in this process and asks each page one after another over keep-alive HTTP. It
prints the median and 95th percentile of each, and their ratio to `/healthz` measured in
the same run. Targets (the browse targets, tests/bench/browse.py): p50 <= 30 ms and
p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgres://postgres@127.0.0.1:5432/crate_bench_charts"
P50_TARGET_MS = 30.0
P95_TARGET_MS = 100.0
POOL = 600


async def fresh_postgres() -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute("DROP DATABASE IF EXISTS crate_bench_charts WITH (FORCE)")
        await admin.execute("CREATE DATABASE crate_bench_charts")
    finally:
        await admin.close()


async def seed(collections: int) -> int:
    """The tracks and `collections` weekly Top 100 collections; the id of a track in the
    newest one."""
    from services import db
    from services.bulk import Bulk
    from services.tables import Job, Track

    rng = random.Random(7)
    await Track.insert(
        *[
            Track(
                beatport_id=5_000_000 + n,
                title=f"Track {n}",
                mix_name="Extended Mix",
                slug=f"track-{n}",
                artists_text=f"Artist {n % 97}",
            )
            for n in range(POOL)
        ]
    )
    ids = [
        row["id"]
        for row in await Track.select(Track._meta.primary_key).order_by(Track._meta.primary_key)
    ]
    start = datetime(2021, 12, 6, 6, tzinfo=UTC)
    target = {"kind": "top100", "beatport_id": None, "slug": None, "date_from": None}
    params = json.dumps({"target": {**target, "date_to": None}, "label": "Beatport Top 100"})
    await Job.insert(
        *[
            Job(
                task_id=f"bench-chart-{week}",
                kind="collect_bp_tracks_task",
                params=params,
                state="succeeded",
                done=100,
                total=100,
                created_at=start + timedelta(weeks=week),
                finished_at=start + timedelta(weeks=week, minutes=2),
            )
            for week in range(collections)
        ]
    )
    jobs = [
        row["id"] for row in await Job.select(Job._meta.primary_key).order_by(Job._meta.primary_key)
    ]
    chart = rng.sample(ids, 100)
    rows: list[tuple[int, int, int]] = []
    for job in jobs:
        # A few leave, a few enter (some of them again), the rest shuffle a little.
        for _ in range(rng.randint(5, 15)):
            chart.pop(rng.randrange(len(chart)))
        while len(chart) < 100:
            pick = rng.choice(ids)
            if pick not in chart:
                chart.insert(rng.randrange(len(chart) + 1), pick)
        jitter = {t: index + rng.uniform(-4, 4) for index, t in enumerate(chart)}
        chart.sort(key=jitter.__getitem__)
        rows += [(job, track, position) for position, track in enumerate(chart, start=1)]

    async def write(bulk: Bulk) -> None:
        await bulk.insert("INSERT INTO job_track (job, track, position)", list(rows))

    await db.write(write)
    if not db.is_sqlite():
        await Track.raw("VACUUM ANALYZE")
    return int(chart[0])


async def measure(database_url: str, collections: int, samples: int) -> bool:
    from services import db
    from services.settings import Settings
    from tests.conftest import serve_app
    from web.app import create_app

    db.use(database_url)
    await db.migrate()
    track = await seed(collections)
    app = create_app(Settings(database_url=database_url, secret_key="bench-secret-key-0123"))
    pages = {
        "/healthz": ("/healthz", {}),
        "chart page": ("/charts/top-100", {}),
        "chart JSON": ("/charts/top-100", {"Accept": "application/json"}),
        "chart compared": ("/charts/top-100?compare=130&with=20", {}),
        "/charts": ("/charts", {}),
        "track page": (f"/tracks/{track}", {}),
    }
    ok = True
    async for live in serve_app(app):
        times: dict[str, list[float]] = {}
        for name, (path, headers) in pages.items():
            for attempt in range(samples + 3):
                began = time.perf_counter()
                response = await live.http.get(path, headers=headers)
                elapsed = (time.perf_counter() - began) * 1000
                assert response.status_code == 200, (path, response.status_code, response.text)
                if attempt >= 3:  # warm-up
                    times.setdefault(name, []).append(elapsed)
        base = statistics.median(times["/healthz"])
        for name, values in times.items():
            p50 = statistics.median(values)
            p95 = sorted(values)[int(len(values) * 0.95) - 1]
            miss = name != "/healthz" and (p50 > P50_TARGET_MS or p95 > P95_TARGET_MS)
            ok = ok and not miss
            print(
                f"  {name:16} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  x{p50 / base:5.1f} /healthz"
                f"  {'MISS' if miss else 'ok'}"
            )
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--collections", type=int, default=260)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for engine in args.engines.split(","):
            print(f"{engine}: {args.collections} collections of 100")
            if engine == "postgres":
                asyncio.run(fresh_postgres())
                url = PG_BENCH
            else:
                url = f"sqlite:///{scratch}/charts.sqlite3"
            results[engine] = asyncio.run(measure(url, args.collections, args.samples))
    print(", ".join(f"{e}: {'all targets met' if ok else 'MISSED'}" for e, ok in results.items()))
    if not all(results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
