"""The read side: what the library holds, shaped for the pages that show it."""

from __future__ import annotations

from dataclasses import dataclass

from services.tables import Genre, Track


@dataclass(frozen=True, slots=True)
class LibraryTotals:
    """Headline numbers for the dashboard."""

    tracks: int
    artists: int
    labels: int
    releases: int
    spotify_matched: int
    spotify_not_found: int

    @property
    def spotify_unsearched(self) -> int:
        """Tracks never looked up on Spotify."""
        return self.tracks - self.spotify_matched - self.spotify_not_found


async def library_totals() -> LibraryTotals:
    """Count tracks, artists, labels, releases and Spotify matches in one query."""
    rows = await Track.raw(
        "SELECT (SELECT COUNT(*) FROM track) AS tracks,"
        " (SELECT COUNT(*) FROM artist) AS artists,"
        " (SELECT COUNT(*) FROM label) AS labels,"
        " (SELECT COUNT(*) FROM release) AS releases,"
        " (SELECT COUNT(*) FROM track WHERE spotify_id IS NOT NULL) AS spotify_matched,"
        " (SELECT COUNT(*) FROM track WHERE spotify_id IS NULL"
        "  AND spotify_searched_at IS NOT NULL) AS spotify_not_found"
    )
    row = rows[0]
    return LibraryTotals(**{key: int(value or 0) for key, value in row.items()})


async def genre_choices() -> list[dict[str, object]]:
    """Genres seen so far, by name, for the collect form's suggestions."""
    rows = await Genre.select(Genre.beatport_id, Genre.name).order_by(Genre.name).limit(500)
    return list(rows)
