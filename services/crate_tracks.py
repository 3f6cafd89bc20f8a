"""A crate's tracks, read: its page (the tracks list's rows and filters, in crate order),
its JSON, and its exports (CSV with `position`, M3U8).

The page narrows the crate with the same filter as `/tracks` (services.track_filter, its
WHERE terms from services.track_queries) but always keeps crate order; positions shown
count from 1 (stored from 0, see services.crates).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from services import db, export
from services.catalog import Ref, TrackPage, read_rows
from services.crates import CrateSummary, get_crate
from services.errors import InvalidRequest
from services.sql_dialect import dialect_of, number, sql
from services.track_display import shown_mix
from services.track_filter import FILTER_FIELDS, parse_filter
from services.track_queries import ROW_COLUMNS, conditions, where

# A crate page shows this many tracks at a time.
CRATE_PER_PAGE: Final = 100
EXPORT_CHUNK: Final = 2000


@dataclass(slots=True)
class CratePage:
    """A crate with one page of its tracks (a TrackPage, its rows' positions the crate's)."""

    crate: CrateSummary
    page: TrackPage
    # Each row's Beatport id, by track row id (the routes name tracks by Beatport id).
    beatport_ids: dict[int, int] = field(default_factory=dict)


def _crate_filter(params: Mapping[str, str]) -> dict[str, str]:
    """The query without a sort: a crate is always in crate order."""
    return {name: str(params.get(name) or "") for name in FILTER_FIELDS if name != "sort"}


async def crate_page(crate_id: int, params: Mapping[str, str], *, per_page: int = 0) -> CratePage:
    """The crate and one page of its tracks under the filter in `params`, in crate order.
    Raise CrateNotFound; a refused filter comes back as the page's `errors`."""
    crate = await get_crate(crate_id)
    per_page = per_page or CRATE_PER_PAGE
    values = _crate_filter(params)
    database = db.database()
    dialect = dialect_of(database.engine_type)
    genres_query = sql("SELECT g.id + 0 AS id, g.name FROM genre g ORDER BY lower(g.name), g.id")
    try:
        track_filter = parse_filter(values)
    except InvalidRequest as exc:
        (genre_rows,) = await database.read(genres_query)
        page = TrackPage(None, {**values, "sort": ""}, exc.errors, genres=_genres(genre_rows))
        return CratePage(crate, page)
    terms = [sql(f"ct.crate = {number(crate_id)}"), *conditions(track_filter, dialect)]
    source = "crate_track ct JOIN track t ON t.id = ct.track"
    offset = (track_filter.page - 1) * per_page
    rows_query = sql(
        f"SELECT {ROW_COLUMNS}, p.position + 1 AS position, t.beatport_id + 0 AS beatport_id,"
        " ta.role AS credit_role, a.id + 0 AS credit_id, a.name AS credit_name"
        f" FROM (SELECT ct.track AS id, ct.position + 0 AS position FROM {source}{{}}"
        f" ORDER BY ct.position LIMIT {number(per_page + 1)} OFFSET {number(offset)}) p"
        " JOIN track t ON t.id = p.id LEFT JOIN track_artist ta ON ta.track = t.id"
        " LEFT JOIN artist a ON a.id = ta.artist ORDER BY p.position, ta.role, ta.position",
        where(terms),
    )
    count_query = sql(f"SELECT COUNT(*) AS n FROM {source}{{}}", where(terms))
    found, counted, genre_rows = await database.read(rows_query, count_query, genres_query)
    rows = read_rows(found)
    total = int(counted[0]["n"])
    page = TrackPage(
        track_filter,
        {**values, "sort": ""},
        rows=rows[:per_page],
        total=total,
        per_page=per_page,
        has_next=len(rows) > per_page,
        genres=_genres(genre_rows),
        cap=max(total, 1),
    )
    beatport_ids = {int(row["id"]): int(row["beatport_id"]) for row in found}
    return CratePage(crate, page, beatport_ids)


async def crate_choices() -> list[tuple[int, str]]:
    """Every crate's id and name, oldest first (the "Add to crate" menus)."""
    (rows,) = await db.database().read(sql("SELECT id + 0 AS id, name FROM crate ORDER BY id"))
    return [(int(row["id"]), str(row["name"])) for row in rows]


