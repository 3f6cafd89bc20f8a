"""The dashboard's pictures as plain shapes for inline SVG: no chart library, no JavaScript.

Each function turns counts from `services.library_stats.library_stats` into coordinates the
templates draw; everything here is arithmetic, so it is easy to test and to reason about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from services import catalog, library_stats

BPM_LOW: Final = 70
BPM_HIGH: Final = 180
HISTOGRAM_WIDTH: Final = 660
HISTOGRAM_HEIGHT: Final = 140
WHEEL_INNER: Final = 58
WHEEL_MIDDLE: Final = 104
WHEEL_OUTER: Final = 150


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the BPM histogram."""

    bpm: int
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Histogram:
    """The BPM distribution: bars, axis ticks, and the busiest tempo."""

    bars: list[Bar]
    ticks: list[tuple[float, int]]
    peak: Bar | None
    width: int = HISTOGRAM_WIDTH
    height: int = HISTOGRAM_HEIGHT


def bpm_histogram(counts: dict[int, int]) -> Histogram:
    """One bar per BPM from 70 to 180; slower and faster tracks join the end bars."""
    binned: dict[int, int] = {}
    for bpm, count in counts.items():
        edge = min(max(bpm, BPM_LOW), BPM_HIGH)
        binned[edge] = binned.get(edge, 0) + count
    slots = BPM_HIGH - BPM_LOW + 1
    step = HISTOGRAM_WIDTH / slots
    tallest = max(binned.values(), default=0)
    bars = []
    for bpm in range(BPM_LOW, BPM_HIGH + 1):
        count = binned.get(bpm, 0)
        height = 0.0 if not tallest else (HISTOGRAM_HEIGHT - 2) * count / tallest
        label = f"≤{bpm}" if bpm == BPM_LOW else f"≥{bpm}" if bpm == BPM_HIGH else str(bpm)
        bars.append(
            Bar(
                bpm=bpm,
                label=label,
                count=count,
                x=round((bpm - BPM_LOW) * step, 2),
                y=round(HISTOGRAM_HEIGHT - height, 2),
                width=round(max(step - 1, 1), 2),
                height=round(height, 2),
            )
        )
    ticks = [
        (round((bpm - BPM_LOW) * step + step / 2, 2), bpm)
        for bpm in range(BPM_LOW, BPM_HIGH + 1, 10)
    ]
    peak = max(bars, key=lambda bar: bar.count) if tallest else None
    return Histogram(bars, ticks, peak)


@dataclass(frozen=True, slots=True)
class Sector:
    """One key on the Camelot wheel: its ring segment, its label's place, its share."""

    code: str
    name: str
    count: int
    path: str
    label_x: float
    label_y: float
    strength: float  # 0..1, how full the colour is


def _point(radius: float, degrees: float) -> tuple[float, float]:
    """A point on the wheel; 0° is straight up, angles grow clockwise like a clock."""
    radians = math.radians(degrees)
    return round(radius * math.sin(radians), 2), round(-radius * math.cos(radians), 2)


def _ring_segment(inner: float, outer: float, start: float, end: float) -> str:
    (ax, ay), (bx, by) = _point(outer, start), _point(outer, end)
    (cx, cy), (dx, dy) = _point(inner, end), _point(inner, start)
    return (
        f"M{ax} {ay} A{outer} {outer} 0 0 1 {bx} {by} L{cx} {cy} A{inner} {inner} 0 0 0 {dx} {dy} Z"
    )


def camelot_wheel(counts: dict[str, int]) -> list[Sector]:
    """The 24 keys as a wheel: numbers round the clock (12 at the top), B outside, A inside."""
    busiest = max(counts.values(), default=0)
    sectors = []
    for code, name in catalog.CAMELOT:
        number, letter = int(code[:-1]), code[-1]
        centre = (number % 12) * 30
        inner, outer = (WHEEL_MIDDLE, WHEEL_OUTER) if letter == "B" else (WHEEL_INNER, WHEEL_MIDDLE)
        count = counts.get(code, 0)
        label_x, label_y = _point((inner + outer) / 2, centre)
        sectors.append(
            Sector(
                code=code,
                name=name,
                count=count,
                path=_ring_segment(inner, outer, centre - 15, centre + 15),
                label_x=label_x,
                label_y=label_y,
                strength=round(count / busiest, 3) if busiest else 0.0,
            )
        )
    return sectors


@dataclass(frozen=True, slots=True)
class Ranked:
    """One row of a top-N bar chart."""

    id: int
    name: str
    count: int
    share: float  # of the largest, 0..1


def ranked(items: list[tuple[catalog.Ref, int]]) -> list[Ranked]:
    """Top genres or labels with their bar lengths relative to the first."""
    largest = max((count for _, count in items), default=0)
    return [
        Ranked(ref.id, ref.name, count, round(count / largest, 3) if largest else 0.0)
        for ref, count in items
    ]


@dataclass(frozen=True, slots=True)
class Share:
    """One part of the Spotify bar."""

    state: str
    words: str
    count: int
    percent: float
    x: float
    width: float


def spotify_shares(counts: dict[str, int]) -> list[Share]:
    """Matched, not found and never searched as parts of one 100-wide bar."""
    total = sum(counts.values())
    words = {
        "matched": "On Spotify",
        "not_found": "Not found",
        "unsearched": "Not searched yet",
    }
    shares, x = [], 0.0
    for state, label in words.items():
        count = counts.get(state, 0)
        width = 100 * count / total if total else 0.0
        shares.append(Share(state, label, count, round(width, 1), round(x, 3), round(width, 3)))
        x += width
    return shares


@dataclass(frozen=True, slots=True)
class Pictures:
    """Everything the dashboard draws."""

    histogram: Histogram
    wheel: list[Sector]
    genres: list[Ranked]
    labels: list[Ranked]
    spotify: list[Share]


def pictures(stats: library_stats.LibraryStats) -> Pictures:
    """All the dashboard's pictures from one set of library counts."""
    return Pictures(
        histogram=bpm_histogram(stats.bpm),
        wheel=camelot_wheel(stats.keys),
        genres=ranked(stats.genres),
        labels=ranked(stats.labels),
        spotify=spotify_shares(stats.spotify),
    )
