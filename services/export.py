"""The library as CSV: PRODUCT's columns in order, streamed a chunk at a time.

The rows come from `ordered_chunks`, the same filter and order (the same SQL) as the
tracks list, so the file holds exactly what the list shows, however many tracks that is.
The plain file is UTF-8 for scripts; the spreadsheet flavour (`excel`) starts with a
byte order mark, so Excel reads it as UTF-8, and adds the length as m:ss.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from services import db
from services.catalog import BEATPORT_WEB
from services.sql_dialect import dialect_of, sql
from services.tables import Track
from services.track_display import minutes_seconds
from services.track_filter import POSITION_SORT, TrackFilter
from services.track_queries import ORDERS, ordered_ids, outer_order

EXPORT_CHUNK: Final = 2000

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
# The spreadsheet flavour's extra columns, after those.
EXCEL_COLUMNS: Final = (*CSV_COLUMNS, "length")
BYTE_ORDER_MARK: Final = "\ufeff"
# Values come back as the driver reads them: dates as text, and integers as `x + 0`, an
# expression, which SQLite hands over without running Piccolo's per-value converter
# (a quarter of the export's time otherwise). Genre, sub-genre and label names come from
# a dict loaded once per export rather than a join in every chunk.
EXPORT_COLUMNS: Final = (
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
    """One export row (columns as `EXPORT_COLUMNS`) as CSV cells; None is an empty cell."""
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
        _text(key),
        _text(camelot),
        length_ms,
        _text(isrc),
        _text(release),
        released,
        url,
        _text(spotify_id),
        method,
        None if confidence is None else f"{confidence:.4g}",
        searched.isoformat() if isinstance(searched, datetime) else searched,
        _text(names.get(("sub_genre", sub_genre))),
        _text(catalog_number),
        _text(spotify_url),
        position[0] if position else None,
    )


_LENGTH_MS: Final = CSV_COLUMNS.index("length_ms")


def _with_length(cells: tuple[object, ...]) -> tuple[object, ...]:
    """A row's cells with the length as m:ss after them (the spreadsheet flavour)."""
    length_ms = cells[_LENGTH_MS]
    return (*cells, minutes_seconds(length_ms if isinstance(length_ms, int) else None))


async def ordered_chunks(
    track_filter: TrackFilter, columns: str, *, chunk: int = EXPORT_CHUNK, ahead: int = 2
) -> AsyncIterator[list[Sequence[Any]]]:
    """Every track under the filter, in the list's order, `chunk` rows at a time.

    Each row holds `columns` (SQL over the track as `t` and its release as `r`), then
    the track's id (and its chart position when the list is in a job's chart order).
    A keyset walk: each chunk starts after the last sort key of the one before, found
    with a cheap index-only query, so no chunk re-reads earlier rows. The chunks' rows
    (the costly part) are fetched up to `ahead` at a time and handed out in order;
    memory holds those few chunks, however large the library.
    """
    database = db.database()
    dialect = dialect_of(database.engine_type)
    order = ORDERS[track_filter.sort]
    phases = ["value"] if order.nullable is None else ["null", "value"]
    if order.descending and order.nullable is not None:
        phases.reverse()
    position = ", p.s0 AS position" if track_filter.sort == POSITION_SORT else ""
    outer = outer_order(track_filter, dialect)
    pending: deque[asyncio.Future[list[Sequence[Any]]]] = deque()

    async def fetch(phase: str, after: tuple[Any, ...] | None) -> list[Sequence[Any]]:
        ids = ordered_ids(track_filter, dialect, limit=chunk, after=after, phase=phase)
        return await database.read_tuples(
            sql(
                f"SELECT {columns}, p.id + 0 AS id{position}"
                " FROM ({}) p JOIN track t ON t.id = p.id"
                f" LEFT JOIN release r ON r.id = t.release ORDER BY {outer}",
                ids,
            )
        )

    async def next_start(phase: str, after: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """Where the chunk after the one starting at `after` starts; None if none does."""
        ids = ordered_ids(
            track_filter, dialect, limit=1, offset=chunk - 1, after=after, phase=phase
        )
        keys = ", ".join(order.columns)
        rows = await database.read_tuples(sql(f"SELECT id, {keys} FROM ({{}}) k", ids))
        if not rows:
            return None
        found_id, *found_keys = rows[0]
        return (*found_keys, found_id)

    try:
        for phase in phases:
            after: tuple[Any, ...] | None = None
            while True:
                pending.append(asyncio.ensure_future(fetch(phase, after)))
                after = await next_start(phase, after)
                while pending and (len(pending) >= ahead or after is None):
                    rows = await pending.popleft()
                    if rows:
                        yield rows
                if after is None:
                    break
    finally:
        # A client that stops reading must not leave queries running on their own.
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


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
    """The filter's tracks as export rows (`EXPORT_COLUMNS`, then the track's id and, in
    a job's chart order, its position), `chunk` rows at a time."""
    async for rows in ordered_chunks(track_filter, EXPORT_COLUMNS, chunk=chunk):
        yield rows


async def export_csv(track_filter: TrackFilter, *, excel: bool = False) -> AsyncIterator[str]:
    """The filter's tracks as CSV text: the header row, then one chunk of rows at a time.
    `excel`: a byte order mark first, and the length as m:ss in a last column."""
    async for text in write_csv(export_chunks(track_filter), excel=excel):
        yield text


async def write_csv(
    chunks: AsyncIterator[list[Sequence[Any]]],
    *,
    excel: bool = False,
    extra: tuple[str, ...] = (),
) -> AsyncIterator[str]:
    """Export rows (`EXPORT_COLUMNS`, the track's id, then one value per `extra` column)
    as CSV text: the header row, then one chunk at a time; the `extra` columns last."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if excel:
        buffer.write(BYTE_ORDER_MARK)
    writer.writerow((*(EXCEL_COLUMNS if excel else CSV_COLUMNS), *extra))
    yield buffer.getvalue()
    names = await _names()
    cut = len(extra)
    async for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        if cut:
            tails = (row[len(row) - cut :] for row in rows)
            heads = (_csv_row(row[: len(row) - cut], names) for row in rows)
            writer.writerows((*head, *tail) for head, tail in zip(heads, tails, strict=True))
        else:
            cells = (_csv_row(row, names) for row in rows)
            writer.writerows(map(_with_length, cells) if excel else cells)
        yield buffer.getvalue()
