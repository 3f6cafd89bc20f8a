"""The library as CSV: PRODUCT's columns in order, streamed a chunk at a time.

The rows come from `catalog.ordered_chunks`, the same filter and order as the tracks
list, so the file holds exactly what the list shows, however many tracks that is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from services.catalog import BEATPORT_WEB, EXPORT_CHUNK, TrackFilter, ordered_chunks
from services.tables import Track

CSV_COLUMNS: Final = (
    "beatport_id",
    "title",
    "mix_name",
    "artists",
    "remixers",
    "label",
    "genre",
    "bpm",
    "key",
    "camelot",
    "length_ms",
    "isrc",
    "release",
    "release_date",
    "beatport_url",
    "spotify_id",
    "spotify_method",
    "spotify_confidence",
    "spotify_searched_at",
    # More than the documented set, after it.
    "sub_genre",
    "catalog_number",
    "spotify_url",
    "chart_position",
)
# Values come back as the driver reads them: dates as text, and integers as `x + 0`, an
# expression, which SQLite hands over without running Piccolo's per-value converter
# (a quarter of the export's time otherwise). Genre, sub-genre and label names come from
# a dict loaded once per export rather than a join in every chunk.
_EXPORT_COLUMNS: Final = (
    "t.beatport_id + 0 AS beatport_id, t.title, t.mix_name, t.artists_text, t.remixers_text,"
    " t.label + 0 AS label, t.genre + 0 AS genre, t.bpm + 0 AS bpm, t.key_name, t.camelot,"
    " t.length_ms + 0 AS length_ms, t.isrc, r.name AS release_name,"
    " CAST(t.new_release_date AS TEXT) AS released,"
    f" '{BEATPORT_WEB}/track/' || COALESCE(NULLIF(t.slug, ''), 'track') || '/' || t.beatport_id"
    " AS beatport_url, t.spotify_id,"
    " CASE WHEN t.spotify_method IN ('isrc', 'text') THEN t.spotify_method END AS method,"
    " t.spotify_confidence, t.spotify_searched_at, t.sub_genre + 0 AS sub_genre,"
    " t.catalog_number, t.spotify_url"
)
# A spreadsheet runs a cell starting with one of these as a formula; scraped text must not.
_FORMULA_STARTS: Final = frozenset("=+-@\t\r")


def _text(value: str | None) -> str | None:
    """Scraped text for a CSV cell, defused when a spreadsheet would take it for a formula."""
    return "'" + value if value and value[0] in _FORMULA_STARTS else value


def _csv_row(row: Sequence[Any], names: Mapping[tuple[str, int], str]) -> tuple[object, ...]:
    """One export row (columns as `_EXPORT_COLUMNS`) as CSV cells; None is an empty cell."""
    (beatport_id, title, mix_name, artists, remixers, label, genre, bpm, key, camelot,
     length_ms, isrc, release, released, url, spotify_id, method, confidence, searched,
     sub_genre, catalog_number, spotify_url, _id, *position) = row  # fmt: skip
    return (
        beatport_id,
        _text(title),
        _text(mix_name),
        _text(artists),
        _text(remixers),
        _text(names.get(("label", label))),
        _text(names.get(("genre", genre))),
        bpm,
        key,
        camelot,
        length_ms,
        _text(isrc),
        _text(release),
        released,
        url,
        spotify_id,
        method,
        None if confidence is None else f"{confidence:.4g}",
        searched.isoformat() if isinstance(searched, datetime) else searched,
        _text(names.get(("sub_genre", sub_genre))),
        _text(catalog_number),
        spotify_url,
        position[0] if position else None,
    )


async def _names() -> dict[tuple[str, int], str]:
    """Every genre, sub-genre and label name by id (a few thousand at most)."""
    rows = await Track.raw(
        "SELECT 'genre' AS kind, id, name FROM genre UNION ALL SELECT 'sub_genre', id, name"
        " FROM sub_genre UNION ALL SELECT 'label', id, name FROM label"
    )
    return {(row["kind"], int(row["id"])): str(row["name"]) for row in rows}


async def export_chunks(
    track_filter: TrackFilter, *, chunk: int = EXPORT_CHUNK
) -> AsyncIterator[list[Sequence[Any]]]:
    """The filter's tracks as export rows (`_EXPORT_COLUMNS`, then the track's id and, in
    a job's chart order, its position), `chunk` rows at a time."""
    async for rows in ordered_chunks(track_filter, _EXPORT_COLUMNS, chunk=chunk):
        yield rows


async def export_csv(track_filter: TrackFilter) -> AsyncIterator[str]:
    """The filter's tracks as CSV text: the header row, then one chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    names = await _names()
    async for rows in export_chunks(track_filter):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_csv_row(row, names) for row in rows)
        yield buffer.getvalue()
