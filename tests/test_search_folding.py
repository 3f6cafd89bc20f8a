"""Search that forgives accents and punctuation, over real HTTP on both engines (pages and
JSON; on SQLite both before and after new tracks enter the FTS5 index), and the migration
that folds the search text of a library stored before."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest

from services import catalog, db, folding, search_index
from services.beatport.tracks import parse_track
from services.tables import Track
from services.track_store import CollectCounts, search_text, store_tracks
from tests.conftest import LiveApp
from tests.support.library import beatport_track, label, person, store_library
from tests.test_browse import listed
from tests.test_search_index import fts_is_consistent


def library() -> list[dict[str, Any]]:
    """Tracks whose names need folding: accents, letters NFKD keeps, punctuation."""
    koze, koze_accented = person(301, "DJ Koze"), person(302, "DJ Kozé")
    return [
        beatport_track(2001, "Rapture", artists=[person(303, "Âme")],
                       label_obj=label(401, "Innervisions")),
        beatport_track(2002, "Grey", artists=[person(304, "Kölsch")],
                       label_obj=label(402, "Kompakt")),
        beatport_track(2003, "Eple", artists=[person(305, "Röyksopp")],
                       label_obj=label(403, "Wall Of Sound")),
        beatport_track(2004, "Hoppípolla", artists=[person(306, "Sigur Rós")],
                       label_obj=label(404, "Krunk")),
        beatport_track(2005, "Pick Up", artists=[koze], label_obj=label(405, "Pampa Records")),
        beatport_track(2006, "Zeitlupe", artists=[person(307, "Wolfgang Voigt")],
                       remixers=[koze_accented], mix="DJ Kozé Remix",
                       label_obj=label(406, "Sonar & Licht")),
        beatport_track(2007, "Sweet Child O' Mine", artists=[person(308, "Guns N' Roses")],
                       label_obj=label(407, "Geffen")),
        beatport_track(2008, "Take On Me", artists=[person(309, "a-ha")],
                       label_obj=label(408, "Warner")),
        beatport_track(2009, "Don’t You Want Me", artists=[person(310, "The Human League")],
                       label_obj=label(409, "Virgin")),
        beatport_track(2010, "Østerbro Straße", artists=[person(311, "Łukasz Æther")],
                       label_obj=label(410, "Đurđevac Þing")),
    ]  # fmt: skip


SEARCHES: list[tuple[str, list[str]]] = [
    ("ame", ["Rapture"]),
    ("Âme", ["Rapture"]),
    ("AME", ["Rapture"]),
    ("kolsch", ["Grey"]),
    ("Kölsch", ["Grey"]),
    ("royksopp", ["Eple"]),
    ("Röyksopp", ["Eple"]),
    ("sigur ros", ["Hoppípolla"]),
    ("Sigur Rós", ["Hoppípolla"]),
    ("hoppipolla", ["Hoppípolla"]),
    ("dj koze", ["Pick Up", "Zeitlupe"]),  # DJ Koze and DJ Kozé
    ("DJ Kozé", ["Pick Up", "Zeitlupe"]),
    ("koze remix", ["Zeitlupe"]),
    ("sonar licht", ["Zeitlupe"]),  # "&" is "and", and leaves no gap in the way
    ("sonar & licht", ["Zeitlupe"]),
    ("sonar and licht", ["Zeitlupe"]),
    ("guns n roses", ["Sweet Child O' Mine"]),
    ("guns n' roses", ["Sweet Child O' Mine"]),
    ("child o mine", ["Sweet Child O' Mine"]),
    ("aha", ["Take On Me"]),  # hyphens join: a-ha is aha
    ("a-ha", ["Take On Me"]),
    ("dont you", ["Don’t You Want Me"]),
    ("don't you", ["Don’t You Want Me"]),  # a typed ' finds a stored ’
    ("osterbro strasse", ["Østerbro Straße"]),  # ø is o, ß is ss
    ("Østerbro Straße", ["Østerbro Straße"]),
    ("lukasz aether", ["Østerbro Straße"]),  # ł is l, æ is ae
    ("durdevac thing", ["Østerbro Straße"]),  # đ is d, þ is th
    ("röyksopp kölsch", []),  # every word must match one track
]


@pytest.fixture
async def folded_library(live_app: LiveApp) -> LiveApp:
    await store_library(library())
    return live_app


async def found_over_http(live: LiveApp, query: str) -> tuple[list[str], list[str]]:
    """Titles the tracks page lists for `query`, and those its JSON answer gives."""
    params = {"q": query, "sort": "title"}
    page = await listed(live, "/tracks?" + urlencode(params))
    response = await live.http.get("/tracks", params=params, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["tracks"])
    return page, [track["title"] for track in body["tracks"]]


async def test_search_forgives_accents_and_punctuation(folded_library: LiveApp) -> None:
    live = folded_library
    states = ["pending"] if db.is_sqlite() else ["postgres"]
    for state in states:
        for query, expected in SEARCHES:
            page, api = await found_over_http(live, query)
            assert page == expected, (state, query)
            assert api == expected, (state, query)
        if db.is_sqlite() and state == "pending":
            # Now FTS5's trigram index answers instead of LIKE over the pending tracks.
            assert await search_index.catch_up() == len(library())
            states.append("indexed")
    # The form shows what was typed, not the folded words.
    response = await live.http.get("/tracks", params={"q": "Sigur Rós"})
    assert 'value="Sigur Rós"' in response.text


# ---------------------------------------------------------------- the migration


def refold_migration(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The re-fold migration's module as Piccolo runs it: imported by its bare name from
    the migrations folder (not as services.piccolo_migrations.…)."""
    from services.piccolo_app import APP_CONFIG

    monkeypatch.syspath_prepend(APP_CONFIG.resolved_migrations_folder_path)
    return importlib.import_module(folding.REFOLD_MIGRATION)


