"""SpotifyCatalog against the fake Spotify over real loopback HTTP (no mocks)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from services.settings import Settings
from services.spotify.client import SpotifyCatalog
from services.spotify.errors import (
    SpotifyAuthError,
    SpotifyError,
    SpotifyForbidden,
    SpotifyNotConfigured,
    SpotifyRateLimited,
    SpotifyUnavailable,
)
from services.spotify.tracks import SpotifyTrack
from tests.fakes.spotify import FakeSpotify, parse_search_query, running
from tests.support.fixtures import real_fixtures

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = real_fixtures() / "spotify"
SECRET = "s3cret-value-that-must-never-leak"


def real_sample(name: str) -> Any:
    """A saved real Spotify response (skips when the shared fixtures are not mounted)."""
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"real Spotify fixtures not found at {FIXTURES}")
    return json.loads(path.read_text())


def settings_for(fake: FakeSpotify, **changes: Any) -> Settings:
    """Settings pointing Crate at the fake."""
    values: dict[str, Any] = {
        "spotify_client_id": fake.client_id,
        "spotify_client_secret": fake.client_secret,
        "spotify_api_url": fake.api_url,
        "spotify_token_url": fake.token_url,
    }
    values.update(changes)
    return Settings(**values)


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    yield from running(client_secret=SECRET)


@pytest.fixture
def catalog(fake: FakeSpotify) -> Iterator[SpotifyCatalog]:
    client = SpotifyCatalog.from_settings(
        settings_for(fake), requests_timeout=2.0, backoff_factor=0.01
    )
    yield client
    client.close()


def searches(fake: FakeSpotify) -> list[dict[str, list[str]]]:
    return [r.query for r in fake.requests_to("/v1/search")]


# ---------------------------------------------------------------- configuration and tokens


def test_from_settings_refuses_missing_credentials() -> None:
    with pytest.raises(SpotifyNotConfigured, match="SPOTIFY_CLIENT_ID"):
        SpotifyCatalog.from_settings(Settings(spotify_client_id="id", spotify_client_secret=None))


async def test_token_is_fetched_once_kept_in_memory_and_sent_as_bearer(
    fake: FakeSpotify, catalog: SpotifyCatalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fake.add_track("Purpose", ["Noisia"], isrc="USQY51531019")
    for _ in range(3):
        assert len(await catalog.search_isrc("USQY51531019")) == 1
    await asyncio.gather(*(catalog.search_text("Purpose", "Noisia") for _ in range(4)))
    assert len(fake.requests_to("/api/token")) == 1
    assert catalog.token_requests == 1
    assert all(r.status == 200 for r in fake.requests)
    written = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
    assert written == [], "spotipy's default cache handler writes ./.cache"


async def test_invalid_client_is_an_auth_error_without_the_secret(fake: FakeSpotify) -> None:
    client = SpotifyCatalog.from_settings(
        settings_for(fake, spotify_client_secret=SECRET + "-wrong"), backoff_factor=0.01
    )
    try:
        with pytest.raises(SpotifyAuthError, match="refused the client id/secret") as caught:
            await client.search_isrc("USQY51531019")
    finally:
        client.close()
    rendered = "".join(traceback.format_exception(caught.value))
    assert SECRET not in rendered
    assert fake.requests_to("/api/token")[0].status == 400
    assert fake.requests_to("/v1/search") == []


async def test_expired_token_is_renewed_once(fake: FakeSpotify, catalog: SpotifyCatalog) -> None:
    fake.add_track("Purpose", ["Noisia"], isrc="USQY51531019")
    await catalog.search_isrc("USQY51531019")
    fake.expire_tokens()
    assert len(await catalog.search_isrc("USQY51531019")) == 1
    assert [r.status for r in fake.requests_to("/v1/search")] == [200, 401, 200]
    assert len(fake.requests_to("/api/token")) == 2


async def test_token_rejected_twice_is_an_auth_error(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.fail_next(2, 401)
    with pytest.raises(SpotifyAuthError):
        await catalog.search_isrc("USQY51531019")


async def test_token_endpoint_5xx_is_retried_then_unavailable(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.server_error_next(10, 503, target="token")
    with pytest.raises(SpotifyUnavailable, match="token endpoint"):
        await catalog.search_isrc("USQY51531019")
    assert len(fake.requests_to("/api/token")) == 4  # first try + 3 retries


# ---------------------------------------------------------------- search


async def test_isrc_search_sends_the_isrc_query_with_limit_at_most_ten(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.add_track("Kids - Extended Mix", ["Fezzo"], isrc="QMFMG2501300", duration_ms=370_158)
    fake.add_track("Kids", ["Fezzo"], isrc="QMFMG2501399")
    tracks = await catalog.search_isrc("qmfmg-2501300")
    await catalog.search_isrc("QMFMG2501300", limit=50)
    assert [t.name for t in tracks] == ["Kids - Extended Mix"]
    sent = searches(fake)
    assert [q["q"] for q in sent] == [["isrc:QMFMG2501300"]] * 2
    assert all(q["type"] == ["track"] and int(q["limit"][0]) <= 10 for q in sent)


async def test_text_search_uses_field_filters_without_stray_quotes(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.add_track("Purpose", ["Noisia"])
    fake.add_track("Purpose - Buunshin Remix", ["Noisia", "Phace", "Buunshin"])
    fake.add_track("Purpose", ["Someone Else"])
    tracks = await catalog.search_text('Pur"pose', 'Noi"sia')
    assert searches(fake)[0]["q"] == ['track:"Pur pose" artist:"Noi sia"']
    assert tracks == []
    tracks = await catalog.search_text("Purpose", "Noisia")
    assert searches(fake)[1]["q"] == ['track:"Purpose" artist:"Noisia"']
    assert sorted(t.name for t in tracks) == ["Purpose", "Purpose - Buunshin Remix"]


async def test_search_results_have_dev_mode_fields(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    served = fake.add_track(
        "Die With A Smile",
        ["Lady Gaga", "Bruno Mars"],
        release_date="2024-08-16",
        duration_ms=251_667,
        isrc="USUM72409273",
        popularity=96,
    )
    (track,) = await catalog.search_isrc("USUM72409273")
    assert track == SpotifyTrack(
        id=served["id"],
        name="Die With A Smile",
        artists=("Lady Gaga", "Bruno Mars"),
        album="Die With A Smile",
        album_id=served["album"]["id"],
        album_type="single",
        album_image_url=served["album"]["images"][0]["url"],
        release_date="2024-08-16",
        release_date_precision="day",
        duration_ms=251_667,
        isrc="USUM72409273",
        popularity=None,  # dropped for Development-Mode apps
        preview_url=None,
        url=f"https://open.spotify.com/track/{served['id']}",
    )
    fake.extended_quota = True
    (track,) = await catalog.search_isrc("USUM72409273")
    assert track.popularity == 96


async def test_real_isrc_sample_served_by_the_fake_round_trips(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    body = real_sample("search_track_isrc-JPE302200934_3-hits.credits_spot-2023-05.json")
    for item in body["tracks"]["items"]:
        fake.add_raw_track(item)
    tracks = await catalog.search_isrc("JPE302200934")
    assert [(t.id, t.release_date, t.popularity) for t in tracks] == [
        ("0jpP8AlQLVtaMwA3vQYpYB", "2022-10-09", None),
        ("60nwK1iMgnFCznF6FiNfts", "2022-12-25", None),
        ("6WS4BOE25eqqbcqbWJnez9", "2022-10-13", None),
    ]


async def test_isrc_search_without_hits_is_an_empty_list(catalog: SpotifyCatalog) -> None:
    assert await catalog.search_isrc("JPE302200000") == []


def test_empty_search_envelope_matches_the_real_no_hit_sample(fake: FakeSpotify) -> None:
    real = real_sample("search_track_isrc_no-results.credits_spot-2023.json")["tracks"]
    served = requests.get(
        f"{fake.api_url}search",
        params={"q": "isrc:JPE302200000", "type": "track", "limit": "10"},
        headers={"Authorization": f"Bearer {bearer(fake)}"},
        timeout=5,
    ).json()["tracks"]
    assert set(served) == set(real)
    assert (served["items"], served["total"], served["next"]) == ([], 0, None)


# ---------------------------------------------------------------- single track, never the batch


async def test_track_by_id_and_unknown_ids(fake: FakeSpotify, catalog: SpotifyCatalog) -> None:
    served = fake.add_track("Concussion", ["Noisia"], isrc="NLCK40700053")
    track = await catalog.track(served["id"])
    assert track is not None and track.isrc == "NLCK40700053"
    assert await catalog.track("0" * 22) is None  # 404
    assert await catalog.track("not an id") is None  # refused before any request
    assert [r.path for r in fake.requests_to("/v1/tracks/")] == [
        f"/v1/tracks/{served['id']}",
        "/v1/tracks/" + "0" * 22,
    ]


async def test_batch_track_endpoint_is_never_used(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    served = fake.add_track("Purpose", ["Noisia"], isrc="USQY51531019")
    await catalog.search_isrc("USQY51531019")
    await catalog.search_text("Purpose", "Noisia")
    await catalog.track(served["id"])
    with pytest.raises(SpotifyForbidden):
        await catalog.audio_features([served["id"]])
    assert fake.requests_to("/v1/tracks") == []
    assert not any("ids" in r.query for r in fake.requests if r.path.startswith("/v1/tracks"))


def test_fake_refuses_the_batch_endpoint_like_a_dev_mode_app(fake: FakeSpotify) -> None:
    real = real_sample(
        "error_403_forbidden_batch-endpoint-devmode.spotify-to-plex-pr131-2026-08.json"
    )
    served = fake.add_track("Purpose", ["Noisia"])
    response = requests.get(
        f"{fake.api_url}tracks",
        params={"ids": served["id"]},
        headers={"Authorization": f"Bearer {bearer(fake)}"},
        timeout=5,
    )
    assert (response.status_code, response.json()) == (403, real)
    fake.extended_quota = True
    response = requests.get(
        f"{fake.api_url}tracks",
        params={"ids": f"{served['id']},{'0' * 22}"},
        headers={"Authorization": f"Bearer {bearer(fake)}"},
        timeout=5,
    )
    assert response.json()["tracks"][0]["id"] == served["id"]
    assert response.json()["tracks"][1] is None


def test_fake_rejects_search_limit_above_ten(fake: FakeSpotify) -> None:
    response = requests.get(
        f"{fake.api_url}search",
        params={"q": "isrc:X", "type": "track", "limit": "11"},
        headers={"Authorization": f"Bearer {bearer(fake)}"},
        timeout=5,
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": {"status": 400, "message": "Invalid limit"}},
    )


def test_fake_track_objects_have_the_real_shape(fake: FakeSpotify) -> None:
    real = real_sample("get-several-tracks_ids-2plbrEY59IikOBgBGLjaoe.harmony-2025-02.json")
    real_track = real["tracks"][0]
    made = fake.add_track("Die With A Smile", ["Lady Gaga", "Bruno Mars"], isrc="USUM72409273")
    assert set(made) == set(real_track)
    assert set(made["album"]) == set(real_track["album"])
    assert set(made["artists"][0]) == set(real_track["artists"][0])
    assert set(made["album"]["images"][0]) == set(real_track["album"]["images"][0])
    assert SpotifyTrack.from_api(real_track).popularity == 96


def test_from_api_tolerates_old_and_partial_objects() -> None:
    old = real_sample("get-several-tracks_with-null-notfound.zmb3-2015.json")["tracks"][0]
    track = SpotifyTrack.from_api(old)
    assert (track.name, track.album, track.isrc, track.release_date) == (
        "Mr. Brightside",
        "Hot Fuss",
        "USIR20400274",
        None,  # 2015 album objects had no release_date
    )
    bare = SpotifyTrack.from_api({"id": "x", "name": "Only a name"})
    assert bare == SpotifyTrack(id="x", name="Only a name", artists=(), album="")


def test_search_query_parser_of_the_fake() -> None:
    assert parse_search_query('track:"Into My Life" artist:"Cam Stockman" extra') == {
        "track": ["Into My Life"],
        "artist": ["Cam Stockman"],
        "": ["extra"],
    }
    assert parse_search_query("isrc:USQY51531019") == {"isrc": ["USQY51531019"]}


# ---------------------------------------------------------------- rate limits: surface at once


@pytest.mark.parametrize(
    ("header", "expected"), [("0", None), ("1", 1.0), ("3600", 3600.0), (None, None)]
)
async def test_429_surfaces_immediately_with_retry_after(
    fake: FakeSpotify, catalog: SpotifyCatalog, header: str | None, expected: float | None
) -> None:
    await catalog.search_isrc("WARMUP000000")  # the token, so only the 429 is timed
    fake.rate_limit_next(retry_after=header)
    started = time.monotonic()
    with pytest.raises(SpotifyRateLimited) as caught:
        await catalog.search_isrc("USQY51531019")
    elapsed = time.monotonic() - started
    assert elapsed < 0.5, f"took {elapsed:.2f}s: something slept on Retry-After"
    assert (caught.value.retry_after, caught.value.quota) == (expected, False)
    assert [r.status for r in fake.requests_to("/v1/search")] == [200, 429]  # not retried
    assert "rate-limiting" in str(caught.value)


async def test_quota_exceeded_body_sets_quota(fake: FakeSpotify, catalog: SpotifyCatalog) -> None:
    fake.rate_limit_next(retry_after="86400", quota=True)
    with pytest.raises(SpotifyRateLimited, match="quota") as caught:
        await catalog.search_text("Purpose", "Noisia")
    assert (caught.value.retry_after, caught.value.quota) == (86400.0, True)


async def test_429_with_empty_body_and_no_header(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.rate_limit_next(retry_after=None, body="")
    with pytest.raises(SpotifyRateLimited, match="did not say") as caught:
        await catalog.track("0" * 22)
    assert (caught.value.retry_after, caught.value.quota) == (None, False)


def test_quota_body_of_the_fake_is_the_documented_one(fake: FakeSpotify) -> None:
    real = real_sample("error_429_quota-exceeded.spotify-changelog-2026-07.json")
    fake.rate_limit_next(retry_after="10", quota=True)
    response = requests.get(f"{fake.api_url}search", timeout=5)
    assert (response.status_code, response.headers["Retry-After"], response.json()) == (
        429,
        "10",
        real,
    )


# ---------------------------------------------------------------- 5xx, timeouts, connection errors


async def test_5xx_is_retried_then_succeeds(fake: FakeSpotify, catalog: SpotifyCatalog) -> None:
    fake.add_track("Purpose", ["Noisia"], isrc="USQY51531019")
    await catalog.search_isrc("WARMUP000000")
    fake.server_error_next(1, 502)
    fake.server_error_next(1, 500)
    assert len(await catalog.search_isrc("USQY51531019")) == 1
    assert [r.status for r in fake.requests_to("/v1/search")] == [200, 502, 500, 200]


async def test_persistent_5xx_becomes_unavailable(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    await catalog.search_isrc("WARMUP000000")
    fake.server_error_next(4, 503)
    with pytest.raises(SpotifyUnavailable, match="503"):
        await catalog.search_isrc("USQY51531019")
    assert [r.status for r in fake.requests_to("/v1/search")] == [200, 503, 503, 503, 503]


async def test_timeout_is_unavailable(fake: FakeSpotify) -> None:
    client = SpotifyCatalog.from_settings(
        settings_for(fake), requests_timeout=0.3, backoff_factor=0.01
    )
    try:
        await client.search_isrc("WARMUP000000")
        fake.slow_next(1, 2.0)
        started = time.monotonic()
        with pytest.raises(SpotifyUnavailable, match="did not answer in time"):
            await client.search_isrc("USQY51531019")
        assert time.monotonic() - started < 1.5
    finally:
        client.close()


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        spotify_client_id="id",
        spotify_client_secret=SECRET,
        spotify_api_url=f"http://127.0.0.1:{port}/v1/",
        spotify_token_url=f"http://127.0.0.1:{port}/api/token",
    )
    client = SpotifyCatalog.from_settings(settings, backoff_factor=0.01)
    try:
        with pytest.raises(SpotifyUnavailable, match="Could not connect") as caught:
            await client.search_isrc("USQY51531019")
    finally:
        client.close()
    assert SECRET not in "".join(traceback.format_exception(caught.value))


async def test_bad_request_is_a_plain_spotify_error(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.fail_next(1, 400, body={"error": {"status": 400, "message": "Invalid limit"}})
    with pytest.raises(SpotifyError, match="Invalid limit") as caught:
        await catalog.search_isrc("USQY51531019")
    assert type(caught.value) is SpotifyError


# ---------------------------------------------------------------- audio features


async def test_audio_features_are_forbidden_in_dev_mode(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    served = fake.add_track("Purpose", ["Noisia"])
    with pytest.raises(SpotifyForbidden, match="403"):
        await catalog.audio_features([served["id"]])


async def test_audio_features_in_extended_mode_in_batches_of_100(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.extended_quota = True
    ids = [fake.add_track(f"Track {n}", ["Noisia"])["id"] for n in range(150)]
    features = await catalog.audio_features([*ids, "0" * 22, ids[0], "bad id"])
    assert set(features) == set(ids)
    sizes = [len((r.param("ids") or "").split(",")) for r in fake.requests_to("/v1/audio-features")]
    assert sizes == [100, 51]
    real = real_sample("audio-features_ids-with-null.zmb3-2016.redacted.json")
    assert set(features[ids[0]]) == set(real["audio_features"][0])
    assert features[ids[0]]["type"] == "audio_features"


# ---------------------------------------------------------------- counting and the command line


async def test_requests_made_counts_api_calls(fake: FakeSpotify, catalog: SpotifyCatalog) -> None:
    fake.add_track("Purpose", ["Noisia"], isrc="USQY51531019")
    await catalog.search_isrc("USQY51531019")
    await catalog.search_text("Purpose", "Noisia")
    await catalog.track("0" * 22)
    assert catalog.requests_made == 3
    assert len(fake.requests_to("/v1/")) == 3


def test_fake_runs_as_a_subprocess_with_a_seeded_catalogue() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.spotify", "--port", "0", "--seed"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        api_url = process.stdout.readline().strip().removeprefix("SPOTIFY_API_URL=")
        token_url = process.stdout.readline().strip().removeprefix("SPOTIFY_TOKEN_URL=")
        settings = Settings(
            spotify_client_id="fake-client-id",
            spotify_client_secret="fake-client-secret",
            spotify_api_url=api_url,
            spotify_token_url=token_url,
        )

        async def search() -> list[SpotifyTrack]:
            client = SpotifyCatalog.from_settings(settings)
            try:
                return await client.search_isrc("QMFMG2501300")
            finally:
                client.close()

        hits = asyncio.run(search())
        assert sorted(t.release_date or "" for t in hits) == [
            "2025-05-02",
            "2025-05-16",
            "2025-11-07",
        ]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0


def bearer(fake: FakeSpotify) -> str:
    """A valid access token from the fake, fetched like a client would."""
    response = requests.post(
        fake.token_url,
        data={"grant_type": "client_credentials"},
        auth=(fake.client_id, fake.client_secret),
        timeout=5,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def test_concurrent_searches_share_one_token(
    fake: FakeSpotify, catalog: SpotifyCatalog
) -> None:
    fake.add_track("Purpose", ["Noisia"], isrc="USQY51531019")
    await catalog.search_isrc("WARMUP000000")
    results = await asyncio.gather(*(catalog.search_isrc("USQY51531019") for _ in range(8)))
    assert all(len(r) == 1 for r in results)
    assert len(fake.requests_to("/api/token")) == 1
