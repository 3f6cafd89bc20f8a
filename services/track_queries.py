"""The SQL of the tracks list: a filter's WHERE terms, each sort's order, a page's queries.

Written by hand because the pages must stay fast with 100,000 tracks on both engines:
every sort walks an index that also holds the filter columns, counts stop at a cap, and
a page costs two queries (the count with the form's choices, and the rows). What differs
between the engines comes from a `Dialect` (services.sql_dialect). NULL sorts as the
smallest value on both engines, as SQLite does natively.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from piccolo.querystring import QueryString

from services.name_keys import artist_credits, first_named, named
from services.sql_dialect import Dialect, Plan, joined, number, sql
from services.track_filter import (
    POSITION_SORT,
    TRACKLIST_SORT,
    TRIAGE_STATES,
    TrackFilter,
    is_camelot_key,
)

# Columns the broad filters read; every browse index carries them (see the migration).
BROAD: Final = frozenset(
    {"bpm", "camelot", "new_release_date", "spotify_id", "spotify_searched_at"}
)


def conditions(
    track_filter: TrackFilter,
    dialect: Dialect,
    *,
    plain: Collection[str] = (),
    walk_sets: bool = False,
) -> list[QueryString]:
    """The WHERE terms for a filter, over `track t` (a job's chart order is a join instead).

    The columns in `plain` are written so the planner does not use their own index
    (`+t.column` on SQLite): the query then walks the covering index it was steered to
    (the sort's) and reads the filter off each entry. `walk_sets` does the same for the
    sets of track ids (search matches, an artist's credits, a job's tracks).

    Numbers, dates and keys (all validated by `parse_filter`) are written into the SQL,
    not passed as parameters: PostgreSQL switches a statement run five times to a generic
    plan, made without the values, and for these queries that plan is three times slower.
    Searched words and job ids stay parameters.
    """
    f = track_filter
    terms = dialect.word_terms(f, walk=walk_sets)

    def column(name: str) -> str:
        return dialect.unindexed(f"t.{name}") if name in plain else f"t.{name}"

    if f.genre is not None:
        terms.append(sql(f"t.genre = {number(f.genre)}"))
    if f.bpm_min is not None:
        terms.append(sql(f"{column('bpm')} >= {number(f.bpm_min)}"))
    if f.bpm_max is not None:
        terms.append(sql(f"{column('bpm')} <= {number(f.bpm_max)}"))
    if f.keys:
        keys = ", ".join(f"'{key}'" for key in f.keys if is_camelot_key(key))
        terms.append(sql(f"{column('camelot')} IN ({keys})"))
    if f.label is not None:
        terms.append(sql(f"t.label = {number(f.label)}"))
    elif f.label_name:
        terms.append(sql("t.label IN ({})", named("label", f.label_name)))
    if f.release is not None:
        terms.append(sql(f"t.release = {number(f.release)}"))
    credits = artist_credits(f)
    if credits is not None:
        terms.append(dialect.among(credits, walk=walk_sets))
    if f.released_from is not None:
        terms.append(sql(f"{column('new_release_date')} >= {dialect.day(f.released_from)}"))
    if f.released_to is not None:
        terms.append(sql(f"{column('new_release_date')} <= {dialect.day(f.released_to)}"))
    found, searched = column("spotify_id"), column("spotify_searched_at")
    if f.spotify == "matched":
        terms.append(sql(f"{found} IS NOT NULL"))
    elif f.spotify == "unmatched":
        terms.append(sql(f"{found} IS NULL"))
    elif f.spotify == "not_found":
        terms.append(sql(f"{found} IS NULL AND {searched} IS NOT NULL"))
    elif f.spotify == "unsearched":
        terms.append(sql(f"{searched} IS NULL"))
    # Undecided tracks and tracks that are no re-release are most of a library: the query
    # walks the sort's index and reads those off each track (their own index would hand
    # over nearly every track, to be sorted). The rare values use their index.
    if f.triage is not None and f.triage in TRIAGE_STATES:
        decided = "t.triage" if f.triage != "new" else dialect.unindexed("t.triage")
        terms.append(sql(f"{decided} = '{f.triage}'"))
    if f.rerelease is not None:
        again = "t.rerelease" if f.rerelease else dialect.unindexed("t.rerelease")
        terms.append(sql(f"{again} = {'TRUE' if f.rerelease else 'FALSE'}"))
    if f.job is not None and f.sort != POSITION_SORT:
        tracks = sql(
            "SELECT jt.track FROM job_track jt JOIN job j ON j.id = jt.job WHERE j.task_id = {}",
            f.job,
        )
        terms.append(dialect.among(tracks, walk=walk_sets))
    return terms


def where(terms: list[QueryString]) -> QueryString:
    """` WHERE` and the terms joined with AND; nothing without terms."""
    return sql(" WHERE {}", joined(" AND ", terms)) if terms else sql("")


@dataclass(frozen=True, slots=True)
class Order:
    """How one sort orders tracks: key expressions, then the id, all in one direction."""

    keys: tuple[str, ...]
    descending: bool = False
    # The column that is NULL for tracks without a sort value; they sort as the smallest.
    nullable: str | None = None
    # False when the keys themselves are never NULL (the label sort reads them off label).
    null_keys: bool = True
    # A filter column that leads the sort's index, so a range on it narrows the walk.
    leading: str | None = None

    @property
    def columns(self) -> list[str]:
        """The names the keys are selected as: s0, s1…"""
        return [f"s{i}" for i in range(len(self.keys))]

    def by(self, keys: Collection[str], id_column: str, dialect: Dialect) -> str:
        """ORDER BY terms for `keys` then `id_column`, NULLs placed alike on both engines."""
        direction = " DESC" if self.descending else " ASC"
        nulls = ""
        if self.nullable is not None and self.null_keys:
            nulls = dialect.nulls(descending=self.descending)
        return ", ".join([*(key + direction + nulls for key in keys), id_column + direction])


ORDERS: Final = {
    "newest": Order(("t.new_release_date",), True, "t.new_release_date", True, "new_release_date"),
    "bpm": Order(("t.bpm",), False, "t.bpm", True, "bpm"),
    "key": Order(("length(t.camelot)", "t.camelot"), False, "t.camelot"),
    "title": Order(("lower(t.title)",)),
    "artist": Order(("lower(t.artists_text)",)),
    "label": Order(("lower(l.name)", "l.id"), False, "t.label", null_keys=False),
    POSITION_SORT: Order(("jt.position",), False, "jt.position"),
    TRACKLIST_SORT: Order(("t.track_number",), False, "t.track_number"),
}


def ordered_ids(
    track_filter: TrackFilter,
    dialect: Dialect,
    *,
    limit: int,
    offset: int = 0,
    after: tuple[Any, ...] | None = None,
    phase: str | None = None,
    walk_sets: bool = False,
) -> QueryString:
    """The ids (and sort keys s0, s1…) of one page of matching tracks, in order.

    Pages use `offset`. The export walks with `after` (the last row's keys and id) within
    a `phase`: "null" is the tracks without a sort value, "value" the rest.
    """
    order = ORDERS[track_filter.sort]
    terms = conditions(
        track_filter, dialect, plain=BROAD - {order.leading or ""}, walk_sets=walk_sets
    )
    compare = "<" if order.descending else ">"
    page = sql(f" LIMIT {number(limit)} OFFSET {number(offset)}")
    if track_filter.sort == "label":
        return _label_ordered_ids(terms, dialect, page=page, after=after, phase=phase)
    source = "track t"
    if track_filter.sort == POSITION_SORT:
        source = "job_track jt JOIN track t ON t.id = jt.track"
        terms.insert(0, job_term(track_filter))
    if phase == "null" and order.nullable:
        terms.append(sql(f"{order.nullable} IS NULL"))
        if after is not None:
            terms.append(sql(f"t.id {compare} {{}}", after[-1]))
    elif phase == "value":
        if order.nullable:
            terms.append(sql(f"{order.nullable} IS NOT NULL"))
        if after is not None:
            marks = ", ".join("{}" for _ in after)
            terms.append(sql(f"({', '.join(order.keys)}, t.id) {compare} ({marks})", *after))
    selected = ", ".join(
        f"{key} AS {name}" for key, name in zip(order.keys, order.columns, strict=True)
    )
    return sql(
        f"SELECT t.id AS id, {selected} FROM {source}{{}} ORDER BY "
        + order.by(order.keys, "t.id", dialect)
        + "{}",
        where(terms),
        page,
    )


def job_term(track_filter: TrackFilter) -> QueryString:
    """The job's own tracks, for its chart order (`job_track jt`)."""
    return sql("jt.job = (SELECT j.id FROM job j WHERE j.task_id = {})", track_filter.job)


def _label_ordered_ids(
    terms: list[QueryString],
    dialect: Dialect,
    *,
    page: QueryString,
    after: tuple[Any, ...] | None,
    phase: str | None,
) -> QueryString:
    """Label order as two ordered halves merged: tracks without a label, then label by label.

    The second half walks the label-name index into each label's tracks, so no query ever
    sorts the whole library by a column of another table.
    """
    no_label = [sql("t.label IS NULL"), *terms]
    labelled = list(terms)
    if after is not None and phase == "null":
        no_label.append(sql("t.id > {}", after[-1]))
    elif after is not None:
        labelled.append(sql("(lower(l.name), l.id, t.id) > ({}, {}, {})", *after))
    halves = []
    merge = dialect.ordered_halves and phase is None
    if phase in (None, "null"):
        half = "SELECT t.id AS id, '' AS s0, 0 AS s1 FROM track t{}"
        halves.append(sql(f"({half} ORDER BY t.id)" if merge else half, where(no_label)))
    if phase in (None, "value"):
        half = (
            "SELECT t.id AS id, lower(l.name) AS s0, l.id AS s1"
            " FROM label l JOIN track t ON t.label = l.id{}"
        )
        ordered = f"({half} ORDER BY lower(l.name), l.id, t.id)"
        halves.append(sql(ordered if merge else half, where(labelled)))
    return sql("{} ORDER BY s0, s1, id{}", joined(" UNION ALL ", halves), page)


def outer_order(track_filter: TrackFilter, dialect: Dialect) -> str:
    """ORDER BY terms over `ordered_ids` as a subquery `p`."""
    order = ORDERS[track_filter.sort]
    return order.by([f"p.{name}" for name in order.columns], "p.id", dialect)


# ---------------------------------------------------------------- a page's queries

# Names come from scalar subqueries, not joins: PostgreSQL then plans a join of four
# relations instead of seven, which took longer to plan than to run. Integers are read
# as `x + 0` so that SQLite hands them over as they are (see export's `EXPORT_COLUMNS`).
ROW_COLUMNS: Final = (
    "t.id + 0 AS id, t.title, t.mix_name, t.bpm + 0 AS bpm, t.key_name, t.camelot,"
    " t.length_ms + 0 AS length_ms, t.new_release_date, t.sample_url, t.artwork_url,"
    " t.spotify_id, t.spotify_searched_at IS NOT NULL AS searched,"
    " t.beatport_id + 0 AS beatport_id, t.triage, t.rerelease,"
    " t.genre + 0 AS genre_id, (SELECT g.name FROM genre g WHERE g.id = t.genre) AS genre_name,"
    " t.label + 0 AS label_id, (SELECT l.name FROM label l WHERE l.id = t.label) AS label_name,"
    " t.release + 0 AS release_id,"
    " (SELECT r.name FROM release r WHERE r.id = t.release) AS release_name"
)


def rows_query(
    track_filter: TrackFilter, dialect: Dialect, *, limit: int, offset: int, walk_sets: bool
) -> QueryString:
    """The page's tracks with their genre, label, release and credits, in one query."""
    ids = ordered_ids(track_filter, dialect, limit=limit, offset=offset, walk_sets=walk_sets)
    # The place shown in the # column: the chart position, or the number on the release.
    position = "p.s0" if track_filter.numbered else "CAST(NULL AS INTEGER)"
    return sql(
        f"SELECT {ROW_COLUMNS}, {position} AS position,"
        " ta.role AS credit_role, a.id + 0 AS credit_id,"
        " a.name AS credit_name FROM ({}) p JOIN track t ON t.id = p.id"
        " LEFT JOIN track_artist ta ON ta.track = t.id LEFT JOIN artist a ON a.id = ta.artist"
        f" ORDER BY {outer_order(track_filter, dialect)}, ta.role, ta.position",
        ids,
    )


_SUMMARY_COLUMNS: Final = (
    "kind",
    "id",
    "name",
    "image",
    "parent_id",
    "parent_name",
    "beatport_id",
    "slug",
    # An artist's figures ("stats": tracks in `id`).
    "releases",
    "labels",
    "bpm_low",
    "bpm_high",
)
_INTEGERS: Final = frozenset(
    {"id", "parent_id", "beatport_id", "releases", "labels", "bpm_low", "bpm_high"}
)


def _summary_part(tail: str, *args: Any, **columns: str) -> QueryString:
    """One branch of the summary UNION; the columns not given are NULLs of the right type
    (PostgreSQL matches a UNION's column types branch by branch)."""
    select = ", ".join(
        columns.get(name, "CAST(NULL AS INTEGER)" if name in _INTEGERS else "CAST(NULL AS TEXT)")
        + f" AS {name}"
        for name in _SUMMARY_COLUMNS
    )
    return sql(f"SELECT {select}{tail}", *args)


def summary_query(
    track_filter: TrackFilter | None,
    things: Mapping[str, int | str],
    dialect: Dialect,
    *,
    choices: bool,
    plan: Plan | None = None,
    stats: int | None = None,
) -> QueryString | None:
    """One query for the capped count, the genre choices and the named things (a label's,
    artist's or release's name and picture by id, or a label or artist by typed name, a
    job's parameters), and with `stats` that artist's figures; None if none is wanted.

    Its rows have the columns of `_SUMMARY_COLUMNS`; kind is "total" (the count in `id`),
    "job", "genre", "stats" or what `things` names."""
    plan = plan or Plan()
    parts: list[QueryString] = []
    if track_filter is not None and plan.total is None:
        # On SQLite, spotify_id's own index holds no other column: the state index covers both.
        terms = conditions(track_filter, dialect, plain=("spotify_id",), walk_sets=plan.walk_count)
        source = "track t"
        if track_filter.sort == POSITION_SORT:
            source = "job_track jt JOIN track t ON t.id = jt.track"
            terms.insert(0, job_term(track_filter))
        cap = number(track_filter.count_cap + 1)
        count = f"(SELECT COUNT(*) FROM (SELECT 1 AS one FROM {source}{{}} LIMIT {cap}) capped)"
        parts.append(_summary_part("", where(terms), kind="'total'", id=count))
    if track_filter is not None and track_filter.job is not None:
        parts.append(
            _summary_part(
                " FROM job j WHERE j.task_id = {}",
                track_filter.job,
                kind="'job'",
                id="j.id",
                name="j.task_id",
                image="CAST(j.params AS TEXT)",
                parent_name="j.kind",
            )
        )
    if choices:
        parts.append(_summary_part(" FROM genre g", kind="'genre'", id="g.id", name="g.name"))
    if stats is not None:
        parts.append(
            _summary_part(
                " FROM track t WHERE t.id IN"
                f" (SELECT ta.track FROM track_artist ta WHERE ta.artist = {number(stats)})",
                kind="'stats'",
                id="COUNT(*)",
                releases="COUNT(DISTINCT t.release)",
                labels="COUNT(DISTINCT t.label)",
                bpm_low="MIN(t.bpm)",
                bpm_high="MAX(t.bpm)",
            )
        )
    for name, value in things.items():
        columns = {
            "kind": f"'{name}'",
            "id": "x.id",
            "name": "x.name",
            "image": "x.image_url",
            "beatport_id": "x.beatport_id",
            "slug": "x.slug",
        }
        if isinstance(value, str):
            parts.append(
                _summary_part(
                    f" FROM {name} x WHERE x.id = {{}}", first_named(name, value), **columns
                )
            )
        elif name == "release":
            parts.append(
                _summary_part(
                    " FROM release x LEFT JOIN label rl ON rl.id = x.label"
                    f" WHERE x.id = {number(value)}",
                    **columns,
                    parent_id="rl.id",
                    parent_name="rl.name",
                )
            )
        else:
            parts.append(_summary_part(f" FROM {name} x WHERE x.id = {number(value)}", **columns))
    return joined(" UNION ALL ", parts) if parts else None
