"""What the catalog's SQL does differently on SQLite and PostgreSQL, behind one interface.

The query builders (services.track_queries) ask a `Dialect` for each engine-specific
piece: how a date is written, how a column is kept off its own index, how a set of
track ids is matched, how words are searched, where NULLs sort, and (SQLite only) how
big the filter's sets are before choosing a plan. `dialect_of(engine_type)` gives the one
for an engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Final

from piccolo.querystring import QueryString

from services.name_keys import artist_credits
from services.track_filter import COUNT_CAP, POSITION_SORT, TrackFilter

# Past this many tracks in a set filter (search matches, an artist's credits, a job's
# tracks), SQLite finds a page faster by walking the sort's covering index and checking
# each track against the set than by reading every track of the set.
WALK_FROM: Final = 500


def sql(text: str, *args: Any) -> QueryString:
    """A piece of SQL with `{}` placeholders for its arguments (values or other pieces)."""
    return QueryString(text, *args)


def number(value: int) -> str:
    """A whole number written into the SQL itself (see `track_queries.conditions`)."""
    return str(int(value))


def joined(separator: str, parts: list[QueryString]) -> QueryString:
    """Pieces of SQL one after another, `separator` between them."""
    return QueryString(separator.join("{}" for _ in parts), *parts)


def like(word: str) -> str:
    """A LIKE pattern matching `word` anywhere, with LIKE's own wildcards escaped."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: str, word: str) -> QueryString:
    return sql(f"{column} LIKE {{}} ESCAPE '\\'", like(word))


@dataclass(frozen=True, slots=True)
class Plan:
    """How SQLite should use the filter's sets of track ids (see `WALK_FROM`)."""

    total: int | None = None  # the count, when the search is the whole filter
    walk_rows: bool = False
    walk_count: bool = False


class Dialect(ABC):
    """The engine-specific pieces of the catalog's SQL."""

    engine_type: ClassVar[str]
    # Two ordered halves of a UNION ALL merged in order: PostgreSQL needs each half
    # ordered in parentheses; SQLite merges them by itself and refuses the parentheses.
    ordered_halves: ClassVar[bool]

    @abstractmethod
    def day(self, value: date) -> str:
        """A date written into the SQL itself."""

    @abstractmethod
    def unindexed(self, column: str) -> str:
        """`column`, written so the planner does not use that column's own index."""

    @abstractmethod
    def among(self, subquery: QueryString, *, walk: bool = False) -> QueryString:
        """Tracks (`t`) whose id the subquery lists; `walk` keeps the set off the plan's
        lead (the query walks the sort's index and checks each track against the set)."""

    @abstractmethod
    def word_terms(self, track_filter: TrackFilter, *, walk: bool = False) -> list[QueryString]:
        """The WHERE terms for the searched words."""

    @abstractmethod
    def nulls(self, *, descending: bool) -> str:
        """Where NULL sort keys go, written after a key's direction: always as the
        smallest value."""

    def plan_query(self, track_filter: TrackFilter) -> QueryString | None:
        """A query sizing the filter's sets of track ids, when the plan depends on them."""
        return None

    def read_plan(self, track_filter: TrackFilter, rows: list[dict[str, Any]]) -> Plan:
        """The plan for the answer to `plan_query`."""
        return Plan()


class PostgresDialect(Dialect):
    """PostgreSQL: pg_trgm indexes for words, arrays for sets, NULLS FIRST/LAST spelled out."""

    engine_type = "postgres"
    ordered_halves = True

    def day(self, value: date) -> str:
        return f"DATE '{_iso(value)}'"

    def unindexed(self, column: str) -> str:
        return column

    def among(self, subquery: QueryString, *, walk: bool = False) -> QueryString:
        # ANY(ARRAY(...)) runs the subquery first; PostgreSQL then reads just those
        # tracks, where an IN often made it walk the whole sort index probing each.
        return sql("t.id = ANY(ARRAY({}))", subquery)

    def word_terms(self, track_filter: TrackFilter, *, walk: bool = False) -> list[QueryString]:
        return [_contains("t.search_text", word) for word in track_filter.words]

    def nulls(self, *, descending: bool) -> str:
        return " NULLS LAST" if descending else " NULLS FIRST"


