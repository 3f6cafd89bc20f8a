"""What the dashboard shows of the library: headline counts and the pictures' numbers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from services import db
from services.catalog import Ref
from services.sql_dialect import dialect_of
from services.tables import Track


@dataclass(frozen=True, slots=True)
class LibraryTotals:
    """Headline numbers for the dashboard."""

    tracks: int
    artists: int
    labels: int
    releases: int
    spotify_matched: int
    spotify_not_found: int
    # When a track last changed: with the count, it says whether pictures are out of date.
    changed_at: datetime | None = None

    @property
    def spotify_unsearched(self) -> int:
        """Tracks never looked up on Spotify."""
        return self.tracks - self.spotify_matched - self.spotify_not_found


async def library_totals() -> LibraryTotals:
    """Count tracks, artists, labels, releases and Spotify matches in one query."""
    # SQLite would read "not found" through spotify_id's index and then every row;
    # `+` steers it to the (searched_at, spotify_id) index, which answers alone.
    unmatched = dialect_of(db.database().engine_type).unindexed("spotify_id")
    rows = await Track.raw(
        "SELECT (SELECT COUNT(*) FROM track) AS tracks,"
        " (SELECT COUNT(*) FROM artist) AS artists,"
        " (SELECT COUNT(*) FROM label) AS labels,"
        " (SELECT COUNT(*) FROM release) AS releases,"
        " (SELECT COUNT(*) FROM track WHERE spotify_id IS NOT NULL) AS spotify_matched,"
        f" (SELECT COUNT(*) FROM track WHERE {unmatched} IS NULL"
        "  AND spotify_searched_at IS NOT NULL) AS spotify_not_found,"
        " (SELECT MAX(updated_at) FROM track) AS changed_at"
    )
    row = dict(rows[0])
    changed_at = row.pop("changed_at")
    if isinstance(changed_at, str):  # SQLite gives an expression's value back as text
        changed_at = datetime.fromisoformat(changed_at)
    return LibraryTotals(
        **{key: int(value or 0) for key, value in row.items()}, changed_at=changed_at
    )


@dataclass(slots=True)
class LibraryStats:
    """What the dashboard draws: counts by BPM, key and Spotify state; top genres and labels."""

    bpm: dict[int, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    spotify: dict[str, int] = field(default_factory=dict)
    genres: list[tuple[Ref, int]] = field(default_factory=list)
    labels: list[tuple[Ref, int]] = field(default_factory=list)


# The last distributions computed, by database and library fingerprint: grouping 100,000
# tracks four ways costs ~100 ms, and they only change when tracks are added or changed.
_stats_cache: dict[tuple[str, int, datetime | None, int], LibraryStats] = {}


async def library_stats(totals: LibraryTotals, top: int = 10) -> LibraryStats:
    """Everything the dashboard's pictures need: one grouped query, reused until tracks change.

    The Spotify shares come from `totals`, which the dashboard reads anyway.
    """
    key = (db.database().url, totals.tracks, totals.changed_at, top)
    stats = _stats_cache.get(key)
    if stats is None:
        stats = await _distributions(top)
        _stats_cache.clear()
        _stats_cache[key] = stats
    return replace(
        stats,
        spotify={
            "matched": totals.spotify_matched,
            "not_found": totals.spotify_not_found,
            "unsearched": totals.spotify_unsearched,
        },
    )


async def _distributions(top: int) -> LibraryStats:
    """Counts by BPM and key, and the busiest genres and labels, in one query."""
    rows = await Track.raw(
        "SELECT 'bpm' AS kind, t.bpm AS id, CAST(NULL AS TEXT) AS name, COUNT(*) AS n FROM track t"
        " WHERE t.bpm IS NOT NULL GROUP BY t.bpm"
        " UNION ALL SELECT 'key', CAST(NULL AS INTEGER), t.camelot, COUNT(*) FROM track t"
        " WHERE t.camelot IS NOT NULL GROUP BY t.camelot"
        " UNION ALL SELECT 'genre', g.id, g.name, c.n FROM (SELECT t.genre AS id, COUNT(*) AS n"
        " FROM track t WHERE t.genre IS NOT NULL GROUP BY t.genre ORDER BY n DESC, t.genre"
        " LIMIT {}) c JOIN genre g ON g.id = c.id"
        " UNION ALL SELECT 'label', l.id, l.name, c.n FROM (SELECT t.label AS id, COUNT(*) AS n"
        " FROM track t WHERE t.label IS NOT NULL GROUP BY t.label ORDER BY n DESC, t.label"
        " LIMIT {}) c JOIN label l ON l.id = c.id",
        top,
        top,
    )
    stats = LibraryStats()
    for row in rows:
        count = int(row["n"])
        match row["kind"]:
            case "bpm":
                stats.bpm[int(row["id"])] = count
            case "key":
                stats.keys[str(row["name"])] = count
            case "genre":
                stats.genres.append((Ref(int(row["id"]), str(row["name"])), count))
            case "label":
                stats.labels.append((Ref(int(row["id"]), str(row["name"])), count))
    stats.genres.sort(key=lambda item: (-item[1], item[0].name))
    stats.labels.sort(key=lambda item: (-item[1], item[0].name))
    return stats