def _genres(rows: list[dict[str, Any]]) -> list[Ref]:
    return [Ref(int(row["id"]), str(row["name"])) for row in rows]


async def crate_json(crate_id: int) -> dict[str, Any]:
    """The crate for API clients (PRODUCT.md's shape); raise CrateNotFound."""
    crate = await get_crate(crate_id)
    (rows,) = await db.database().read(
        sql(
            "SELECT ct.position + 1 AS position, t.beatport_id + 0 AS beatport_id, t.title,"
            " t.mix_name, t.spotify_id FROM crate_track ct JOIN track t ON t.id = ct.track"
            f" WHERE ct.crate = {number(crate_id)} ORDER BY ct.position"
        )
    )
    return {
        "id": crate.id,
        "name": crate.name,
        "tracks": [
            {
                "position": int(row["position"]),
                "beatport_id": int(row["beatport_id"]),
                "title": row["title"],
                "mix_name": row["mix_name"] or "",
                "spotify_id": row["spotify_id"],
            }
            for row in rows
        ],
        "spotify_playlist_id": crate.spotify_playlist_id,
        "spotify_playlist_url": crate.spotify_playlist_url,
    }


async def _chunks(crate_id: int, columns: str) -> AsyncIterator[list[Sequence[Any]]]:
    """The crate's tracks in crate order, `columns` (over `t`, its release `r`, `ct`),
    EXPORT_CHUNK rows at a time."""
    database = db.database()
    after = -1
    while True:
        rows = await database.read_tuples(
            sql(
                f"SELECT {columns}, ct.position + 0 AS stored FROM crate_track ct"
                " JOIN track t ON t.id = ct.track LEFT JOIN release r ON r.id = t.release"
                f" WHERE ct.crate = {number(crate_id)} AND ct.position > {number(after)}"
                f" ORDER BY ct.position LIMIT {number(EXPORT_CHUNK)}"
            )
        )
        if not rows:
            return
        after = int(rows[-1][-1])
        yield [row[:-1] for row in rows]
        if len(rows) < EXPORT_CHUNK:
            return


async def crate_csv(crate_id: int) -> tuple[CrateSummary, AsyncIterator[str]]:
    """The crate and its CSV: the /tracks/export.csv columns plus `position`, in crate
    order. Raise CrateNotFound (before anything is streamed)."""
    crate = await get_crate(crate_id)
    columns = f"{export.EXPORT_COLUMNS}, t.id + 0 AS id, ct.position + 1 AS position"
    return crate, export.write_csv(_chunks(crate_id, columns), extra=("position",))


def _line(text: str) -> str:
    """Text on one line (a playlist entry must not break)."""
    return " ".join(text.split())


async def crate_m3u8(crate_id: int) -> tuple[CrateSummary, AsyncIterator[str]]:
    """The crate as an extended M3U playlist (UTF-8): per track `#EXTINF:<seconds>,Artists
    - Title (Mix)`, then its Beatport preview, or its Spotify URI when it has no preview;
    a track with neither is left out. Raise CrateNotFound."""
    crate = await get_crate(crate_id)
    columns = "t.artists_text, t.title, t.mix_name, t.length_ms + 0, t.sample_url, t.spotify_id"

    async def lines() -> AsyncIterator[str]:
        yield f"#EXTM3U\n#PLAYLIST:{_line(crate.name)}\n"
        async for rows in _chunks(crate_id, columns):
            out = []
            for artists, title, mix_name, length_ms, sample_url, spotify_id in rows:
                target = sample_url or (f"spotify:track:{spotify_id}" if spotify_id else None)
                if not target:
                    continue
                mix = shown_mix(title, mix_name or "", original=True)
                name = f"{title} ({mix})" if mix else title
                shown = f"{artists} - {name}" if artists else name
                seconds = round(length_ms / 1000) if length_ms else -1
                out.append(f"#EXTINF:{seconds},{_line(shown)}\n{_line(target)}\n")
            yield "".join(out)

    return crate, lines()
