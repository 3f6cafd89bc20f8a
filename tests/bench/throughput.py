"""Benchmark: jobs per minute with 1, 2 and 4 worker processes, and enqueue-to-start latency.

    uv run python tests/bench/throughput.py [--jobs 200]

Many small collections (one release of 10 tracks each) from the fake Beatport with
no politeness delay, on PostgreSQL and a Redis database of its own, with workers
started exactly as compose starts them (`crate worker`, one job at a time each).
Printed: jobs/min per worker count, the speed-up over one worker, the p50/p95 of
the time from enqueue to the job starting, and the CPU time each job cost in the
workers, PostgreSQL, Redis, the fake and this script (the ceiling on 2 cores).
Targets: 2 workers >= 1.7x one worker; enqueue-to-start p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/crate_bench_throughput"
REDIS_URL = "redis://127.0.0.1:6379/12"


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each named group of processes."""
    import psutil  # type: ignore[import-untyped]  # no stubs in the dev group

    used: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                process = psutil.Process(pid)
                # `crate worker` runs its worker in a child process (this script's own
                # children are the workers and the fake, counted on their own).
                family = [process]
                if pid != os.getpid():
                    family += process.children(recursive=True)
            except psutil.Error:
                continue
            for member in family:
                try:
                    times = member.cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system
        used[name] = total
    return used


