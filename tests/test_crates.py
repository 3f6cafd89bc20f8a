"""Crates over real HTTP on both engines: create, rename, delete; adding by Beatport ids
(twice: nothing new), by a /tracks filter (in the filter's order, at most 5,000), from
the forms; taking out (positions close up), moving; the JSON shapes of PRODUCT.md; 404
and 422 in words; the CSV with `position` and the M3U8."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pytest
from bs4 import BeautifulSoup

from services import crates
from services.tables import CrateTrack, Track
from tests.conftest import LiveApp
from tests.support.library import ALICE, NORTH, Library, beatport_track, store_library

JSON = {"Accept": "application/json"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def library(live_app: LiveApp) -> Library:
    """The ten-track test library in the live app's database."""
    return await store_library()


async def make(live: LiveApp, name: str) -> dict[str, Any]:
    response = await live.http.post("/crates", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def crate_json(live: LiveApp, crate_id: int) -> dict[str, Any]:
    response = await live.http.get(f"/crates/{crate_id}", headers=JSON)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def order(live: LiveApp, crate_id: int) -> list[int]:
    return [t["beatport_id"] for t in (await crate_json(live, crate_id))["tracks"]]


async def stored_positions(crate_id: int) -> list[int]:
    rows = await CrateTrack.select(CrateTrack.position).where(CrateTrack.crate == crate_id)
    return sorted(int(row["position"]) for row in rows)


async def test_create_rename_delete_and_the_list(live_app: LiveApp, library: Library) -> None:
    created = await make(live_app, "  Friday   warm-up ")
    assert created == {
        "id": created["id"],
        "name": "Friday warm-up",
        "url": f"/crates/{created['id']}",
    }
    crate_id = created["id"]
    added = await live_app.http.post(
        f"/crates/{crate_id}/tracks", json={"beatport_ids": [1001, 1005]}
    )
    assert added.json()["added"] == 2

    listing = await live_app.http.get("/crates", headers=JSON)
    assert listing.json() == [
        {
            "id": crate_id,
            "name": "Friday warm-up",
            "url": f"/crates/{crate_id}",
            "count": 2,
            "length_ms": 720_000,
            "bpm_low": 124,
            "bpm_high": 138,
        }
    ]
    page = BeautifulSoup((await live_app.http.get("/crates")).text, "html.parser")
    row = page.select_one(f"#crate-{crate_id}")
    assert row is not None
    assert [td.get_text(strip=True) for td in row.select("td")][:4] == [
        "Friday warm-up", "2", "12:00", "124–138",
    ]  # fmt: skip

    renamed = await live_app.http.post(f"/crates/{crate_id}/rename", json={"name": "Peak time"})
    assert renamed.json() == {"id": crate_id, "name": "Peak time", "url": f"/crates/{crate_id}"}
    assert (await crate_json(live_app, crate_id))["name"] == "Peak time"

    gone = await live_app.http.post(f"/crates/{crate_id}/delete", json={})
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert (await live_app.http.get("/crates", headers=JSON)).json() == []
    missing = await live_app.http.get(f"/crates/{crate_id}", headers=JSON)
    assert missing.status_code == 404
    assert f"There is no crate {crate_id}." in missing.json()["detail"]


async def test_bad_input_is_refused_in_words(live_app: LiveApp, library: Library) -> None:
    for name, words in (("", "Give the crate a name."), ("x" * 201, "at most 200 characters")):
        refused = await live_app.http.post("/crates", json={"name": name})
        assert refused.status_code == 422
        assert words in refused.json()["errors"]["name"]
    # The form shows the words beside the field.
    token = await live_app.csrf_token("/crates")
    form = await live_app.http.post("/crates", data={"name": " "}, headers={"x-csrftoken": token})
    assert form.status_code == 422
    assert "Give the crate a name." in form.text

    crate_id = (await make(live_app, "Set"))["id"]
    unknown = await live_app.http.post(
        f"/crates/{crate_id}/tracks", json={"beatport_ids": [1001, 424242]}
    )
    assert unknown.status_code == 422
    assert "no track with Beatport id 424242" in unknown.json()["detail"]
    assert await order(live_app, crate_id) == []  # nothing added at all
    not_ids = await live_app.http.post(f"/crates/{crate_id}/tracks", json={"beatport_ids": ["x"]})
    assert not_ids.status_code == 422 and "whole numbers" in not_ids.json()["detail"]
    bad_filter = await live_app.http.post(
        f"/crates/{crate_id}/tracks", json={"filter": {"bpm_min": "fast"}}
    )
    assert bad_filter.status_code == 422 and "BPM from" in bad_filter.json()["detail"]
    for path in ("/crates/999", "/crates/999/export.csv", "/crates/3000000000"):
        lost = await live_app.http.get(path, headers=JSON)
        assert lost.status_code == 404 and "There is no crate" in lost.json()["detail"]
    nowhere = await live_app.http.post("/crates/999/tracks", json={"beatport_ids": [1001]})
    assert nowhere.status_code == 404 and "There is no crate 999." in nowhere.json()["detail"]
    not_in = await live_app.http.delete(
        f"/crates/{crate_id}/tracks/1001", headers={"Content-Type": "application/json"}
    )
    assert not_in.status_code == 404 and "not in this crate" in not_in.json()["detail"]


async def test_adding_twice_adds_nothing_and_keeps_the_given_order(
    live_app: LiveApp, library: Library
) -> None:
    crate_id = (await make(live_app, "Digging"))["id"]
    path = f"/crates/{crate_id}/tracks"
    first = await live_app.http.post(path, json={"beatport_ids": [1005, 1001, 1003]})
    assert first.json() | {"detail": ""} == {
        "added": 3, "already": 0, "total": 3, "capped": False, "detail": "",
    }  # fmt: skip
    again = await live_app.http.post(path, json={"beatport_ids": [1001, 1002, 1005]})
    assert (again.json()["added"], again.json()["already"], again.json()["total"]) == (1, 2, 4)
    body = await crate_json(live_app, crate_id)
    assert set(body) == {"id", "name", "tracks", "spotify_playlist_id", "spotify_playlist_url"}
    assert [(t["position"], t["beatport_id"]) for t in body["tracks"]] == [
        (1, 1005), (2, 1001), (3, 1003), (4, 1002),
    ]  # fmt: skip
    first_track = body["tracks"][1]
    assert first_track["title"] == "Alpha Signal"
    assert first_track["spotify_id"] == "4uLU6hMCjMI75M1A2tKUQC"
    assert body["spotify_playlist_id"] is None and body["spotify_playlist_url"] is None


async def test_concurrent_adds_never_share_a_position(live_app: LiveApp, library: Library) -> None:
    crate_id = (await make(live_app, "Busy"))["id"]
    batches = [[1001, 1002, 1003], [1003, 1004, 1005], [1006, 1001, 1007], [1008, 1009, 1010]]
    answers = await asyncio.gather(
        *(
            live_app.http.post(f"/crates/{crate_id}/tracks", json={"beatport_ids": batch})
            for batch in batches * 2
        )
    )
    assert all(answer.status_code == 200 for answer in answers)
    assert sum(answer.json()["added"] for answer in answers) == 10
    assert await stored_positions(crate_id) == list(range(10))


async def test_add_all_matching_a_filter_in_its_order(live_app: LiveApp, library: Library) -> None:
    crate_id = (await make(live_app, "By tempo"))["id"]
    path = f"/crates/{crate_id}/tracks"
    await live_app.http.post(path, json={"beatport_ids": [1004]})
    # The label filter by name, BPM order: what /tracks shows, in that order.
    params = {"label": "Southbound Audio", "sort": "bpm"}
    listed = await live_app.http.get("/tracks", params=params, headers=JSON)
    shown = [t["id"] for t in listed.json()["tracks"]]
    added = await live_app.http.post(path, json={"filter": params})
    assert (added.json()["added"], added.json()["already"], added.json()["total"]) == (2, 1, 3)
    assert await order(live_app, crate_id) == [1004, 1008, 1003]  # 1004 first, then by BPM
    assert len(shown) == 3
    # The form's "Add all N matching" carries the filter as a query string.
    token = await live_app.csrf_token("/tracks")
    form = await live_app.http.post(
        path,
        data={"all": "genre=&sort=title&q=garden", "next": "/tracks?q=garden"},
        headers={"x-csrftoken": token},
    )
    assert form.status_code == 303 and form.headers["location"] == "/tracks?q=garden"
    assert await order(live_app, crate_id) == [1004, 1008, 1003, 1005]


async def test_add_all_matching_stops_at_5000(live_app: LiveApp) -> None:
    tracks = [
        beatport_track(
            500_000 + i, f"Loop {i:05d}", artists=[ALICE], label_obj=NORTH, release_id=900 + i // 4
        )
        for i in range(crates.MAX_ADD + 3)
    ]
    await store_library(tracks)
    crate_id = (await make(live_app, "Everything"))["id"]
    answer = await live_app.http.post(
        f"/crates/{crate_id}/tracks", json={"filter": {"sort": "title"}}
    )
    body = answer.json()
    assert (body["added"], body["total"], body["capped"]) == (5000, 5000, True)
    assert "Only the first 5,000" in body["detail"]
    ids = await order(live_app, crate_id)
    assert ids[:3] == [500_000, 500_001, 500_002] and ids[-1] == 504_999
    assert await stored_positions(crate_id) == list(range(5000))


async def test_remove_closes_the_gap_and_move_reorders(live_app: LiveApp, library: Library) -> None:
    crate_id = (await make(live_app, "Order"))["id"]
    path = f"/crates/{crate_id}/tracks"
    await live_app.http.post(path, json={"beatport_ids": [1001, 1002, 1003, 1004, 1005]})
    out = await live_app.http.delete(f"{path}/1002", headers={"Content-Type": "application/json"})
    assert out.json() == {"removed": 1002, "total": 4}
    assert await order(live_app, crate_id) == [1001, 1003, 1004, 1005]
    assert await stored_positions(crate_id) == [0, 1, 2, 3]

    moved = await live_app.http.post(f"{path}/1005/move", json={"by": -1})
    assert moved.json() == {"beatport_id": 1005, "position": 3}
    assert await order(live_app, crate_id) == [1001, 1003, 1005, 1004]
    await live_app.http.post(f"{path}/1001/move", json={"to": 4})
    assert await order(live_app, crate_id) == [1003, 1005, 1004, 1001]
    top = await live_app.http.post(f"{path}/1003/move", json={"by": -1})  # already first
    assert top.json()["position"] == 1
    refused = await live_app.http.post(f"{path}/1003/move", json={"by": 5})
    assert refused.status_code == 422 and "Move by -1" in refused.json()["detail"]
    assert await stored_positions(crate_id) == [0, 1, 2, 3]

    # htmx: the order button answers the crate's rows, in the new order.
    token = await live_app.csrf_token(f"/crates/{crate_id}")
    fragment = await live_app.http.post(
        f"{path}/1004/move", data={"by": "-1"}, headers={**HTMX, "x-csrftoken": token}
    )
    rows = BeautifulSoup(fragment.text, "html.parser").select("#track-rows td.col-title > a")
    assert [a.get_text() for a in rows] == [
        "Charlie Drive",
        "Delta Motion",
        "Echo Garden",
        "Alpha Signal",
    ]
    # The plain form (no JavaScript) takes a track out and comes back to the crate.
    plain = await live_app.http.post(f"{path}/1003/remove", data={}, headers={"x-csrftoken": token})
    assert plain.status_code == 303 and plain.headers["location"] == f"/crates/{crate_id}"
    assert await order(live_app, crate_id) == [1004, 1005, 1001]


async def test_forms_add_one_row_and_selected_rows(live_app: LiveApp, library: Library) -> None:
    first = (await make(live_app, "First"))["id"]
    second = (await make(live_app, "Second"))["id"]
    page = BeautifulSoup((await live_app.http.get("/tracks")).text, "html.parser")
    form = page.select_one("form#crate-add")
    assert form is not None and form["action"] == f"/crates/{second}/tracks"
    token = await live_app.csrf_token("/tracks")
    rows = {r: library.track(r) for r in (1001, 1002, 1003)}
    # A row's + (its own track), to the crate picked in the menu.
    one = await live_app.http.post(
        f"/crates/{second}/tracks",
        data={"crate": str(first), "track": str(rows[1003]), "selected": str(rows[1001])},
        headers={"x-csrftoken": token},
    )
    assert one.status_code == 303
    assert await order(live_app, first) == [1003]
    selected = await live_app.http.post(
        f"/crates/{second}/tracks",
        data={"go": "selected", "selected": [str(rows[1002]), str(rows[1001])]},
        headers={"x-csrftoken": token, **JSON},
    )
    assert selected.json()["added"] == 2
    assert await order(live_app, second) == [1002, 1001]
    nothing = await live_app.http.post(
        f"/crates/{second}/tracks", data={"go": "selected"}, headers={"x-csrftoken": token, **JSON}
    )
    assert nothing.status_code == 422 and "Choose at least one track" in nothing.json()["detail"]


async def test_the_crate_page_shows_the_rows_in_crate_order_with_filters(
    live_app: LiveApp, library: Library
) -> None:
    crate_id = (await make(live_app, "Page"))["id"]
    await live_app.http.post(
        f"/crates/{crate_id}/tracks", json={"beatport_ids": [1006, 1001, 1005]}
    )
    html = (await live_app.http.get(f"/crates/{crate_id}")).text
    page = BeautifulSoup(html, "html.parser")
    assert page.select_one("#crate-name").get_text() == "Page"  # type: ignore[union-attr]
    titles = [a.get_text() for a in page.select("#track-rows td.col-title > a")]
    assert titles == ["Foxtrot Horizon", "Alpha Signal", "Echo Garden"]
    assert [td.get_text() for td in page.select("#track-rows td.col-pos")] == ["1", "2", "3"]
    assert page.select("#track-rows button.play")  # the same play buttons as /tracks
    assert page.select_one("#send-to-spotify") is not None  # the send panel
    assert page.select_one("#up-1006")["disabled"] is not None  # type: ignore[index]
    # The tracks list's filters narrow the crate, keeping crate order and positions.
    narrowed = await live_app.http.get(f"/crates/{crate_id}?bpm_min=130", headers=HTMX)
    rows = BeautifulSoup(narrowed.text, "html.parser")
    assert [a.get_text() for a in rows.select("#track-rows td.col-title > a")] == [
        "Foxtrot Horizon", "Echo Garden",
    ]  # fmt: skip
    assert [td.get_text() for td in rows.select("#track-rows td.col-pos")] == ["1", "3"]


async def test_csv_and_m3u8_of_a_crate(live_app: LiveApp, library: Library) -> None:
    crate_id = (await make(live_app, "Out"))["id"]
    await live_app.http.post(
        f"/crates/{crate_id}/tracks", json={"beatport_ids": [1003, 1001, 1010]}
    )
    response = await live_app.http.get(f"/crates/{crate_id}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    tracks_csv = await live_app.http.get("/tracks/export.csv")
    header = next(csv.reader(io.StringIO(tracks_csv.text)))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [*header, "position"]
    assert [(r["position"], r["beatport_id"]) for r in rows] == [
        ("1", "1003"), ("2", "1001"), ("3", "1010"),
    ]  # fmt: skip
    assert rows[0]["title"] == "Charlie Drive" and rows[0]["remixers"] == "Cara Cobalt"

    # A track without a Beatport preview is played from Spotify.
    await Track.update({Track.sample_url: None}).where(Track.beatport_id == 1001)
    playlist = await live_app.http.get(f"/crates/{crate_id}/export.m3u8")
    assert playlist.status_code == 200
    assert playlist.headers["content-type"].startswith("audio/mpegurl")
    lines = playlist.content.decode("utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = [line for line in lines if not line.startswith(("#EXTM3U", "#PLAYLIST"))]
    assert entries == [
        "#EXTINF:360,Bob Basalt - Charlie Drive (Cara Cobalt Remix)",
        "https://geo-samples.beatport.com/track/1003.LOFI.mp3",
        "#EXTINF:360,Alice Aurora - Alpha Signal (Original Mix)",
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
        "#EXTINF:-1,Eve Ember - India Unknown (Original Mix)",
        "https://geo-samples.beatport.com/track/1010.LOFI.mp3",
    ]
