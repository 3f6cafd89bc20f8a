"""Benchmark: dig mode in a 100,000-track library on SQLite and PostgreSQL.

    uv run python tests/bench/dig.py [--tracks 100000] [--engines sqlite,postgres]
                                     [--samples 200] [--reuse] [--keep]

Seeds each database like tests/bench/browse.py (with its own files: a SQLite file and a
`crate_bench_dig` PostgreSQL database, or CRATE_BENCH_POSTGRES_URL), flags every tenth
matched track as a re-release, serves the app with uvicorn in a child process, and walks a
dig over keep-alive HTTP the way static/dig.js does: the dig's list once (`GET /dig`, the
page and its JSON), then for each step "next" = the next track's card (`GET
/dig/track/{id}`) and a decision (`POST /dig/track/{id}`), over `--samples` different
tracks. It also times `/tracks` filtered on a decision and on re-releases.

Targets: "next" (card + decision, the server's whole work to move on) p50 and p95 under
100 ms, each alone too; the filtered `/tracks` pages p50 <= 30 ms and p95 <= 100 ms like
the browse benchmark. Each line shows its ratio to `/healthz` measured in the same run and
the server's CPU time per request (all threads), which other load on the machine does not
move. The decisions are undone at the end (`decision=new`), so `--reuse` finds the same
library.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault(
    "CRATE_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/crate_bench_dig"
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from tests.bench import browse  # noqa: E402  (seeding and serving; reads the URL above)

NEXT_TARGET_MS = 100.0
PAGE_P50_MS = browse.P50_TARGET_MS
PAGE_P95_MS = browse.P95_TARGET_MS
PAGE = -1.0  # the target marker of a /tracks page (browse's p50 and p95 targets)


def sqlite_url(tracks: int) -> str:
    """This benchmark's own SQLite library (a dig writes decisions into it)."""
    return f"sqlite:///{tempfile.gettempdir()}/crate-bench-dig-{tracks}.sqlite3"


async def flag_rereleases(database_url: str) -> None:
    """Every tenth matched track came out on Spotify long before: a re-release."""
    from services import db
    from services.tables import Track

    db.use(database_url)
    await Track.raw(
        "UPDATE track SET spotify_release_date = '2015', rerelease = TRUE"
        " WHERE spotify_id IS NOT NULL AND id % 10 = 0"
    )
    await Track.raw("UPDATE track SET triage = 'new', triage_at = NULL WHERE triage <> 'new'")
    if not db.is_sqlite():
        await Track.raw("VACUUM ANALYZE track")


def timed_many(
    http: Any, cpu: Any, calls: list[tuple[str, str, dict[str, Any] | None]]
) -> tuple[list[float], float]:
    """Run the calls (method, path, JSON body) once each; their ms and the CPU ms each."""
    millis = []
    before = cpu()
    for method, path, body in calls:
        started = time.perf_counter()
        response = http.request(method, path, json=body, headers={"Accept": "application/json"})
        millis.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
    return millis, (cpu() - before) * 1000 / max(1, len(calls))


