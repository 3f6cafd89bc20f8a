"""Dig mode over real HTTP on both engines: decisions remembered and filtered on, a dig
that leaves decided tracks out, keeping into a crate through the crates service, and the
re-release flag (its rule, its filter, enrichment's store and the migration's backfill)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from bs4 import BeautifulSoup
from piccolo.engine import engine_finder

from services import crates
from services.match_store import record_match
from services.matching.choice import Match
from services.rerelease import is_rerelease, latest_day
from services.spotify.tracks import SpotifyTrack
from services.tables import CrateTrack, Track
from tests.conftest import LiveApp
from tests.support.library import Library, store_library

MIGRATION = "services.piccolo_migrations.crate_2026_12_07t21_40_00_000000"
JSON = {"Accept": "application/json"}
# Newest first, as a dig of the whole library plays them (1010 has no release date).
NEWEST = [1002, 1001, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010]


@pytest.fixture
async def library(live_app: LiveApp) -> Library:
    return await store_library()


async def get_json(live: LiveApp, path: str, status: int = 200) -> Any:
    response = await live.http.get(path, headers=JSON)
    assert response.status_code == status, response.text
    return response.json()


async def decide(live: LiveApp, beatport_id: int, status: int = 200, **body: Any) -> Any:
    response = await live.http.post(f"/dig/track/{beatport_id}", json=body, headers=JSON)
    assert response.status_code == status, response.text
    return response.json()


async def listed(live: LiveApp, query: str) -> list[int]:
    found = await get_json(live, f"/tracks?{query}")
    return [track["beatport_id"] for track in found["tracks"]]


# ---------------------------------------------------------------- decisions


async def test_a_decision_is_remembered_and_tracks_filter_on_it(
    live_app: LiveApp, library: Library
) -> None:
    assert await decide(live_app, 1003, decision="skipped") == {
        "beatport_id": 1003,
        "triage": "skipped",
        "crate": None,
    }
    await decide(live_app, 1005, decision="kept")
    assert await listed(live_app, "triage=skipped") == [1003]
    assert await listed(live_app, "triage=kept") == [1005]
    assert await listed(live_app, "triage=new&sort=title") == [
        1009, 1001, 1002, 1004, 1006, 1007, 1008, 1010,
    ]  # fmt: skip
    rows = (await get_json(live_app, "/tracks?triage=kept"))["tracks"]
    assert rows[0]["triage"] == "kept"
    # Undoing a decision makes the track new again.
    await decide(live_app, 1003, decision="new")
    assert await listed(live_app, "triage=skipped") == []
    stored = await Track.select(Track.triage, Track.triage_at).where(Track.beatport_id == 1005)
    assert stored[0]["triage"] == "kept" and stored[0]["triage_at"] is not None


async def test_the_filter_panel_offers_the_decision_and_re_release_and_a_dig_link(
    live_app: LiveApp, library: Library
) -> None:
    html = (await live_app.http.get(f"/tracks?genre={library.genres[5]}&triage=new")).text
    page = BeautifulSoup(html, "html.parser")
    assert page.select_one("#filter-triage option[selected]")["value"] == "new"  # type: ignore[index]
    assert page.select_one("#filter-rerelease") is not None
    dig = page.select_one("#dig-these")
    assert dig is not None and dig["href"] == f"/dig?genre={library.genres[5]}&triage=new"


async def test_bad_decisions_and_filters_are_refused_in_words(
    live_app: LiveApp, library: Library
) -> None:
    refused = await decide(live_app, 1001, status=422, decision="maybe")
    assert refused["errors"]["decision"] == "The decision must be one of: kept, skipped, new."
    refused = await decide(live_app, 1001, status=422, decision="skipped", crate="1")
    assert refused["errors"]["crate"] == "Only a kept track goes into a crate."
    refused = await decide(live_app, 1001, status=422, decision="kept", crate="two")
    assert "crate" in refused["errors"]
    missing = await decide(live_app, 99999, status=404, decision="kept")
    assert "99999" in missing["detail"]
    assert (await get_json(live_app, "/dig/track/99999", 404))["detail"]
    bad = await get_json(live_app, "/tracks?triage=later", 422)
    assert bad["errors"]["triage"] == "Decision must be one of: new, kept, skipped."
    bad = await get_json(live_app, "/dig?rerelease=maybe", 422)
    assert bad["errors"]["rerelease"] == "Re-release is either yes (1) or no (0)."
    page = await live_app.http.get("/dig?bpm_min=abc")
    assert page.status_code == 422 and "BPM from must be a whole number" in page.text
    assert (await Track.count().where(Track.triage != "new")) == 0


# ---------------------------------------------------------------- the dig list


async def test_a_dig_lists_undecided_tracks_in_the_filter_order(
    live_app: LiveApp, library: Library
) -> None:
    assert (await get_json(live_app, "/dig"))["beatport_ids"] == NEWEST
    await decide(live_app, 1001, decision="skipped")
    await decide(live_app, 1004, decision="kept")
    again = await get_json(live_app, "/dig")
    assert again["beatport_ids"] == [i for i in NEWEST if i not in (1001, 1004)]
    assert again["query"] == "triage=new"
    assert (await get_json(live_app, "/dig?triage=kept"))["beatport_ids"] == [1004]
    north = await get_json(live_app, f"/dig?label={library.labels[201]}&sort=bpm")
    assert north["beatport_ids"] == [1007, 1002]  # 1001 was decided
    # A chart's tracks in chart order.
    from tests.support.library import record_chart

    await record_chart(library, [1006, 1001, 1003], "chart-job")
    assert (await get_json(live_app, "/dig?job=chart-job"))["beatport_ids"] == [1006, 1003]


async def test_the_dig_page_holds_the_ids_the_crates_and_the_key_hints(
    live_app: LiveApp, library: Library
) -> None:
    first = await crates.create_crate("Warm-up")
    second = await crates.create_crate("Peak time")
    await decide(live_app, 1002, decision="skipped")
    response = await live_app.http.get("/dig?genre=" + str(library.genres[5]))
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    dig = page.select_one("#dig")
    assert dig is not None and dig["data-ids"] == "1001,1007,1008"
    keeps = page.select("button.dig-keep")
    assert [(b["data-crate"], b.get_text(" ", strip=True)) for b in keeps] == [
        (str(first.id), "1 Keep in Warm-up"),
        (str(second.id), "2 Keep in Peak time"),
    ]
    assert page.select_one("#dig-progress").get_text() == "1 of 3, 0 kept"  # type: ignore[union-attr]
    assert page.select_one('script[src="/static/dig.js"]') is not None
    assert page.select("audio[preload=auto]") and len(page.select("audio")) == 2
    empty = await live_app.http.get("/dig?triage=kept")
    assert "Nothing left to dig here" in empty.text


async def test_a_track_card_has_what_the_dig_plays_and_shows(
    live_app: LiveApp, library: Library
) -> None:
    card = await get_json(live_app, "/dig/track/1003")
    assert card["beatport_id"] == 1003 and card["url"] == f"/tracks/{library.track(1003)}"
    assert card["title"] == "Charlie Drive" and card["mix"] == "Cara Cobalt Remix"
    assert card["bpm"] == 130 and card["camelot"] == "8B" and card["triage"] == "new"
    assert card["sample_url"].startswith("https://") and card["rerelease"] is False


# ---------------------------------------------------------------- keeping into crates


async def test_keeping_adds_the_track_to_the_crate_once_and_marks_it_kept(
    live_app: LiveApp, library: Library
) -> None:
    crate = await crates.create_crate("Keepers")
    answer = await decide(live_app, 1006, decision="kept", crate=crate.id)
    assert answer["crate"] == {"id": crate.id, "added": 1, "total": 1}
    await decide(live_app, 1002, decision="kept", crate=str(crate.id))
    again = await decide(live_app, 1006, decision="kept", crate=crate.id)
    assert again["crate"] == {"id": crate.id, "added": 0, "total": 2}
    rows = await CrateTrack.select(CrateTrack.track, CrateTrack.position).order_by(
        CrateTrack.position
    )
    assert [row["track"] for row in rows] == [library.track(1006), library.track(1002)]
    assert await listed(live_app, "triage=kept&sort=title") == [1002, 1006]
    missing = await decide(live_app, 1001, status=404, decision="kept", crate=crate.id + 50)
    assert missing["detail"] == f"There is no crate {crate.id + 50}."
    assert await listed(live_app, "triage=kept&sort=title") == [1002, 1006]  # 1001 unchanged


# ---------------------------------------------------------------- re-releases


def test_partial_spotify_dates_count_from_their_last_day() -> None:
    assert latest_day("2019") == date(2019, 12, 31)
    assert latest_day("2024-02") == date(2024, 2, 29)
    assert latest_day("2019-03-01") == date(2019, 3, 1)
    assert latest_day("03/2019") is None and latest_day(None) is None
    beatport = date(2026, 1, 10)
    assert is_rerelease("2019-03-01", beatport)
    assert is_rerelease("2025", beatport) is False  # may be 2025-12-31: not surely old
    assert is_rerelease("2025-10", beatport) is False  # 2025-10-31 is 71 days before
    assert is_rerelease("2025-09", "2026-01-10")  # 2025-09-30: 102 days, also as text
    assert is_rerelease("2025-10-11", beatport)  # 91 days before: more than 90
    assert is_rerelease("2025-10-12", beatport) is False  # exactly 90 days: not more
    assert is_rerelease(None, beatport) is False and is_rerelease("2019", None) is False


async def spotify_dates(dates: dict[int, str]) -> None:
    for beatport_id, spotify_date in dates.items():
        await Track.update(
            {
                Track.spotify_id: f"sp{beatport_id}",
                Track.spotify_album: f"Album {beatport_id}",
                Track.spotify_release_date: spotify_date,
            }
        ).where(Track.beatport_id == beatport_id)


async def test_the_migration_flags_tracks_matched_before_it(
    live_app: LiveApp, library: Library
) -> None:
    # 1001 released 2026-01-10, 1003 2025-12-20, 1004 2025-11-01, 1005 2025-10-10.
    await spotify_dates({1001: "2019-03-01", 1003: "2025", 1004: "2025-07", 1005: "2025-10-01"})
    await Track.update({Track.rerelease: False}, force=True)
    migration = __import__(MIGRATION, fromlist=["backfill"])
    await migration.backfill(engine_finder())
    assert await listed(live_app, "rerelease=1") == [1001, 1004]
    rows = (await get_json(live_app, "/tracks?rerelease=1"))["tracks"]
    assert [row["rerelease"] for row in rows] == [True, True]
    new_only = await listed(live_app, "rerelease=0")
    assert 1001 not in new_only and 1003 in new_only and len(new_only) == 8
    assert (await get_json(live_app, "/dig?rerelease=0"))["beatport_ids"] == new_only
    page = (await live_app.http.get(f"/tracks/{library.track(1001)}")).text
    assert "Out on Spotify since 2019-03-01 on Album 1001: a re-release." in page
    other = (await live_app.http.get(f"/tracks/{library.track(1003)}")).text
    assert "a re-release" not in other
    card = await get_json(live_app, "/dig/track/1004")
    assert card["rerelease"] is True and card["spotify_album"] == "Album 1004"


async def test_enrichment_stores_the_flag_with_the_match(
    live_app: LiveApp, library: Library
) -> None:
    def match(release_date: str) -> Match:
        found = SpotifyTrack(id="x1", name="Alpha Signal", artists=("Alice Aurora",),
                             album="Old Album", release_date=release_date)  # fmt: skip
        return Match(track=found, method="isrc", confidence=0.99)

    await record_match(library.track(1001), match("2018-05"))
    assert await listed(live_app, "rerelease=1") == [1001]
    await record_match(library.track(1001), match("2026-01-09"))
    assert await listed(live_app, "rerelease=1") == []
    await record_match(library.track(1001), match("2018"))
    await record_match(library.track(1001), None)
    assert await listed(live_app, "rerelease=1") == []