def readers() -> int:
    """Connections waiting on the job queue (a started worker always has one)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return sum(
            1
            for entry in client.client_list()
            if entry.get("cmd") == "xreadgroup" and str(entry.get("db")) == REDIS_URL[-2:]
        )
    finally:
        client.close()


def service_pids() -> dict[str, list[int]]:
    """PostgreSQL's and Redis's server processes (backends come and go; the pool's stay)."""
    import psutil

    found: dict[str, list[int]] = {"PostgreSQL": [], "Redis": []}
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        if name.startswith("postgres"):
            found["PostgreSQL"].append(process.pid)
        elif name.startswith("redis-server"):
            found["Redis"].append(process.pid)
    return found


def start(command: list[str], env: dict[str, str], capture: bool = False) -> subprocess.Popen[str]:
    """A background process (its output kept only when `capture`)."""
    return subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


async def fresh_database() -> None:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute("DROP DATABASE IF EXISTS crate_bench_throughput WITH (FORCE)")
        await admin.execute("CREATE DATABASE crate_bench_throughput")
    finally:
        await admin.close()


async def run_round(
    workers: int, jobs_count: int, web_url: str, offset: int, fake_pid: int
) -> dict[str, float]:
    """Start `workers` worker processes, enqueue the jobs, wait for all; return the numbers."""
    from services import db
    from services.collect_request import parse_collect_request
    from services.settings import Settings
    from services.tables import Job
    from tasks import jobs as job_tasks
    from tasks.broker import create_broker
    from tasks.collection import COLLECT_KIND

    env = {
        **os.environ,
        "DATABASE_URL": PG_URL,
        "REDIS_URL": REDIS_URL,
        "BEATPORT_MODE": "web",
        "BEATPORT_WEB_URL": web_url,
        "BEATPORT_MIN_INTERVAL": "0",
        "CRATE_SECRET_KEY": "bench",
    }
    crate = str(Path(sys.executable).parent / "crate")
    processes = [
        start([crate, "worker", "--processes", "1", "--concurrency", "1"], env)
        for _ in range(workers)
    ]
    settings = Settings(database_url=PG_URL, redis_url=REDIS_URL, secret_key="bench")
    broker = create_broker(settings)
    await broker.startup()
    try:
        # Every worker started and reading (imports can take seconds on a busy machine).
        for _ in range(1200):
            if readers() >= workers:
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit("the workers did not start within a minute")
        # Warm-up, not timed: each worker's first jobs pay for lazy imports and new
        # connections, which would otherwise weigh on whichever round runs first.
        warm = [
            await job_tasks.enqueue(
                broker,
                COLLECT_KIND,
                parse_collect_request(
                    url=f"https://www.beatport.com/release/r/{offset + 9000 + n}", max_pages=1
                ).to_params(),
            )
            for n in range(4 * workers)
        ]
        for _ in range(600):
            left = await Job.count().where(Job.task_id.is_in(warm), Job.state != "succeeded")
            if not left:
                break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit("the warm-up jobs did not all succeed within a minute")
        groups = {
            "workers": [process.pid for process in processes],
            **service_pids(),
            "fake Beatport": [fake_pid],
            "this script": [os.getpid()],
        }
        cpu_before = cpu_seconds(groups)
        started = time.perf_counter()
        # A burst (a schedule firing, several users at once): queued side by side, so the
        # queueing itself (a job row committed, then Redis) does not pace the workers.
        requests = [
            parse_collect_request(
                url=f"https://www.beatport.com/release/r/{offset + n + 1}", max_pages=1
            )
            for n in range(jobs_count)
        ]
        ids = list(
            await asyncio.gather(
                *(
                    job_tasks.enqueue(broker, COLLECT_KIND, request.to_params())
                    for request in requests
                )
            )
        )
        queued = time.perf_counter() - started
        while True:
            # One light query a tenth of a second: the script shares the 2 cores.
            ended = await Job.select(Job.state).where(
                Job.task_id.is_in(ids), Job.state.is_in(["succeeded", "failed"])
            )
            if any(row["state"] == "failed" for row in ended):
                raise SystemExit("some jobs failed")
            if len(ended) == len(ids):
                break
            await asyncio.sleep(0.1)
        seconds = time.perf_counter() - started
        cpu_after = cpu_seconds(groups)
        cpu_per_job = {
            name: (cpu_after[name] - cpu_before[name]) / jobs_count * 1000 for name in groups
        }
        # Latency on an idle queue: one job at a time, from enqueue to its start.
        single = []
        for n in range(20):
            request = parse_collect_request(
                url=f"https://www.beatport.com/release/r/{offset + 5000 + n}", max_pages=1
            )
            task_id = await job_tasks.enqueue(broker, COLLECT_KIND, request.to_params())
            single.append(task_id)
            while not await Job.count().where(  # noqa: ASYNC110 (polls another process)
                Job.task_id == task_id, Job.state == "succeeded"
            ):
                await asyncio.sleep(0.02)
        rows = await Job.select(Job.created_at, Job.started_at).where(Job.task_id.is_in(single))
        latencies = sorted(
            (row["started_at"] - row["created_at"]).total_seconds() * 1000 for row in rows
        )
    finally:
        await broker.shutdown()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    del db
    return {
        **{f"cpu {name}": value for name, value in cpu_per_job.items()},
        "queued_s": queued,
        "jobs_per_minute": jobs_count / seconds * 60,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    from services import db

    fake = start(
        [sys.executable, "-m", "tests.fakes.beatport", "--tracks", "10", "--no-auth"],
        {**os.environ, "PYTHONPATH": str(ROOT)},
        capture=True,
    )
    try:
        assert fake.stdout is not None
        web_url = fake.stdout.readline().strip()
        await fresh_database()
        redis.Redis.from_url(REDIS_URL).flushdb()
        db.use(PG_URL)
        await db.migrate()
        await db.start_pool()  # as the web process does: no connection per query
        results = {}
        for offset, workers in enumerate((1, 2, 4)):
            results[workers] = await run_round(
                workers, args.jobs, web_url, offset * 10_000, fake.pid
            )
            r = results[workers]
            print(
                f"{workers} worker(s): {r['jobs_per_minute']:7.0f} jobs/min   "
                f"idle-queue enqueue-to-start p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:7.1f} ms"
                f"  (the burst was queued in {r['queued_s'] * 1000:.0f} ms)",
                flush=True,
            )
            cpu = {name[4:]: value for name, value in r.items() if name.startswith("cpu ")}
            wall = 60_000 / r["jobs_per_minute"]
            print(
                f"    CPU per job: {sum(cpu.values()):.0f} ms in all over {wall:.0f} ms of wall "
                "time (2 cores: " + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()) + ")",
                flush=True,
            )
        base = results[1]["jobs_per_minute"]
        for workers in (2, 4):
            r = results[workers]
            ratio = r["jobs_per_minute"] / base
            # Everything here shares 2 cores: at this CPU cost per job, no number of
            # workers can go faster than 2 cores' worth of jobs.
            cpu_ms = sum(value for name, value in r.items() if name.startswith("cpu "))
            ceiling = 2 * 60_000 / cpu_ms
            print(
                f"speed-up with {workers} workers: {ratio:.2f}x  (est. CPU ceiling on 2 cores: "
                f"{ceiling:.0f} jobs/min = {ceiling / base:.2f}x; reached "
                f"{r['jobs_per_minute'] / ceiling:.0%} of it)"
            )
    finally:
        await db.close_pool()
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