def old_search_text(obj: dict[str, Any]) -> str:
    """What Crate stored before the fold: the names lowercased, accents and all."""
    track = parse_track(obj)
    parts = [track.title, track.mix_name]
    parts += [artist.name for artist in track.artists + track.remixers]
    if track.label:
        parts.append(track.label.name)
    return " ".join(part for part in parts if part).lower()


async def found(query: str) -> list[str]:
    page = await catalog.browse_tracks({"q": query, "sort": "title"}, choices=False)
    assert page is not None and not page.errors
    return [row.title for row in page.rows]


async def test_the_migration_folds_a_library_stored_before(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = library()
    # On SQLite, half the tracks are in the FTS5 index and half still wait for it.
    await store_library(objects[:6])
    await search_index.catch_up()
    await store_tracks([parse_track(obj) for obj in objects[6:]], CollectCounts())
    # The text as an older Crate stored it (the triggers keep FTS5 in step).
    for obj in objects:
        await Track.raw(
            "UPDATE track SET search_text = {} WHERE beatport_id = {}",
            old_search_text(obj),
            obj["id"],
        )
    assert await found("kolsch") == [] and await found("osterbro") == []
    assert await found("kölsch") == []  # the query is folded, the old text is not
    refold = refold_migration(monkeypatch)
    await Track.raw("DELETE FROM migration WHERE name = {}", refold.ID)
    monkeypatch.setattr(refold, "BATCH", 4)  # several batches, the last one short
    batches: list[int] = []
    run_query = type(db.engine()).run_querystring

    async def counted(engine: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        rows = await run_query(engine, query, *args, **kwargs)
        if "FROM track WHERE id >" in query.template:
            batches.append(len(rows))
        return rows

    monkeypatch.setattr(type(db.engine()), "run_querystring", counted)

    output = await db.migrate()

    assert "Running 1 migration" in output
    assert sys.modules[folding.REFOLD_MIGRATION] is refold
    assert batches == [4, 4, 2]
    rows = await Track.select(Track.beatport_id, Track.search_text)
    stored = {row["beatport_id"]: row["search_text"] for row in rows}
    assert stored == {obj["id"]: search_text(parse_track(obj)) for obj in objects}
    assert stored[2002] == "grey original mix kolsch kompakt"
    for query, expected in SEARCHES:
        assert await found(query) == expected, query
    if db.is_sqlite():
        assert await search_index.pending() == 0  # the rebuilt index holds every track
        assert await fts_is_consistent()
        rows = await Track.raw(
            "SELECT COUNT(*) AS n FROM track_fts WHERE track_fts MATCH {}", '"kolsch"'
        )
        assert rows[0]["n"] == 1
