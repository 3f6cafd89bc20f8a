"""Connecting a Spotify account and sending crates to playlists, over real HTTP on both
engines: the app, the fake Spotify (Development-Mode rules of 2026), in-process jobs and a
real `crate worker` on Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup

from services.spotify_account import unseal
from services.tables import Crate, CrateTrack, Job, SpotifyLogin
from tasks import queue as job_queue
from tasks.playlist_export import EXPORT_KIND
from tests.conftest import LiveApp, free_port, serve_app, start_crate, stop_process
from tests.fakes.spotify import DEFAULT_CLIENT_ID, FakeSpotify
from tests.support.html_check import html_problems
from tests.support.spotify_user import (
    add_tracks,
    connect,
    make_crate,
    set_order,
    track_ids,
    user_env,
    user_settings,
)
from web.app import create_app

REVOKED = "Spotify no longer accepts Crate's login: connect again."


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    """A fake Spotify whose user already agreed to Crate (its /authorize sends straight back)."""
    with FakeSpotify() as server:
        yield server


@pytest.fixture
async def app(database_url: str, spotify: FakeSpotify) -> AsyncIterator[LiveApp]:
    """The app with in-process jobs, its redirect URI on its own port."""
    port = free_port()
    async for live in serve_app(create_app(user_settings(database_url, spotify, port)), port):
        yield live


async def stored_login() -> dict[str, object]:
    rows = await SpotifyLogin.select()
    assert len(rows) == 1, rows
    return rows[0]


async def send(live: LiveApp, crate_id: int) -> dict[str, object]:
    """Send a crate by the JSON route and wait for the job to end."""
    return (await live.run_job(f"/crates/{crate_id}/spotify", {}))[1]


def playlist_requests(spotify: FakeSpotify) -> list[str]:
    """The playlist requests made since the log was last reset ("METHOD /path")."""
    return [
        f"{r.method} {r.path}"
        for r in spotify.requests
        if r.path.startswith(("/v1/playlists", "/v1/me/playlists", "/v1/users/"))
    ]


def only_playlist(spotify: FakeSpotify) -> str:
    playlists = spotify.accounts.playlists()
    assert len(playlists) == 1, [p.name for p in playlists]
    return playlists[0].id


def uris(ids: list[str | None]) -> list[str]:
    return [f"spotify:track:{i}" for i in ids if i]


# ---------------------------------------------------------------- connecting


async def test_connect_follows_the_redirects_and_keeps_the_tokens_encrypted(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    before = await app.http.get("/")
    assert "Connect Spotify" in before.text
    page = await connect(app.http, "/jobs")
    assert page.status_code == 200 and str(page.url).endswith("/jobs")
    hops = [str(r.url) for r in page.history]
    assert hops[0].endswith("/spotify/connect?next=%2Fjobs")
    assert hops[1].startswith(spotify.auth_url) and hops[2].split("?")[0].endswith(
        "/spotify/callback"
    )
    asked = parse_qs(urlsplit(hops[1]).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
    assert asked["scope"] == ["playlist-modify-private playlist-modify-public"]
    assert asked["client_id"] == [DEFAULT_CLIENT_ID] and asked["state"][0]
    # The token exchange sent the verifier and no secret (the fake takes a code issued with
    # a challenge only with its verifier), and the code was spent.
    assert spotify.accounts.codes == []

    dashboard = await app.http.get("/")
    assert "connected as" in dashboard.text and "DJ Fake" in dashboard.text
    row = await stored_login()
    assert (row["spotify_user_id"], row["display_name"]) == ("crate-dj", "DJ Fake")
    [access] = spotify.accounts.access_tokens
    [refresh] = spotify.accounts.refresh_tokens
    as_text = json.dumps(row, default=str)
    assert access not in as_text and refresh not in as_text  # encrypted at rest
    settings = app.app.state.settings
    assert unseal(settings, str(row["access_token"])) == access
    assert unseal(settings, str(row["refresh_token"])) == refresh
    # The verifier and state were used once and left the session.
    again = await app.http.get(hops[2], follow_redirects=False)
    assert again.status_code == 400 and "did not start here" in again.text


async def test_a_callback_with_a_state_this_session_did_not_issue_is_refused(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    started = await app.http.get("/spotify/connect")
    assert started.status_code == 303
    back = await app.http.get(started.headers["location"], follow_redirects=False)
    callback = urlsplit(back.headers["location"])
    query = parse_qs(callback.query)
    code, state = query["code"][0], query["state"][0]
    forged = await app.http.get("/spotify/callback", params={"code": code, "state": "forged-state"})
    assert forged.status_code == 400
    assert "did not start here" in forged.text and code not in forged.text
    # Another browser (no session) with the real state: refused too.
    async with httpx.AsyncClient(base_url=app.url) as stranger:
        other = await stranger.get("/spotify/callback", params={"code": code, "state": state})
    assert other.status_code == 400 and "did not start here" in other.text
    assert await SpotifyLogin.count() == 0
    honest = await app.http.get("/spotify/callback", params={"code": code, "state": state})
    assert honest.status_code == 303 and await SpotifyLogin.count() == 1


async def test_problems_at_the_callback_are_words_on_a_page(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    spotify.accounts.consent = "deny"
    denied = await connect(app.http)
    assert denied.status_code == 400 and "did not allow Crate" in denied.text
    spotify.accounts.consent = "auto"
    spotify.server_error_next(1, 503, target="token")
    down = await connect(app.http)
    assert down.status_code == 502
    assert "login service answered HTTP 503" in down.text and "try connecting again" in down.text
    spotify.accounts.users["crate-dj"].registered = False  # not allow-listed in Development Mode
    unlisted = await connect(app.http)
    assert unlisted.status_code == 400 and "may not be registered" in unlisted.text
    assert await SpotifyLogin.count() == 0
    bare = await app.http.get("/spotify/callback")
    assert bare.status_code == 400 and "connect again" in bare.text
    assert html_problems(bare.text) == []


async def test_connecting_needs_a_login_when_a_password_is_set(
    database_url: str, spotify: FakeSpotify
) -> None:
    port = free_port()
    settings = user_settings(database_url, spotify, port, password="pw-for-spotify-test")
    async for live in serve_app(create_app(settings), port):
        refused = await live.http.get("/spotify/connect")
        assert refused.status_code == 303
        assert refused.headers["location"] == "/login?next=%2Fspotify%2Fconnect"
        callback = await live.http.get("/spotify/callback", params={"code": "x", "state": "y"})
        assert callback.status_code == 303 and callback.headers["location"].startswith("/login")
        assert spotify.requests == []
        token = await live.csrf_token("/login")
        logged_in = await live.http.post(
            "/login", data={"password": "pw-for-spotify-test", "_csrf_token": token}
        )
        assert logged_in.status_code == 303
        page = await connect(live.http)
        assert page.status_code == 200 and "connected as" in page.text
        # Still logged in to Crate afterwards (the session kept its login).
        assert (await live.http.get("/jobs")).status_code == 200
    assert await SpotifyLogin.count() == 1


async def test_disconnect_forgets_the_tokens(app: LiveApp, spotify: FakeSpotify) -> None:
    await connect(app.http)
    assert await SpotifyLogin.count() == 1
    token = await app.csrf_token("/")
    fragment = await app.http.post(
        "/spotify/disconnect",
        headers={"HX-Request": "true", "x-csrftoken": token, "HX-Current-URL": f"{app.url}/"},
    )
    assert fragment.status_code == 200 and "Connect Spotify" in fragment.text
    assert await SpotifyLogin.count() == 0
    crate_id = await make_crate("After", track_ids(3))
    refused = await app.http.post(f"/crates/{crate_id}/spotify", json={})
    assert refused.status_code == 409 and "Connect Spotify first" in refused.json()["detail"]
    gone = await app.http.post("/spotify/disconnect", json={})
    assert gone.json() == {"connected": False}


# ---------------------------------------------------------------- sending


async def test_sending_needs_spotify_before_anything_is_queued(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    crate_id = await make_crate("Peak", track_ids(4))
    refused = await app.http.post(f"/crates/{crate_id}/spotify", json={})
    assert refused.status_code == 409
    assert refused.json()["errors"] == {
        "spotify": "Connect Spotify first (Connect Spotify), then send the crate."
    }
    token = await app.csrf_token("/")
    form = await app.http.post(
        f"/crates/{crate_id}/spotify", headers={"HX-Request": "true", "x-csrftoken": token}
    )
    assert form.status_code == 409
    alert = BeautifulSoup(form.text, "html.parser").select_one("[role=alert]")
    assert alert is not None and "Connect Spotify first" in alert.get_text()
    assert html_problems(form.text, fragment=True) == []
    # Without JavaScript: a page saying the same.
    plain = await app.http.post(f"/crates/{crate_id}/spotify", data={"_csrf_token": token})
    assert plain.status_code == 409 and "Connect Spotify first" in plain.text
    assert html_problems(plain.text) == []
    link = BeautifulSoup(form.text, "html.parser").find("a", string="Connect Spotify")
    assert link is not None
    assert parse_qs(urlsplit(str(link["href"])).query) == {"next": [f"/crates/{crate_id}"]}
    missing = await app.http.post("/crates/999999/spotify", json={})
    assert missing.status_code == 404 and "no crate 999999" in missing.json()["detail"]
    assert await Job.count() == 0
    assert playlist_requests(spotify) == []


async def test_a_crate_becomes_one_private_playlist_equal_to_it(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    await connect(app.http)
    ids = track_ids(7, unmatched_every=3)  # 2 of 7 without a Spotify match
    crate_id = await make_crate("Melodic Digs", ids)
    status = await send(app, crate_id)
    assert status["state"] == "succeeded", status
    assert status["counts"] == {"sent": 5, "skipped": 2}
    playlist_id = only_playlist(spotify)
    playlist = spotify.accounts.playlist(playlist_id)
    assert playlist.name == "Melodic Digs" and playlist.public is False
    assert playlist.uris == uris(ids)
    crate = await Crate.select().where(Crate._meta.primary_key == crate_id).first()
    assert crate is not None and crate["spotify_playlist_id"] == playlist_id
    assert crate["spotify_playlist_url"] == f"https://open.spotify.com/playlist/{playlist_id}"
    badge = await app.http.get(f"/tasks/status/{status['task_id']}")
    assert "sent 5, 2 not on Spotify" in badge.text
    assert playlist_requests(spotify) == [
        "POST /v1/me/playlists",
        f"PUT /v1/playlists/{playlist_id}/items",
    ]

    # The crate changes: one out, the order turned round, two new tracks; renamed too.
    rows = [
        r["track"] for r in await CrateTrack.select(CrateTrack.track).order_by(CrateTrack.position)
    ]
    new_ids = track_ids(2, seed="new")
    added = await add_tracks(crate_id, new_ids, first_beatport_id=100, first_position=10)
    order = [*reversed(rows[1:]), *added]
    await set_order(crate_id, order)
    await Crate.update({Crate.name: "Melodic Keepers"}).where(Crate._meta.primary_key == crate_id)
    spotify.reset_log()
    again = await send(app, crate_id)
    assert again["state"] == "succeeded", again
    expected = uris([*reversed(ids[1:]), *new_ids])
    assert again["counts"] == {"sent": len(expected), "skipped": 2}
    assert only_playlist(spotify) == playlist_id  # the same playlist, no duplicate
    playlist = spotify.accounts.playlist(playlist_id)
    assert playlist.uris == expected and playlist.name == "Melodic Keepers"
    assert playlist_requests(spotify) == [
        f"GET /v1/playlists/{playlist_id}",
        f"PUT /v1/playlists/{playlist_id}",
        f"PUT /v1/playlists/{playlist_id}/items",
    ]

    # The user deletes the playlist in Spotify: the next send makes a new one.
    spotify.accounts.delete_playlist(playlist_id)
    recreated = await send(app, crate_id)
    assert recreated["state"] == "succeeded", recreated
    new_id = only_playlist(spotify)
    assert new_id != playlist_id and spotify.accounts.playlist(new_id).uris == expected
    crate = await Crate.select().where(Crate._meta.primary_key == crate_id).first()
    assert crate is not None and crate["spotify_playlist_id"] == new_id

    # Deleted between Crate's check and its PUT (the PUT answers 404): made anew as well.
    spotify.fail_next(1, 404, path="/v1/playlists/*/items", method="PUT")
    spotify.reset_log()
    assert (await send(app, crate_id))["state"] == "succeeded"
    newest = spotify.accounts.playlists()[-1].id
    assert newest != new_id and spotify.accounts.playlist(newest).uris == expected
    assert playlist_requests(spotify)[-2:] == [
        "POST /v1/me/playlists",
        f"PUT /v1/playlists/{newest}/items",
    ]
    crate = await Crate.select().where(Crate._meta.primary_key == crate_id).first()
    assert crate is not None and crate["spotify_playlist_id"] == newest
    assert not [
        r for r in spotify.requests if r.path.endswith("/tracks") or r.path.startswith("/v1/users/")
    ]


async def test_a_thousand_tracks_take_at_most_eleven_playlist_requests(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    await connect(app.http)
    ids = track_ids(1000)
    crate_id = await make_crate("Thousand", ids)
    spotify.reset_log()
    first = await send(app, crate_id)
    assert first["state"] == "succeeded" and first["counts"] == {"sent": 1000, "skipped": 0}
    made = playlist_requests(spotify)
    assert len(made) == 11, made  # 1 create + 1 PUT + 9 POSTs
    playlist_id = only_playlist(spotify)
    assert spotify.accounts.playlist(playlist_id).uris == uris(ids)
    spotify.reset_log()
    second = await send(app, crate_id)
    assert second["state"] == "succeeded"
    made = playlist_requests(spotify)
    assert len(made) == 11, made  # 1 check + 1 PUT + 9 POSTs
    assert made.count(f"POST /v1/playlists/{playlist_id}/items") == 9
    assert spotify.accounts.playlist(playlist_id).uris == uris(ids)  # still no duplicate


async def test_rate_limits_are_waited_out_and_the_playlist_ends_equal(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    await connect(app.http)
    ids = track_ids(250)
    crate_id = await make_crate("Busy", ids)
    spotify.rate_limit_next(1, retry_after="1", path="/v1/playlists/*/items", method="POST")
    task_id = await app.start_job(f"/crates/{crate_id}/spotify", {})
    waiting = await app.wait_for_state(task_id, ("waiting", "succeeded", "failed"))
    assert waiting["state"] == "waiting" and waiting["retry_at"], waiting
    done = await app.wait_for_state(task_id, ("succeeded", "failed"))
    assert done["state"] == "succeeded" and done["counts"]["sent"] == 250
    assert spotify.accounts.playlist(only_playlist(spotify)).uris == uris(ids)

    # A long wait puts the job to sleep; run again later, it finishes the playlist.
    spotify.rate_limit_next(1, retry_after="3600", path="/v1/playlists/*/items", method="POST")
    task_id = await app.start_job(f"/crates/{crate_id}/spotify", {})
    asleep = await app.wait_for_state(task_id, ("waiting", "succeeded", "failed"))
    assert asleep["state"] == "waiting", asleep
    retry_at = datetime.fromisoformat(str(asleep["retry_at"]))
    assert 3500 < (retry_at - datetime.now(retry_at.tzinfo)).total_seconds() <= 3600
    await asyncio.sleep(0.2)
    job = await Job.select().where(Job.task_id == task_id).first().output(load_json=True)
    assert job is not None and job["state"] == "waiting" and job["checkpoint"] == {"deferrals": 1}
    await job_queue.kick(app.app.state.broker, task_id, EXPORT_KIND, job["params"])
    final = await app.wait_for_state(task_id, ("succeeded", "failed"))
    assert final["state"] == "succeeded"
    assert spotify.accounts.playlist(only_playlist(spotify)).uris == uris(ids)


async def test_a_server_error_on_an_append_starts_the_filling_over(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    await connect(app.http)
    ids = track_ids(230)
    crate_id = await make_crate("Shaky", ids)
    # The append is applied, but its answer is lost: repeating it would add 100 tracks twice.
    spotify.fail_next(1, 502, path="/v1/playlists/*/items", method="POST", applied=True)
    spotify.reset_log()
    status = await send(app, crate_id)
    assert status["state"] == "succeeded", status
    playlist_id = only_playlist(spotify)
    assert spotify.accounts.playlist(playlist_id).uris == uris(ids)
    made = playlist_requests(spotify)
    assert made.count(f"PUT /v1/playlists/{playlist_id}/items") == 2, made  # started over


async def test_an_expired_token_is_refreshed_and_the_new_refresh_token_kept(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    await connect(app.http)
    settings = app.app.state.settings
    [first_refresh] = spotify.accounts.refresh_tokens
    crate_id = await make_crate("Fresh", track_ids(3))
    # Spotify expired the token early: the 401 makes Crate refresh once and go on.
    spotify.accounts.expire_access_tokens()
    status = await send(app, crate_id)
    assert status["state"] == "succeeded", status
    row = await stored_login()
    second_refresh = unseal(settings, str(row["refresh_token"]))
    assert second_refresh != first_refresh and second_refresh in spotify.accounts.refresh_tokens
    # The stored expiry passed: Crate refreshes before asking, with the newest token.
    await SpotifyLogin.update({SpotifyLogin.expires_at: 0.0}).where(
        SpotifyLogin._meta.primary_key > 0
    )
    spotify.reset_log()
    status = await send(app, crate_id)
    assert status["state"] == "succeeded", status
    assert [r.status for r in spotify.requests if r.path == "/api/token"] == [200]
    assert not [r for r in spotify.requests if r.status == 401]
    row = await stored_login()
    third = unseal(settings, str(row["refresh_token"]))
    assert third not in (first_refresh, second_refresh)
    assert float(str(row["expires_at"])) > datetime.now().timestamp() + 3000


async def test_a_revoked_login_fails_the_job_in_words_and_asks_to_connect_again(
    app: LiveApp, spotify: FakeSpotify
) -> None:
    await connect(app.http)
    crate_id = await make_crate("Revoked", track_ids(3))
    spotify.accounts.revoke()
    status = await send(app, crate_id)
    assert status["state"] == "failed"
    assert status["error"] == REVOKED
    dashboard = await app.http.get("/")
    assert "no longer accepts" in dashboard.text and "Connect again" in dashboard.text
    refused = await app.http.post(f"/crates/{crate_id}/spotify", json={})
    assert refused.status_code == 409 and refused.json()["detail"] == REVOKED
    assert spotify.accounts.playlists() == []
    page = await connect(app.http)
    assert "connected as" in page.text
    assert (await send(app, crate_id))["state"] == "succeeded"


async def test_a_crate_is_sent_by_a_redis_worker(
    database_url: str,
    redis_url: str,
    spotify: FakeSpotify,
    process_env: dict[str, str],
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = user_settings(database_url, spotify, port, redis_url=redis_url)
    env = {
        **process_env,
        **user_env(spotify, port),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }
    worker = start_crate(["worker"], env, tmp_path / "worker.log")
    try:
        async for live in serve_app(create_app(settings), port):
            await connect(live.http)
            ids = track_ids(240, unmatched_every=10)
            crate_id = await make_crate("On a worker", ids)
            spotify.accounts.expire_access_tokens()  # the worker refreshes, and keeps the new one
            task_id = await live.start_job(f"/crates/{crate_id}/spotify", {})
            status = await live.wait_for_state(task_id, ("succeeded", "failed"), within=60)
            assert status["state"] == "succeeded", (tmp_path / "worker.log").read_text()
            assert status["counts"] == {"sent": 216, "skipped": 24}
            assert spotify.accounts.playlist(only_playlist(spotify)).uris == uris(ids)
            row = await stored_login()
            assert unseal(settings, str(row["refresh_token"])) in spotify.accounts.refresh_tokens
    finally:
        stop_process(worker)


async def test_sending_counts_against_the_job_rate_limit(app: LiveApp) -> None:
    for _ in range(30):
        assert (await app.http.post("/crates/424242/spotify", json={})).status_code == 404
    limited = await app.http.post("/crates/424242/spotify", json={})
    assert limited.status_code == 429 and "Too many jobs" in limited.json()["detail"]
