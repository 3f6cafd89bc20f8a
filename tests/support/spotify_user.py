"""Helpers for the Spotify login and playlist tests: settings on the fake, connecting over
real HTTP redirects, and crates made by inserting rows (the crates UI is not needed)."""

from __future__ import annotations

from typing import Any

import httpx

from services.settings import Settings
from services.tables import Crate, CrateTrack, Track
from tests.conftest import make_settings
from tests.fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify, spotify_id

INSERT_CHUNK = 200  # rows a statement (PostgreSQL takes at most 32,767 parameters)


def user_settings(database_url: str, fake: FakeSpotify, port: int, **more: Any) -> Settings:
    """Crate pointed at the fake Spotify, its redirect URI on the app's own port."""
    values: dict[str, Any] = {
        "spotify_client_id": DEFAULT_CLIENT_ID,
        "spotify_client_secret": DEFAULT_CLIENT_SECRET,
        "spotify_api_url": fake.api_url,
        "spotify_token_url": fake.token_url,
        "spotify_auth_url": fake.auth_url,
        "spotify_redirect_uri": f"http://127.0.0.1:{port}/spotify/callback",
    }
    return make_settings(database_url, **(values | more))


def user_env(fake: FakeSpotify, port: int) -> dict[str, str]:
    """The same settings as environment variables (for a `crate worker`)."""
    return {
        "SPOTIFY_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "SPOTIFY_API_URL": fake.api_url,
        "SPOTIFY_TOKEN_URL": fake.token_url,
        "SPOTIFY_AUTH_URL": fake.auth_url,
        "SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{port}/spotify/callback",
    }


async def connect(http: httpx.AsyncClient, next_path: str = "/") -> httpx.Response:
    """Connect Spotify as a browser would: /spotify/connect, the fake's /authorize (a user
    who already agreed), back to /spotify/callback, then the page it sends on to."""
    return await http.get("/spotify/connect", params={"next": next_path}, follow_redirects=True)


def track_ids(count: int, *, unmatched_every: int = 0, seed: str = "t") -> list[str | None]:
    """Spotify ids for `count` crate tracks (None for every `unmatched_every`-th one)."""
    return [
        None
        if unmatched_every and index % unmatched_every == unmatched_every - 1
        else spotify_id(f"{seed}:{index}")
        for index in range(count)
    ]


async def make_crate(
    name: str, spotify_ids: list[str | None], *, first_beatport_id: int = 1
) -> int:
    """A crate holding one new track per id (None: a track without a Spotify match), in
    that order; its id."""
    crate = await Crate.insert(Crate(name=name)).returning(Crate._meta.primary_key)
    crate_id = int(crate[0]["id"])
    await add_tracks(crate_id, spotify_ids, first_beatport_id=first_beatport_id)
    return crate_id


async def add_tracks(
    crate_id: int, spotify_ids: list[str | None], *, first_beatport_id: int, first_position: int = 0
) -> list[int]:
    """New tracks at the end of a crate; their row ids."""
    rows: list[int] = []
    for start in range(0, len(spotify_ids), INSERT_CHUNK):
        chunk = spotify_ids[start : start + INSERT_CHUNK]
        inserted = await Track.insert(
            *[
                Track(
                    beatport_id=first_beatport_id + start + offset,
                    title=f"Track {first_beatport_id + start + offset}",
                    spotify_id=value,
                )
                for offset, value in enumerate(chunk)
            ]
        ).returning(Track._meta.primary_key)
        rows.extend(int(row["id"]) for row in inserted)
    for start in range(0, len(rows), INSERT_CHUNK):
        await CrateTrack.insert(
            *[
                CrateTrack(crate=crate_id, track=track, position=first_position + start + offset)
                for offset, track in enumerate(rows[start : start + INSERT_CHUNK])
            ]
        )
    return rows


async def set_order(crate_id: int, track_rows: list[int]) -> None:
    """The crate holds exactly these tracks, in this order."""
    await CrateTrack.delete().where(CrateTrack.crate == crate_id)
    await CrateTrack.insert(
        *[
            CrateTrack(crate=crate_id, track=track, position=position)
            for position, track in enumerate(track_rows)
        ]
    )
