"""Waiting before trying again: the one `Retry-After` reader and the one backoff policy.

Beatport's client, Spotify's client and the enrichment job all use these, each with its
own first wait and cap: a server's `Retry-After` when it gives a usable one, otherwise
exponential backoff with jitter (so many waiting clients do not come back together).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a server asks to wait, from a `Retry-After` value (delta seconds or an HTTP
    date); None when it is missing, unreadable, not finite or not in the future, which
    means: choose the wait yourself (back off)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: try `n` (from 1) waits `first * 2**(n-1)` seconds,
    at most `cap`, times a random factor from 0.5 to 1."""

    first: float
    cap: float

    def wait(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before try `attempt + 1`, after `attempt` failed ones."""
        exponent = min(max(attempt, 1) - 1, 64)  # 2**64 s is far past any cap
        delay = min(self.cap, self.first * 2.0**exponent)
        return delay * (0.5 + (rng or random).random() / 2)