def p95(millis: list[float]) -> float:
    ordered = sorted(millis)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_engine(engine: str, database_url: str, samples: int) -> bool:
    """Serve one database, walk a dig, print the numbers; True when the targets are met."""
    import httpx
    import psutil  # type: ignore[import-untyped]  # no stubs in the dev group

    asyncio.run(flag_rereleases(database_url))
    ids = asyncio.run(browse.sample_ids(database_url))
    port = browse.free_port()
    child = subprocess.Popen(
        [sys.executable, browse.__file__, "--serve", database_url, "--port", str(port)],
        cwd=browse.ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, list[float], float, float | None]] = []
    try:
        browse.wait_until_up(base_url, child)
        server = psutil.Process(child.pid)

        def cpu() -> float:
            times = server.cpu_times()
            return float(times.user + times.system)

        with httpx.Client(base_url=base_url, timeout=60) as http:

            def repeat(name: str, path: str, target: float | None, times: int = 40) -> None:
                for _ in range(3):
                    http.get(path, headers={"Accept": "application/json"})
                millis, cpu_ms = timed_many(http, cpu, [("GET", path, None)] * times)
                rows.append((name, millis, cpu_ms, target))

            repeat("/healthz", "/healthz", None)
            listed = http.get("/dig", headers={"Accept": "application/json"}).json()
            walk = listed["beatport_ids"][:samples]
            repeat(f"dig list JSON ({listed['total']:,} ids)", "/dig", None, 20)
            page = http.get("/dig")
            assert page.status_code == 200
            before = cpu()
            page_ms = []
            for _ in range(20):
                started = time.perf_counter()
                http.get("/dig")
                page_ms.append((time.perf_counter() - started) * 1000)
            rows.append(("dig page (HTML, once)", page_ms, (cpu() - before) * 1000 / 20, None))
            repeat(f"dig a genre ({ids['genre']})", f"/dig?genre={ids['genre']}", None, 20)
            if ids["job"]:
                repeat("dig a job (chart order)", f"/dig?job={ids['job']}", None, 20)
            cards, card_cpu = timed_many(
                http, cpu, [("GET", f"/dig/track/{b}", None) for b in walk]
            )
            decisions, decide_cpu = timed_many(
                http,
                cpu,
                [("POST", f"/dig/track/{b}", {"decision": "skipped"}) for b in walk],
            )
            rows.append(("next: the track's card", cards, card_cpu, NEXT_TARGET_MS))
            rows.append(("next: the decision", decisions, decide_cpu, NEXT_TARGET_MS))
            both = [c + d for c, d in zip(cards, decisions, strict=True)]
            rows.append(("next: card + decision", both, card_cpu + decide_cpu, NEXT_TARGET_MS))
            repeat("/tracks?triage=skipped", "/tracks?triage=skipped", PAGE)
            repeat("/tracks?triage=new", "/tracks?triage=new", PAGE)
            repeat("/tracks?triage=new&sort=bpm", "/tracks?triage=new&sort=bpm", PAGE)
            repeat("/tracks?rerelease=1", "/tracks?rerelease=1", PAGE)
            repeat("/tracks?rerelease=0&sort=bpm", "/tracks?rerelease=0&sort=bpm", PAGE)
            repeat("/tracks?rerelease=1&sort=bpm", "/tracks?rerelease=1&sort=bpm", PAGE)
            after = http.get("/dig", headers={"Accept": "application/json"}).json()
            left_out = set(walk) & set(after["beatport_ids"])
            timed_many(http, cpu, [("POST", f"/dig/track/{b}", {"decision": "new"}) for b in walk])
    finally:
        child.terminate()
        child.wait(10)
    return report(engine, rows, left_out)


def report(
    engine: str, rows: list[tuple[str, list[float], float, float | None]], left_out: set[int]
) -> bool:
    print(f"\n== {engine} ==  load average {os.getloadavg()[0]:.2f} (other processes count too)")
    print(f"{'request':34} {'p50 ms':>8} {'p95 ms':>8} {'x healthz':>10} {'cpu ms':>8}  target")
    health = statistics.median(rows[0][1])
    ok = not left_out
    for name, millis, cpu_ms, target in rows:
        p50, high = statistics.median(millis), p95(millis)
        if target is None:
            flag = "(info)"
        elif target == NEXT_TARGET_MS:
            met = p50 < target and high < target
            flag = f"{'ok' if met else 'MISS'} (p50, p95 < {target:.0f})"
            ok = ok and met
        else:
            met = p50 <= PAGE_P50_MS and high <= PAGE_P95_MS
            flag = f"{'ok' if met else 'MISS'} (p50 <= {PAGE_P50_MS:.0f}, p95 <= {PAGE_P95_MS:.0f})"
            ok = ok and met
        print(f"{name:34} {p50:8.1f} {high:8.1f} {p50 / health:10.1f} {cpu_ms:8.1f}  {flag}")
    print(
        "decided tracks left out of the next dig: "
        + ("yes" if not left_out else f"NO ({len(left_out)} came back)")
    )
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="reuse a library left by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases")
    args = parser.parse_args(argv)
    browse.sqlite_url = sqlite_url  # this benchmark's own SQLite file
    engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    urls = browse.prepare(engines, args.tracks, args.reuse)
    results = {engine: run_engine(engine, url, args.samples) for engine, url in urls.items()}
    if not args.keep:
        if "sqlite" in urls:
            path = Path(urls["sqlite"].removeprefix("sqlite:///"))
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
        if "postgres" in urls:
            asyncio.run(browse.drop_postgres())
    print(
        "\n"
        + ", ".join(f"{e}: {'all targets met' if ok else 'MISSED'}" for e, ok in results.items())
    )
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
