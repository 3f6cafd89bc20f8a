"""Is a track a re-release? Its Spotify album came out more than 90 days before Beatport's
release date.

Spotify gives an album's release date at the precision it knows: "2019-03-01", "2019-03"
or just "2019". Reading a partial date as its first day ("2019" as 2019-01-01) would flag
a track released on Beatport in February 2019 whose album came out in December 2019:
wrongly. So a partial date is read as the *last* day it may mean ("2019" as 2019-12-31,
"2019-02" as 2019-02-28): a track is flagged only when even the latest reading of
Spotify's date is more than 90 days before Beatport's. Only certain re-releases are
flagged; a doubtful one is not.

The flag is stored (`track.rerelease`, indexed) when enrichment stores a match
(services.match_store) and was filled in for tracks matched before it by migration
2026-12-07T21:40, so `/tracks?rerelease=1` is a plain indexed condition on both engines.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Final

REISSUE_DAYS: Final = 90
_DATE_RE: Final = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def latest_day(text: str | None) -> date | None:
    """The last day a Spotify release date may mean ('2019' → 2019-12-31, '2019-02' →
    2019-02-28, '2019-03-01' → itself); None when there is none or it cannot be read."""
    match = _DATE_RE.fullmatch((text or "").strip())
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        if month is None:
            return date(int(year), 12, 31)
        if day is None:
            last = calendar.monthrange(int(year), int(month))[1]
            return date(int(year), int(month), last)
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def as_day(value: object) -> date | None:
    """A stored date (a date, or its ISO text as SQLite hands it over) as a date."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def is_rerelease(spotify_release_date: str | None, new_release_date: object) -> bool:
    """True when Spotify's album surely came out more than 90 days before Beatport's date."""
    spotify = latest_day(spotify_release_date)
    beatport = as_day(new_release_date)
    if spotify is None or beatport is None:
        return False
    return spotify < beatport - timedelta(days=REISSUE_DAYS)
