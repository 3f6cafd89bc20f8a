"""The one Retry-After reader and the one backoff policy (services.retry)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from services.retry import Backoff, parse_retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("1.5", 1.5),
        (" 2.5 ", 2.5),
        ("3600", 3600.0),
        ("99999", 99999.0),  # capping is the caller's choice (Beatport caps, Spotify defers)
        # Nothing usable: the caller backs off instead.
        ("0", None),
        ("-3", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        # HTTP dates, against the fixed `now` below.
        ("Thu, 01 Jan 2026 00:00:45 GMT", 45.0),
        ("Wed, 31 Dec 2025 23:00:00 GMT", None),  # already past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=datetime(2026, 1, 1, tzinfo=UTC)) == expected


def test_a_saved_spotify_429_date_reads_as_a_minute() -> None:
    now = datetime.fromtimestamp(1495375777.0, UTC)  # the saved 429's own Date header
    assert parse_retry_after("Sun, 21 May 2017 14:10:37 GMT", now=now) == 60.0


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    policy = Backoff(first=1.0, cap=120.0)
    rng = random.Random(7)
    for attempt in range(1, 12):
        full = min(120.0, 2.0 ** (attempt - 1))
        for _ in range(50):
            assert full / 2 <= policy.wait(attempt, rng) <= full
    # Far past the cap (and far past what 2**n can hold as a float) it stays at the cap.
    assert 60.0 <= policy.wait(10_000, rng) <= 120.0
    assert 0.5 <= policy.wait(0, rng) <= 1.0  # no attempt yet counts as the first
