"""Benchmark: collect 6,000 tracks from the fake Beatport, on SQLite and PostgreSQL.

    uv run python tests/bench/collect.py [--tracks 6000]

The fake runs as its own process (so its CPU is not the collector's), with no
politeness delay. Each measurement runs in a fresh child process, so peak RSS is the
collector's own. Printed: the bare download of the same pages (httpx GET, no
parsing), then the whole collection job (the in-process broker, job bookkeeping,
parsing, upserts), as tracks/s, the ratio to the bare download, and peak RSS; on
SQLite also how long after the job its tracks were all in the search index.
Targets: >= 1,000 tracks/s on both engines, job <= 3x the download, RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABEL_ID = 7
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgres://postgres@127.0.0.1:5432/crate_bench_collect"


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def download(web_url: str, pages: int, per_page: int) -> dict[str, float]:
    """GET the label's pages one after another, as the collector does, and nothing else."""
    import httpx

    started = time.perf_counter()
    size = 0
    async with httpx.AsyncClient(timeout=60) as client:
        for page in range(1, pages + 1):
            response = await client.get(
                f"{web_url}/label/bench/{LABEL_ID}/tracks",
                params={"page": page, "per_page": per_page},
            )
            response.raise_for_status()
            size += len(response.content)
    return {"seconds": time.perf_counter() - started, "bytes": size}


async def collect(web_url: str, database_url: str) -> dict[str, float]:
    """Run one real collection job in-process and wait for it."""
    from services import db
    from services.settings import Settings
    from tasks import jobs as job_tasks
    from tasks.broker import create_broker
    from tasks.collection import COLLECT_KIND

    settings = Settings(
        database_url=database_url,
        secret_key="bench",
        beatport_mode="web",
        beatport_web_url=web_url,
        beatport_min_interval=0.0,
    )
    db.use(database_url)
    await db.migrate()
    await db.start_pool()
    broker = create_broker(settings)
    await broker.startup()
    params = {
        "target": {
            "kind": "label",
            "beatport_id": LABEL_ID,
            "slug": "bench",
            "date_from": None,
            "date_to": None,
        },
        "max_pages": 300,
        "label": "bench",
    }
    started = time.perf_counter()
    task_id = await job_tasks.enqueue(broker, COLLECT_KIND, params)
    while True:
        _, snapshot = await job_tasks.read_status(broker, task_id)
        if snapshot.state in ("succeeded", "failed", "cancelled"):
            break
        await asyncio.sleep(0.1)
    seconds = time.perf_counter() - started
    # SQLite's search index takes the new tracks just after the job (off its clock, but
    # measured): until then searches match them with LIKE.
    from services import search_index

    for _ in range(3000):
        if not await search_index.pending():
            break
        await asyncio.sleep(0.02)
    indexed = time.perf_counter() - started - seconds
    await broker.shutdown()
    await db.close_pool()
    if snapshot.state != "succeeded":
        raise SystemExit(f"collection {snapshot.state}: {snapshot.error}")
    return {"seconds": seconds, "tracks": snapshot.counts.get("new", 0), "indexed": indexed}


def child(args: argparse.Namespace) -> None:
    """One measurement, printed as JSON on stdout."""
    if args.what == "download":
        result = asyncio.run(download(args.web_url, args.pages, args.per_page))
    else:
        result = asyncio.run(collect(args.web_url, args.database_url))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_child(*extra: str) -> dict[str, float]:
    """Run this script as a child measurement and read its JSON."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def fresh_postgres() -> str:
    """An empty benchmark database."""
    import asyncpg

    async def create() -> None:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute("DROP DATABASE IF EXISTS crate_bench_collect WITH (FORCE)")
            await admin.execute("CREATE DATABASE crate_bench_collect")
        finally:
            await admin.close()

    asyncio.run(create())
    return PG_BENCH


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=6000)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--what", default="collect")
    parser.add_argument("--web-url", default="")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--pages", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    pages = -(-args.tracks // args.per_page)
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.beatport",
            "--tracks",
            str(args.tracks),
            "--per-page",
            str(args.per_page),
            "--warm",
            f"label:{LABEL_ID}",
            "--no-auth",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert fake.stdout is not None
        web_url = fake.stdout.readline().strip()
        common = ["--web-url", web_url, "--pages", str(pages), "--per-page", str(args.per_page)]
        run_child("--what", "download", *common)  # warm the fake's page cache
        bare = run_child("--what", "download", *common)
        print(
            f"{args.tracks} tracks, {pages} pages of {args.per_page}, "
            f"{bare['bytes'] / 1e6:.1f} MB of HTML"
        )
        print(
            f"{'bare download':<22} {bare['seconds']:6.2f} s  "
            f"{args.tracks / bare['seconds']:8.0f} tracks/s  "
            f"peak RSS {bare['peak_rss_mb']:.0f} MB"
        )
        with tempfile.TemporaryDirectory() as scratch:
            engines = {
                "SQLite": f"sqlite:///{scratch}/bench.sqlite3",
                "PostgreSQL": fresh_postgres(),
            }
            for name, url in engines.items():
                result = run_child("--what", "collect", "--database-url", url, *common)
                rate = result["tracks"] / result["seconds"]
                ratio = result["seconds"] / bare["seconds"]
                verdict = (
                    "ok"
                    if rate >= 1000 and ratio <= 3 and result["peak_rss_mb"] <= 200
                    else "MISSED"
                )
                print(
                    f"{'collect, ' + name:<22} {result['seconds']:6.2f} s  {rate:8.0f} tracks/s"
                    f"  {ratio:4.2f}x download  peak RSS {result['peak_rss_mb']:.0f} MB  "
                    f"[{verdict}]  ({int(result['tracks'])} new)"
                )
                if name == "SQLite":
                    print(
                        f"{'':<22} all in the search index {result['indexed']:.2f} s after"
                        " the job was seen done (indexed in the background once it ends)"
                    )
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    main()
