"""SQLite's search index kept off the collection's path: a stored track is findable at
once (pending, matched with LIKE), then indexed by `catch_up`; updates and deletes keep
FTS5 consistent. (SQLite's writer thread itself is tested in test_db.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from services import catalog, db, search_index
from services.beatport.client import BeatportClient
from services.beatport.targets import Target
from services.beatport.tracks import parse_track
from services.collect_request import CollectRequest
from services.collection import CollectionService
from services.tables import Track
from services.track_store import CollectCounts, store_tracks
from tests.conftest import make_settings
from tests.fakes.beatport import FakeBeatport
from tests.support.library import library_tracks, store_library


async def found(query: str) -> list[str]:
    """Titles the library search returns for `query`, in list order."""
    page = await catalog.browse_tracks({"q": query, "sort": "title"}, choices=False)
    assert page is not None and not page.errors, page
    return [row.title for row in page.rows]


async def fts_is_consistent(*, against_tracks: bool = True) -> bool:
    """FTS5's own check of its index; `against_tracks` also compares it with the track
    table (which only holds once nothing is pending)."""
    rank = 1 if against_tracks else 0
    try:
        await Track.raw(
            "INSERT INTO track_fts(track_fts, rank) VALUES ('integrity-check', {})", rank
        )
    except Exception:  # noqa: BLE001  the check reports corruption as an error
        return False
    return True


SEARCHES: list[tuple[str, list[str]]] = [
    ("southbound", ["Charlie Drive", "Delta Motion", "Hotel Tide"]),
    ("cobalt", ["Charlie Drive", "Hotel Tide"]),
    ("alice aurora", ["Alpha Signal", "Bravo Pulse", "Hotel Tide"]),
    ("bo pu", ["Bravo Pulse"]),
]


async def test_new_tracks_are_found_before_and_after_they_enter_the_index(
    sqlite_url: str,
) -> None:
    await store_library()
    assert await search_index.pending() == 10
    before = {query: await found(query) for query, _ in SEARCHES}
    assert before == dict(SEARCHES)
    assert await search_index.catch_up(batch=3) == 10  # several batches
    assert await search_index.pending() == 0
    assert await search_index.catch_up() == 0
    after = {query: await found(query) for query, _ in SEARCHES}
    assert after == dict(SEARCHES)
    # Now the index alone answers: the words are in FTS5, not just in the table.
    rows = await Track.raw(
        "SELECT COUNT(*) AS n FROM track_fts WHERE track_fts MATCH {}", '"southbound"'
    )
    assert rows[0]["n"] == 3
    assert await fts_is_consistent()


async def test_half_indexed_library_finds_each_track_once(sqlite_url: str) -> None:
    objects = library_tracks()
    await store_library(objects[:5])
    await search_index.catch_up()
    await store_tracks([parse_track(obj) for obj in objects[5:]], CollectCounts())
    assert await search_index.pending() == 5
    assert await found("southbound") == ["Charlie Drive", "Delta Motion", "Hotel Tide"]
    page = await catalog.browse_tracks({"q": "alice"}, choices=False)
    assert page is not None and page.total == 3


async def test_changed_words_replace_the_old_ones_in_the_index(sqlite_url: str) -> None:
    objects = library_tracks()
    await store_library(objects)
    await search_index.catch_up()
    renamed: dict[str, Any] = {**objects[0], "name": "Zulu Quasar"}
    pending: dict[str, Any] = {**objects[1], "name": "Yankee Nebula"}
    await store_tracks([parse_track(renamed)], CollectCounts())  # an indexed track
    assert await found("quasar") == ["Zulu Quasar"]
    assert await found(objects[0]["name"].split()[-1]) == []
    # A track that changes while still pending is indexed with its newest words.
    # (made pending by hand: out of the index, into the queue)
    which = "SELECT id FROM track WHERE beatport_id = {}"
    await Track.raw(f"INSERT INTO search_pending (track) {which}", objects[1]["id"])
    await Track.raw(f"DELETE FROM track_fts WHERE rowid = ({which})", objects[1]["id"])
    await store_tracks([parse_track(pending)], CollectCounts())
    assert await found("nebula") == ["Yankee Nebula"]
    await search_index.catch_up()
    assert await found("nebula") == ["Yankee Nebula"]
    assert await found("quasar") == ["Zulu Quasar"]
    assert await fts_is_consistent()


async def test_deleting_pending_and_indexed_tracks_keeps_the_index_sound(
    sqlite_url: str,
) -> None:
    objects = library_tracks()
    await store_library(objects[:5])
    await search_index.catch_up()
    await store_tracks([parse_track(obj) for obj in objects[5:]], CollectCounts())
    doomed = [objects[2]["id"], objects[7]["id"]]  # one indexed, one pending
    await Track.delete().where(Track.beatport_id.is_in(doomed))
    assert await fts_is_consistent(against_tracks=False)
    assert await search_index.pending() == 4
    await search_index.catch_up()
    assert await fts_is_consistent()
    titles = await found("southbound")
    assert objects[2]["name"] not in titles and objects[7]["name"] not in titles


async def test_postgres_needs_no_catching_up(database_url: str) -> None:
    await store_library()
    if db.is_sqlite():
        assert await search_index.pending() == 10
        return
    assert await search_index.pending() == 0
    assert await search_index.catch_up() == 0
    assert await found("southbound") == ["Charlie Drive", "Delta Motion", "Hotel Tide"]


async def test_a_long_collection_indexes_as_it_goes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "CATCH_UP_DURING_JOB", 50)
    with FakeBeatport(per_page=25, labels={21: 120}) as fake:
        settings = make_settings(sqlite_url, beatport_mode="web", beatport_web_url=fake.web_url)
        target = Target.from_params({"kind": "label", "beatport_id": 21, "slug": "the-label"})
        async with BeatportClient(settings) as client:
            snapshot = await CollectionService().collect(CollectRequest(target, 100), source=client)
    assert snapshot.state == "succeeded" and snapshot.counts["new"] == 120
    # Caught up after 50 and after 100 new tracks (pages 2 and 4): 20 are left.
    assert await search_index.pending() == 20
    assert await Track.count() == 120