class SQLiteDialect(Dialect):
    """SQLite: FTS5 for words, `+column` to steer the planner, and a plan chosen by set size."""

    engine_type = "sqlite"
    ordered_halves = False

    def day(self, value: date) -> str:
        return f"'{_iso(value)}'"  # SQLite keeps dates as ISO text

    def unindexed(self, column: str) -> str:
        return f"+{column}"

    def among(self, subquery: QueryString, *, walk: bool = False) -> QueryString:
        return sql(f"{'+t.id' if walk else 't.id'} IN ({{}})", subquery)

    def word_terms(self, track_filter: TrackFilter, *, walk: bool = False) -> list[QueryString]:
        terms = []
        match = _fts_match(track_filter)
        if match is not None:
            terms.append(self.among(_fts_ids(track_filter, match), walk=walk))
        # FTS5's trigram index needs three characters; shorter words are matched with LIKE.
        short = [word for word in track_filter.words if len(word) < 3]
        return terms + [_contains("t.search_text", word) for word in short]

    def nulls(self, *, descending: bool) -> str:
        return ""  # SQLite sorts NULL as the smallest value by itself

    def plan_query(self, track_filter: TrackFilter) -> QueryString | None:
        """The size of the smallest set of track ids the filter names (search matches, an
        artist's credits, a job's tracks), read off their indexes alone; None without sets."""
        sizes = _set_sizes(track_filter)
        if not sizes:
            return None
        # SQLite's MIN with several arguments is the smallest of them.
        smallest = next(iter(sizes.values()))
        if len(sizes) > 1:
            smallest = sql("MIN({})", joined(", ", list(sizes.values())))
        return sql("SELECT {} AS smallest", smallest)

    def read_plan(self, track_filter: TrackFilter, rows: list[dict[str, Any]]) -> Plan:
        """The plan for the smallest set's size; when that set is the whole filter, its size
        is the page's count, and no count query runs."""
        f = track_filter
        smallest = int(rows[0]["smallest"])
        narrowing = [name for name, _ in f.params(without=("sort", "page"))]
        # Words under three letters are matched outside FTS5, so then FTS5's count is not it.
        words_only = all(len(word) >= 3 for word in f.words)
        alone = narrowing == list(_set_sizes(f)) and len(narrowing) == 1 and (not f.q or words_only)
        return Plan(
            total=min(smallest, f.count_cap + 1) if alone else None,
            walk_rows=smallest > WALK_FROM,
            # Reading a track's row costs about as much as walking ten index entries.
            walk_count=smallest > 8 * WALK_FROM,
        )


_DIALECTS: Final[dict[str, Dialect]] = {
    "postgres": PostgresDialect(),
    "sqlite": SQLiteDialect(),
}


def dialect_of(engine_type: str) -> Dialect:
    """The dialect of a Piccolo engine type ("sqlite" or "postgres")."""
    return _DIALECTS[engine_type]


def _iso(value: date) -> str:
    return date.fromisoformat(value.isoformat()).isoformat()  # digits and dashes only


def _fts_words(track_filter: TrackFilter) -> list[str]:
    return [word for word in track_filter.words if len(word) >= 3]


def _fts_match(track_filter: TrackFilter) -> str | None:
    """The FTS5 query for the search words FTS5 can look up (three characters or more)."""
    words = _fts_words(track_filter)
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in words) or None


def _fts_ids(track_filter: TrackFilter, match: str) -> QueryString:
    """The ids of tracks holding every word FTS5 can look up: those in the index, and
    those still waiting to enter it (services.search_index), matched with LIKE."""
    likes = joined(" AND ", [_contains("s.search_text", word) for word in _fts_words(track_filter)])
    return sql(
        "SELECT rowid FROM track_fts WHERE track_fts MATCH {} UNION ALL"
        # CROSS JOIN keeps the (short) queue as the outer loop: SQLite has no statistics
        # for it and would otherwise scan every track and probe the queue.
        " SELECT p.track FROM search_pending p CROSS JOIN track s ON s.id = p.track"
        " WHERE {}",
        match,
        likes,
    )


def _set_sizes(f: TrackFilter) -> dict[str, QueryString]:
    sizes: dict[str, QueryString] = {}
    cap = number(COUNT_CAP + 1)
    match = _fts_match(f)
    if match is not None:
        sizes["q"] = sql(f"(SELECT COUNT(*) FROM ({{}} LIMIT {cap}) capped)", _fts_ids(f, match))
    if f.artist is not None:
        # DISTINCT: an artist can be credited twice on one track (as artist and remixer).
        sizes["artist"] = sql(
            "(SELECT COUNT(*) FROM (SELECT DISTINCT track FROM track_artist"
            f" WHERE artist = {number(f.artist)} LIMIT {cap}) capped)"
        )
    elif f.artist_name:
        credits = artist_credits(f)
        assert credits is not None
        sizes["artist"] = sql(
            f"(SELECT COUNT(*) FROM (SELECT DISTINCT c.track FROM ({{}}) c LIMIT {cap}) capped)",
            credits,
        )
    if f.job is not None and f.sort != POSITION_SORT:
        sizes["job"] = sql(
            "(SELECT COUNT(*) FROM (SELECT jt.track FROM job_track jt JOIN job j"
            f" ON j.id = jt.job WHERE j.task_id = {{}} LIMIT {cap}) capped)",
            f.job,
        )
    return sizes
