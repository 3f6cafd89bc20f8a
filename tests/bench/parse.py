"""How long extract_next_data (and find_tracks) take on a ~1 MB Beatport page.

Run: uv run python tests/bench/parse.py

The page is the real top-100 capture, its 7 tracks repeated (with new ids) to the real
page's 100, and the HTML before the script padded with real table rows to about 1 MB,
which is where the real page puts its __NEXT_DATA__ (char ~515 000 of 870 000).
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.filter import SoupStrainer

from services.beatport.pages import extract_next_data, find_tracks
from tests.support.fixtures import real_fixtures

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = real_fixtures() / "beatport"
TARGET_SIZE = 1_000_000


def build_page() -> str:
    """A ~1 MB page shaped like the real one."""
    html = (FIXTURES / "top-100_2026-01-25.trimmed.html").read_text(encoding="utf-8")
    data = json.loads((FIXTURES / "top-100_2026-01-25.next_data.trimmed.json").read_text())
    query = data["props"]["pageProps"]["dehydratedState"]["queries"][0]
    real = query["state"]["data"]["results"]
    results = []
    for n in range(100):
        track = copy.deepcopy(real[n % len(real)])
        track["id"] = 30_000_000 + n
        results.append(track)
    query["state"]["data"]["results"] = results
    script = json.dumps(data, separators=(",", ":")).replace("&", "\\u0026")
    start = html.index('<script id="__NEXT_DATA__"')
    head, rows = html[:start], html[html.index("<body>") + 6 : start]
    filler = rows * max(1, (TARGET_SIZE - len(head) - len(script)) // max(len(rows), 1))
    return (
        head
        + filler
        + f'<script id="__NEXT_DATA__" type="application/json">{script}</script></body></html>'
    )


def bs4_extract(html: str) -> dict[str, object]:
    """The SoupStrainer way (stack-notes §5), for comparison."""
    soup = BeautifulSoup(html, "html.parser", parse_only=SoupStrainer("script", id="__NEXT_DATA__"))
    tag = soup.find("script", id="__NEXT_DATA__")
    assert tag is not None and tag.string
    result: dict[str, object] = json.loads(tag.string)
    return result


def parse_page(html: str) -> None:
    """What web mode does with each page."""
    find_tracks(extract_next_data(html))


def measure(label: str, work: Callable[[str], object], html: str, runs: int) -> None:
    """Print the median and best time of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work(html)
        times.append((time.perf_counter() - started) * 1000)
    print(f"{label:<40} median {statistics.median(times):7.2f} ms   best {min(times):7.2f} ms")


def main() -> None:
    """Build the page, check it parses, and time the parsers."""
    html = build_page()
    tracks = find_tracks(extract_next_data(html)).tracks
    assert len(tracks) == 100, len(tracks)
    print(f"page: {len(html):,} characters, __NEXT_DATA__ at {html.index('__NEXT_DATA__'):,}")
    measure("extract_next_data", extract_next_data, html, 50)
    measure("extract_next_data + find_tracks", parse_page, html, 50)
    measure("bs4 SoupStrainer (for comparison)", bs4_extract, html, 5)


if __name__ == "__main__":
    main()
