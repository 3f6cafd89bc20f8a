"""How a name a person types is compared with the library's labels and artists.

Each label and artist row keeps `name_key`, its name in this form, indexed: a typed name
is looked up as that key or as the start of one (services.track_queries), and the
suggestions under the label and artist fields come from the same index.
"""

from __future__ import annotations

from typing import Final

from piccolo.querystring import QueryString

from services.folding import fold
from services.track_filter import TrackFilter

# At most this many labels (artists) whose names start with a typed name are filtered on.
NAME_MATCHES: Final = 200


def name_key(name: str) -> str:
    """A name as it is stored in `name_key` and looked up: folded as the search folds words
    (services.folding: no accents, case or punctuation), so `kolsch` finds Kölsch."""
    return fold(name)


def prefix_bounds(key: str) -> tuple[str, str]:
    """The range of keys starting with `key` (non-empty): `low <= k < high`, in code point
    order (SQLite's binary collation, PostgreSQL's "C" collation of the column)."""
    last = ord(key[-1])
    if last < 0xD7FF:
        return key, key[:-1] + chr(last + 1)
    return key, key + "\uffff"


def named(table: str, text: str) -> QueryString:
    """The ids of the labels or artists (`table`) a typed name means: those called that
    (services.name_keys.name_key), or when none is, those whose name starts with it."""
    key = name_key(text)
    if not key:
        return QueryString(f"SELECT x.id FROM {table} x WHERE 1 = 0")
    low, high = prefix_bounds(key)
    return QueryString(
        f"SELECT x.id FROM {table} x WHERE x.name_key = {{}} UNION ALL SELECT s.id FROM"
        f" (SELECT x.id FROM {table} x WHERE x.name_key > {{}} AND x.name_key < {{}}"
        f" AND NOT EXISTS (SELECT 1 FROM {table} e WHERE e.name_key = {{}})"
        f" ORDER BY x.name_key, x.id LIMIT {NAME_MATCHES}) s",
        low,
        low,
        high,
        low,
    )


def first_named(table: str, text: str) -> QueryString:
    """The id of the label or artist a typed name shows as: the first in name order of
    those it means (one called that comes first), as a scalar subquery; NULL if none."""
    key = name_key(text)
    low, high = prefix_bounds(key) if key else ("", "")
    return QueryString(
        f"(SELECT x.id FROM {table} x WHERE x.name_key >= {{}} AND x.name_key < {{}}"
        " ORDER BY x.name_key, x.id LIMIT 1)",
        low,
        high,
    )


def artist_credits(track_filter: TrackFilter) -> QueryString | None:
    """The tracks crediting the filter's artist (by id or typed name), None without one."""
    if track_filter.artist is not None:
        return QueryString(
            f"SELECT ta.track FROM track_artist ta WHERE ta.artist = {int(track_filter.artist)}"
        )
    if track_filter.artist_name:
        return QueryString(
            "SELECT ta.track FROM track_artist ta WHERE ta.artist IN ({})",
            named("artist", track_filter.artist_name),
        )
    return None


def suggestions(table: str, text: str, limit: int) -> QueryString | None:
    """The names of labels or artists (`table`) starting with a typed name, in name order,
    read off the name key's index; None when nothing was typed."""
    key = name_key(text)
    if not key:
        return None
    low, high = prefix_bounds(key)
    return QueryString(
        f"SELECT x.name FROM {table} x WHERE x.name_key >= {{}} AND x.name_key < {{}}"
        f" ORDER BY x.name_key, x.id LIMIT {int(limit)}",
        low,
        high,
    )
