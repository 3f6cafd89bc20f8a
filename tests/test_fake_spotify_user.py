"""The fake Spotify's user side behaves as Spotify does for Development-Mode apps in 2026.

Crate's login and playlist tests are only as good as this fake: here it is held to the
facts in shared/docs/external-services.md ("Spotify user login and playlists") over real
HTTP, with no Crate code involved.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify, spotify_id
from tests.fakes.spotify_accounts import s256

REDIRECT = "http://127.0.0.1:8765/spotify/callback"
SCOPES = "playlist-modify-private playlist-modify-public"


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def authorize(http: httpx.Client, fake: FakeSpotify, **changes: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "code_challenge_method": "S256",
        "code_challenge": s256("v" * 50),
        "state": "st4te",
        "scope": SCOPES,
    } | changes
    return http.get(fake.auth_url, params={k: v for k, v in params.items() if v != "-"})


def answer(response: httpx.Response) -> dict[str, str]:
    """The query of the redirect back to the app."""
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def login(http: httpx.Client, fake: FakeSpotify, verifier: str | None = None) -> dict[str, Any]:
    """A full PKCE login; the token answer."""
    verifier = verifier or secrets.token_urlsafe(64)
    code = answer(authorize(http, fake, code_challenge=s256(verifier)))["code"]
    response = http.post(
        fake.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": DEFAULT_CLIENT_ID,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_authorize_takes_only_registered_https_or_loopback_ip_redirects(
    fake: FakeSpotify, http: httpx.Client
) -> None:
    # The registered URI with another loopback port is fine; [::1] too when registered.
    back = answer(authorize(http, fake))
    assert back["state"] == "st4te" and back["code"].startswith("AQ")
    for refused in (
        "http://localhost:8765/spotify/callback",  # Spotify refuses localhost
        "http://192.168.1.5:8765/spotify/callback",  # plain http beyond loopback
        "https://crate.example/spotify/callback",  # not registered
        "http://127.0.0.1:8765/other",
    ):
        page = authorize(http, fake, redirect_uri=refused)
        assert page.status_code == 400 and "Invalid redirect URI" in page.text, refused
    fake.accounts.redirect_uris.append("https://crate.example/spotify/callback")
    assert "code" in answer(
        authorize(http, fake, redirect_uri="https://crate.example/spotify/callback")
    )
    assert authorize(http, fake, client_id="nobody").status_code == 400
    assert (
        answer(authorize(http, fake, code_challenge_method="plain"))["error"] == "invalid_request"
    )
    assert answer(authorize(http, fake, scope="ugc-image-upload"))["error"] == "invalid_scope"
    fake.accounts.consent = "deny"
    assert answer(authorize(http, fake)) == {"error": "access_denied", "state": "st4te"}


def test_consent_page_sends_back_a_code_on_agree(fake: FakeSpotify, http: httpx.Client) -> None:
    fake.accounts.consent = "page"
    page = authorize(http, fake)
    assert page.status_code == 200 and "Agree" in page.text and "DJ Fake" in page.text
    request_id = page.text.split('name="request" value="')[1].split('"')[0]
    agreed = http.post(fake.auth_url, data={"request": request_id, "decision": "accept"})
    assert "code" in answer(agreed)
    again = http.post(fake.auth_url, data={"request": request_id, "decision": "accept"})
    assert again.status_code == 400  # a consent answers once


def test_code_exchange_checks_the_verifier_once(fake: FakeSpotify, http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(64)
    code = answer(authorize(http, fake, code_challenge=s256(verifier)))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": DEFAULT_CLIENT_ID,
    }
    wrong = http.post(fake.token_url, data=form | {"code_verifier": secrets.token_urlsafe(64)})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The code was spent by that attempt, as on Spotify: a new login is needed.
    retry = http.post(fake.token_url, data=form | {"code_verifier": verifier})
    assert retry.json()["error_description"] == "Invalid authorization code"
    body = login(http, fake)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) == set(SCOPES.split())
    # Without PKCE, the client secret is required.
    code = answer(authorize(http, fake, code_challenge="-", code_challenge_method="-"))["code"]
    bare = http.post(fake.token_url, data=form | {"code": code})
    assert bare.json()["error"] == "invalid_client"
    code = answer(authorize(http, fake, code_challenge="-", code_challenge_method="-"))["code"]
    with_secret = http.post(
        fake.token_url,
        data={k: v for k, v in (form | {"code": code}).items() if k != "client_id"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert with_secret.status_code == 200


def test_refresh_rotates_the_refresh_token_and_revocation_refuses_it(
    fake: FakeSpotify, http: httpx.Client
) -> None:
    first = login(http, fake)["refresh_token"]

    def refresh(token: str) -> httpx.Response:
        return http.post(
            fake.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": DEFAULT_CLIENT_ID,
            },
        )

    renewed = refresh(first)
    assert renewed.status_code == 200
    second = renewed.json()["refresh_token"]
    assert second != first
    assert refresh(first).json()["error"] == "invalid_grant"  # single-use
    fake.accounts.revoke()
    refused = refresh(second)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "Refresh token revoked",
    }


def test_playlists_follow_the_2026_development_mode_rules(
    fake: FakeSpotify, http: httpx.Client
) -> None:
    token = login(http, fake)["access_token"]
    api = fake.api_url
    me = http.get(api + "me", headers=bearer(token)).json()
    assert me["id"] == "crate-dj" and me["display_name"] == "DJ Fake"

    # Removed for Development-Mode apps.
    removed = http.post(api + "users/crate-dj/playlists", json={"name": "x"}, headers=bearer(token))
    assert removed.status_code == 403

    created = http.post(
        api + "me/playlists", json={"name": "Digging", "public": False}, headers=bearer(token)
    )
    assert created.status_code == 201
    playlist = created.json()
    assert playlist["public"] is False and playlist["owner"]["id"] == "crate-dj"
    assert playlist["items"]["total"] == 0 and "tracks" not in playlist
    pid = playlist["id"]
    default_public = http.post(api + "me/playlists", json={"name": "P"}, headers=bearer(token))
    assert default_public.json()["public"] is True  # Spotify's default

    uris = [f"spotify:track:{spotify_id(f'u{i}')}" for i in range(130)]
    too_many = http.put(f"{api}playlists/{pid}/items", json={"uris": uris}, headers=bearer(token))
    assert too_many.status_code == 400
    put = http.put(f"{api}playlists/{pid}/items", json={"uris": uris[:100]}, headers=bearer(token))
    assert put.status_code == 200 and put.json()["snapshot_id"]
    post = http.post(
        f"{api}playlists/{pid}/items",
        json={"uris": uris[100:], "position": 100},
        headers=bearer(token),
    )
    assert post.status_code == 201 and post.json()["snapshot_id"] != put.json()["snapshot_id"]
    assert fake.accounts.playlist(pid).uris == uris
    assert http.get(f"{api}playlists/{pid}/tracks", headers=bearer(token)).status_code == 403
    assert (
        http.post(
            f"{api}playlists/{pid}/tracks", json={"uris": uris[:1]}, headers=bearer(token)
        ).status_code
        == 403
    )

    page = http.get(
        f"{api}playlists/{pid}/items", params={"limit": 50, "offset": 100}, headers=bearer(token)
    ).json()
    assert page["total"] == 130 and page["next"] is None and len(page["items"]) == 30
    assert [i["item"]["uri"] for i in page["items"]] == uris[100:]
    assert (
        http.get(
            f"{api}playlists/{pid}/items", params={"limit": 51}, headers=bearer(token)
        ).status_code
        == 400
    )

    fake.accounts.delete_playlist(pid)
    assert http.get(f"{api}playlists/{pid}", headers=bearer(token)).status_code == 404
    assert (
        http.put(
            f"{api}playlists/{pid}/items", json={"uris": []}, headers=bearer(token)
        ).status_code
        == 404
    )


def test_tokens_expire_and_faults_can_aim_at_one_path(
    fake: FakeSpotify, http: httpx.Client
) -> None:
    token = login(http, fake)["access_token"]
    api = fake.api_url
    fake.rate_limit_next(1, retry_after="7", path="/v1/playlists/*/items", method="POST")
    assert http.get(api + "me", headers=bearer(token)).status_code == 200  # not aimed at /me
    pid = http.post(
        api + "me/playlists", json={"name": "x", "public": False}, headers=bearer(token)
    ).json()["id"]
    limited = http.post(f"{api}playlists/{pid}/items", json={"uris": []}, headers=bearer(token))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert (
        http.post(
            f"{api}playlists/{pid}/items", json={"uris": []}, headers=bearer(token)
        ).status_code
        == 201
    )
    # A client-credentials token cannot act for a user.
    app_token = http.post(
        fake.token_url,
        data={"grant_type": "client_credentials"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    ).json()["access_token"]
    assert http.get(api + "me", headers=bearer(app_token)).status_code == 401
    fake.accounts.expire_access_tokens()
    expired = http.get(api + "me", headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    counts = fake.request_counts("/v1/playlists/*")
    assert counts[f"POST /v1/playlists/{pid}/items"] == 2


def test_scopes_and_owners_are_enforced(fake: FakeSpotify, http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(64)
    code = answer(
        authorize(http, fake, code_challenge=s256(verifier), scope="playlist-modify-public")
    )["code"]
    token = http.post(
        fake.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": DEFAULT_CLIENT_ID,
            "code_verifier": verifier,
        },
    ).json()["access_token"]
    private = http.post(
        fake.api_url + "me/playlists", json={"name": "x", "public": False}, headers=bearer(token)
    )
    assert private.status_code == 403
    fake.accounts.add_user("other", "Someone Else")
    fake.accounts.current_user = "other"
    other = login(http, fake)["access_token"]
    mine = http.post(
        fake.api_url + "me/playlists", json={"name": "y"}, headers=bearer(token)
    ).json()["id"]
    refused = http.put(
        f"{fake.api_url}playlists/{mine}/items", json={"uris": []}, headers=bearer(other)
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].startswith("You cannot add tracks")
