"""The user side of the fake Spotify: logging in, and the current user's playlists.

As Spotify behaves for a Development-Mode app in 2026 (Spotify's Web API reference, its
"February 2026 Web API Dev Mode Changes" migration guide, summarised in
shared/docs/external-services.md):

* `GET /authorize` (authorization code, PKCE with S256): the redirect URI must be one
  registered for the app; plain http only on the loopback IP literals 127.0.0.1 and
  [::1], whose port may differ from the registered one; `localhost` is refused. A user
  who already agreed is sent straight back (`consent = "auto"`), or sees a small page
  with Agree and Cancel (`"page"`), or refuses (`"deny"`: `error=access_denied`).
* `POST /api/token`: `authorization_code` (the code once, the same redirect URI, the
  `code_verifier` whose S256 digest is the challenge; no client secret needed with
  PKCE) and `refresh_token`, whose answer carries a NEW refresh token and makes the old
  one unusable (`rotate_refresh_tokens`); a revoked login answers 400 `invalid_grant`.
* `GET /v1/me`; `POST /v1/me/playlists` (201; `public` defaults to true as on Spotify,
  so only an explicit `false` makes a private playlist; the scope must allow it);
  `GET /v1/me/playlists`; `GET/PUT /v1/playlists/{id}` (404 once the user deleted it);
  `GET/PUT/POST/DELETE /v1/playlists/{id}/items` (at most 100 URIs a request, items
  wrapped as `{"item": …}`); `DELETE /v1/playlists/{id}/followers` (how a user deletes).
* `/v1/users/{id}/playlists` and `/v1/playlists/{id}/tracks` answer 403, as they do for
  Development-Mode apps.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:
    from tests.fakes.spotify import FakeSpotify

SPOTIFY_API = "https://api.spotify.com/v1"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/spotify/callback"
DEFAULT_USER_ID = "crate-dj"
DEFAULT_DISPLAY_NAME = "DJ Fake"
MAX_URIS = 100
CODE_LIFETIME = 600.0
SCOPES = frozenset(
    {
        "playlist-read-private",
        "playlist-read-collaborative",
        "playlist-modify-private",
        "playlist-modify-public",
        "user-read-private",
        "user-read-email",
        "user-library-read",
        "user-library-modify",
    }
)
_URI = re.compile(r"^spotify:(track|episode):[0-9A-Za-z]{22}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_PLAYLIST_PATH = re.compile(r"^/v1/playlists/([^/]+)(/[a-z]+)?$")
_USERS_PLAYLISTS = re.compile(r"^/v1/users/[^/]+/playlists(/.*)?$")

Consent = Literal["auto", "page", "deny"]
Answer = tuple[int, dict[str, str], Any]


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier: base64url(sha256(verifier)), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _error(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": {"status": status, "message": message}}


def _oauth_error(error: str, description: str) -> tuple[int, Any]:
    return 400, {"error": error, "error_description": description}


class _Refused(Exception):
    """A request answered with a Web API error instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.answer = _error(status, message)


@dataclass(slots=True)
class User:
    """A Spotify account that can log in to the app."""

    id: str
    display_name: str
    # Development Mode: only users allow-listed in the app's dashboard may use it.
    registered: bool = True

    def public(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "external_urls": {"spotify": f"https://open.spotify.com/user/{self.id}"},
            "href": f"{SPOTIFY_API}/users/{self.id}",
            "id": self.id,
            "type": "user",
            "uri": f"spotify:user:{self.id}",
        }


@dataclass(frozen=True, slots=True)
class Grant:
    """What a user allowed the app: whose account, which scopes."""

    user_id: str
    scopes: frozenset[str]


@dataclass(slots=True)
class PendingCode:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    expires: float


@dataclass(slots=True)
class Playlist:
    """A playlist as the fake keeps it (URIs in order)."""

    id: str
    owner: str
    name: str
    description: str
    public: bool
    collaborative: bool = False
    uris: list[str] = field(default_factory=list)
    added_at: list[str] = field(default_factory=list)
    version: int = 1
    deleted: bool = False

    @property
    def snapshot_id(self) -> str:
        return base64.b64encode(f"{self.version}:{self.id}".encode()).decode()

    def changed(self) -> str:
        self.version += 1
        return self.snapshot_id


def redirect_allowed(uri: str, registered: list[str]) -> bool:
    """Spotify's rule: exactly a registered URI; http only on a loopback IP literal, whose
    port may vary; never `localhost`."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    if parts.fragment:
        return False
    if parts.scheme == "https":
        return uri in registered
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1"):
        return False
    for known in registered:
        theirs = urlsplit(known)
        if (theirs.scheme, theirs.hostname, theirs.path, theirs.query) == (
            "http",
            parts.hostname,
            parts.path,
            parts.query,
        ):
            return True
    return False


class SpotifyAccounts:
    """Logins and playlists of the fake Spotify (see the module docstring)."""

    def __init__(self, fake: FakeSpotify) -> None:
        self._fake = fake
        self._lock = threading.Lock()
        self.redirect_uris: list[str] = [DEFAULT_REDIRECT_URI]
        self.consent: Consent = "auto"
        self.rotate_refresh_tokens = True
        self.user_token_ttl = 3600
        self.users: dict[str, User] = {}
        self.current_user = DEFAULT_USER_ID  # who logs in at /authorize
        self._codes: dict[str, PendingCode] = {}
        self._pending: dict[str, dict[str, str]] = {}  # consent pages shown, by request id
        self._access: dict[str, Grant] = {}  # user access token -> grant
        self._refresh: dict[str, Grant] = {}  # usable refresh tokens
        self._used_refresh: dict[str, str] = {}  # refresh token -> why it no longer works
        self._playlists: dict[str, Playlist] = {}
        self._issued: list[str] = []  # every code and token ever handed out
        self.add_user(DEFAULT_USER_ID, DEFAULT_DISPLAY_NAME)

    # ------------------------------------------------------------ test knobs

    def add_user(self, user_id: str, display_name: str, *, registered: bool = True) -> User:
        """An account that can log in (`current_user` picks who does)."""
        user = User(user_id, display_name, registered)
        with self._lock:
            self.users[user_id] = user
        return user

    def revoke(self, user_id: str | None = None) -> None:
        """The user removed the app's access: its tokens stop working (refresh: invalid_grant)."""
        with self._lock:
            for token, grant in list(self._refresh.items()):
                if user_id is None or grant.user_id == user_id:
                    del self._refresh[token]
                    self._used_refresh[token] = "Refresh token revoked"
            for token, grant in list(self._access.items()):
                if user_id is None or grant.user_id == user_id:
                    del self._access[token]
                    self._fake._forget_token(token)

    def expire_access_tokens(self) -> None:
        """Every user access token issued so far has expired (401 "The access token expired")."""
        with self._lock:
            tokens = list(self._access)
        self._fake._expire(tokens)

    def delete_playlist(self, playlist_id: str) -> None:
        """The user deleted the playlist in Spotify (it answers 404 from now on)."""
        with self._lock:
            self._playlists[playlist_id].deleted = True

    def playlist(self, playlist_id: str) -> Playlist:
        """A copy of a playlist (deleted ones too)."""
        with self._lock:
            return copy.deepcopy(self._playlists[playlist_id])

    def playlists(self, *, owner: str | None = None) -> list[Playlist]:
        """Copies of the playlists not deleted, oldest first."""
        with self._lock:
            return [
                copy.deepcopy(p)
                for p in self._playlists.values()
                if not p.deleted and (owner is None or p.owner == owner)
            ]

    @property
    def refresh_tokens(self) -> list[str]:
        """Refresh tokens issued (usable or not): what no page or log may show."""
        with self._lock:
            return [*self._refresh, *self._used_refresh]

    @property
    def access_tokens(self) -> list[str]:
        """User access tokens issued and not revoked."""
        with self._lock:
            return list(self._access)

    @property
    def issued(self) -> list[str]:
        """Every authorization code, access and refresh token handed out so far."""
        with self._lock:
            return list(self._issued)

    @property
    def codes(self) -> list[str]:
        """Authorization codes issued and not yet used."""
        with self._lock:
            return list(self._codes)

    # ------------------------------------------------------------ /authorize

    def authorize(self, method: str, query: dict[str, list[str]], body: bytes) -> Answer:
        """GET: the login request; POST: the consent page's answer."""
        if method == "POST":
            form = parse_qs(body.decode("utf-8", "replace"))
            request_id = (form.get("request") or [""])[0]
            with self._lock:
                params = self._pending.pop(request_id, None)
            if params is None:
                return 400, {}, _page("Oops! Something went wrong", "This request has expired.")
            if (form.get("decision") or [""])[0] != "accept":
                return self._back(params, {"error": "access_denied"})
            return self._back(params, {"code": self._new_code(params)})
        if method != "GET":
            return 405, {}, _page("Method not allowed", "GET only.")
        params = {k: v[0] for k, v in query.items() if v}
        if params.get("client_id") != self._fake.client_id:
            return 400, {}, _page("INVALID_CLIENT", "INVALID_CLIENT: Invalid client")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_allowed(redirect_uri, self.redirect_uris):
            return 400, {}, _page("INVALID_CLIENT", "INVALID_CLIENT: Invalid redirect URI")
        if params.get("response_type") != "code":
            return self._back(params, {"error": "unsupported_response_type"})
        method_name = params.get("code_challenge_method")
        challenge = params.get("code_challenge")
        if challenge is not None and (method_name != "S256" or not _CHALLENGE.match(challenge)):
            return self._back(
                params,
                {"error": "invalid_request", "error_description": "code_challenge_method"},
            )
        scopes = set((params.get("scope") or "").split())
        if not scopes <= SCOPES:
            return self._back(params, {"error": "invalid_scope"})
        if self.consent == "deny":
            return self._back(params, {"error": "access_denied"})
        if self.consent == "page":
            request_id = secrets.token_urlsafe(12)
            with self._lock:
                self._pending[request_id] = params
            user = self.users[self.current_user]
            return (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                _consent_page(request_id, user.display_name, sorted(scopes)),
            )
        return self._back(params, {"code": self._new_code(params)})

    def _new_code(self, params: dict[str, str]) -> str:
        code = "AQ" + secrets.token_urlsafe(48)
        grant = Grant(self.current_user, frozenset((params.get("scope") or "").split()))
        with self._lock:
            self._issued.append(code)
            self._codes[code] = PendingCode(
                grant,
                params["redirect_uri"],
                params.get("code_challenge"),
                time.monotonic() + CODE_LIFETIME,
            )
        return code

    @staticmethod
    def _back(params: dict[str, str], answer: dict[str, str]) -> Answer:
        if "state" in params:
            answer = {**answer, "state": params["state"]}
        target = params["redirect_uri"] + ("&" if "?" in params["redirect_uri"] else "?")
        return 302, {"Location": target + urlencode(answer)}, None

    # ------------------------------------------------------------ /api/token

    def token(self, authorization: str, form: dict[str, list[str]]) -> tuple[int, Any]:
        """The user grants: authorization_code and refresh_token."""
        values = {k: v[0] for k, v in form.items() if v}
        grant_type = values.get("grant_type")
        client_id = self._client(authorization, values)
        if client_id is None:
            return _oauth_error("invalid_client", "Invalid client")
        with_secret = authorization.startswith("Basic ")
        if grant_type == "authorization_code":
            return self._exchange(values, with_secret)
        return self._refresh_grant(values)

    def _client(self, authorization: str, values: dict[str, str]) -> str | None:
        fake = self._fake
        if authorization.startswith("Basic "):
            pair = f"{fake.client_id}:{fake.client_secret}".encode()
            if authorization == "Basic " + base64.b64encode(pair).decode():
                return fake.client_id
            return None
        return fake.client_id if values.get("client_id") == fake.client_id else None

    def _exchange(self, values: dict[str, str], with_secret: bool) -> tuple[int, Any]:
        with self._lock:
            pending = self._codes.pop(values.get("code", ""), None)
        if pending is None or pending.expires < time.monotonic():
            return _oauth_error("invalid_grant", "Invalid authorization code")
        if values.get("redirect_uri") != pending.redirect_uri:
            return _oauth_error("invalid_grant", "Invalid redirect URI")
        if pending.challenge is not None:
            verifier = values.get("code_verifier")
            if verifier is None:
                return _oauth_error("invalid_request", "code_verifier required")
            if not _VERIFIER.match(verifier) or s256(verifier) != pending.challenge:
                return _oauth_error("invalid_grant", "code_verifier was incorrect")
        elif not with_secret:
            # Without PKCE the app must prove itself with its secret.
            return _oauth_error("invalid_client", "Invalid client")
        return 200, self._issue(pending.grant, with_refresh=True)

    def _refresh_grant(self, values: dict[str, str]) -> tuple[int, Any]:
        token = values.get("refresh_token", "")
        with self._lock:
            grant = self._refresh.get(token)
            reason = self._used_refresh.get(token)
            if grant is not None and self.rotate_refresh_tokens:
                del self._refresh[token]
                self._used_refresh[token] = "Invalid refresh token"
        if grant is None:
            return _oauth_error("invalid_grant", reason or "Invalid refresh token")
        return 200, self._issue(grant, with_refresh=self.rotate_refresh_tokens)

    def _issue(self, grant: Grant, *, with_refresh: bool) -> dict[str, Any]:
        access = "BQ" + secrets.token_urlsafe(60)
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": " ".join(sorted(grant.scopes)),
            "expires_in": self.user_token_ttl,
        }
        with self._lock:
            self._access[access] = grant
            self._issued.append(access)
            if with_refresh:
                refresh = "AQ" + secrets.token_urlsafe(96)
                self._refresh[refresh] = grant
                self._issued.append(refresh)
                answer["refresh_token"] = refresh
        self._fake._remember_token(access, self.user_token_ttl)
        return answer

    # ------------------------------------------------------------ /v1 (user endpoints)

    def handles(self, path: str) -> bool:
        """True for the paths answered here."""
        return (
            path in ("/v1/me", "/v1/me/playlists")
            or path.startswith("/v1/playlists/")
            or bool(_USERS_PLAYLISTS.match(path))
        )

    def api(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, token: str
    ) -> tuple[int, Any]:
        """A user endpoint, called with a valid (unexpired) access token."""
        if _USERS_PLAYLISTS.match(path):
            # Gone for Development-Mode apps (February 2026): only /me/playlists creates.
            return _error(403, "Forbidden")
        match = _PLAYLIST_PATH.match(path)
        if match and match.group(2) == "/tracks":
            return _error(403, "Forbidden")  # moved to /items for Development-Mode apps
        with self._lock:
            grant = self._access.get(token)
        if grant is None:
            return _error(401, "Valid user authentication required")
        user = self.users[grant.user_id]
        if not user.registered:
            return _error(
                403,
                "Check settings on developer.spotify.com/dashboard, the user may not be "
                "registered.",
            )
        try:
            payload = _json(body)
        except ValueError:
            return _error(400, "Error parsing JSON.")
        if path == "/v1/me":
            return (200, user.public()) if method == "GET" else _error(405, "Method not allowed")
        if path == "/v1/me/playlists":
            if method == "POST":
                return self._create(grant, payload)
            if method == "GET":
                return self._list(grant, query)
            return _error(405, "Method not allowed")
        if match is None:
            return _error(404, "Service not found")
        return self._playlist_call(method, match.group(1), match.group(2), grant, query, payload)

    def _create(self, grant: Grant, payload: dict[str, Any]) -> tuple[int, Any]:
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip():
            return _error(400, "Missing required field: name")
        public = payload.get("public", True) is not False
        scope = "playlist-modify-public" if public else "playlist-modify-private"
        if scope not in grant.scopes:
            return _error(403, "Insufficient client scope")
        playlist = Playlist(
            id="".join(secrets.choice(_BASE62) for _ in range(22)),
            owner=grant.user_id,
            name=name,
            description=str(payload.get("description") or ""),
            public=public,
            collaborative=payload.get("collaborative") is True,
        )
        with self._lock:
            self._playlists[playlist.id] = playlist
            return 201, self._serve(playlist)

    def _list(self, grant: Grant, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            limit, offset = _paging(query, maximum=50, default=20)
        except _Refused as refused:
            return refused.answer
        mine = self.playlists(owner=grant.user_id)
        with self._lock:
            items = [self._serve(p, with_items=False) for p in mine[offset : offset + limit]]
        return 200, self._page(f"{SPOTIFY_API}/me/playlists", items, limit, offset, len(mine))

    def _playlist_call(
        self,
        method: str,
        playlist_id: str,
        sub: str | None,
        grant: Grant,
        query: dict[str, list[str]],
        payload: dict[str, Any],
    ) -> tuple[int, Any]:
        with self._lock:
            playlist = self._playlists.get(playlist_id)
            if playlist is None or playlist.deleted:
                return _error(404, "Resource not found")
            if sub is None:
                if method == "GET":
                    return 200, self._serve(playlist)
                if method == "PUT":
                    return self._details(playlist, grant, payload)
                return _error(405, "Method not allowed")
            if sub == "/followers":
                if method != "DELETE":
                    return _error(405, "Method not allowed")
                if playlist.owner == grant.user_id:
                    playlist.deleted = True
                return 200, None
            if sub != "/items":
                return _error(404, "Service not found")
            if method == "GET":
                return self._items_page(playlist, query)
            refused = self._may_modify(playlist, grant)
            if refused is not None:
                return refused
            return self._change_items(method, playlist, query, payload)

    def _may_modify(self, playlist: Playlist, grant: Grant) -> tuple[int, Any] | None:
        if playlist.owner != grant.user_id and not playlist.collaborative:
            return _error(403, "You cannot add tracks to a playlist you don't own.")
        scope = "playlist-modify-public" if playlist.public else "playlist-modify-private"
        if scope not in grant.scopes:
            return _error(403, "Insufficient client scope")
        return None

    def _details(
        self, playlist: Playlist, grant: Grant, payload: dict[str, Any]
    ) -> tuple[int, Any]:
        refused = self._may_modify(playlist, grant)
        if refused is not None:
            return refused
        if isinstance(payload.get("name"), str) and payload["name"].strip():
            playlist.name = payload["name"]
        if isinstance(payload.get("description"), str):
            playlist.description = payload["description"]
        if isinstance(payload.get("public"), bool):
            playlist.public = payload["public"]
        playlist.changed()
        return 200, None

    def _change_items(
        self,
        method: str,
        playlist: Playlist,
        query: dict[str, list[str]],
        payload: dict[str, Any],
    ) -> tuple[int, Any]:
        if method == "DELETE":
            listed = payload.get("items") or payload.get("tracks") or []
            gone = {i.get("uri") for i in listed if isinstance(i, dict)}
            kept = [(u, a) for u, a in zip(playlist.uris, playlist.added_at, strict=True)]
            kept = [(u, a) for u, a in kept if u not in gone]
            playlist.uris = [u for u, _ in kept]
            playlist.added_at = [a for _, a in kept]
            return 200, {"snapshot_id": playlist.changed()}
        uris = payload.get("uris")
        if uris is None and query.get("uris"):
            uris = [u for u in query["uris"][0].split(",") if u]
        if method not in ("PUT", "POST"):
            return _error(405, "Method not allowed")
        if not isinstance(uris, list):
            return _error(400, "No uris provided")
        if len(uris) > MAX_URIS:
            return _error(400, "You can add a maximum of 100 tracks per request.")
        for uri in uris:
            if not isinstance(uri, str) or not _URI.match(uri):
                return _error(400, f"Invalid track uri: {uri}")
        moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if method == "PUT":
            playlist.uris = list(uris)
            playlist.added_at = [moment] * len(uris)
            return 200, {"snapshot_id": playlist.changed()}
        position = payload.get("position")
        if position is None and query.get("position"):
            position = query["position"][0]
        at = len(playlist.uris)
        if position is not None:
            try:
                at = int(position)
            except (TypeError, ValueError):
                return _error(400, "Invalid position")
            if not 0 <= at <= len(playlist.uris):
                return _error(400, "Index out of bounds")
        playlist.uris[at:at] = uris
        playlist.added_at[at:at] = [moment] * len(uris)
        return 201, {"snapshot_id": playlist.changed()}

    def _items_page(self, playlist: Playlist, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            limit, offset = _paging(query, maximum=50, default=20)
        except _Refused as refused:
            return refused.answer
        items = [
            self._item(uri, added, playlist.owner)
            for uri, added in zip(
                playlist.uris[offset : offset + limit],
                playlist.added_at[offset : offset + limit],
                strict=True,
            )
        ]
        href = f"{SPOTIFY_API}/playlists/{playlist.id}/items"
        return 200, self._page(href, items, limit, offset, len(playlist.uris))

    # ------------------------------------------------------------ shapes

    def _serve(self, playlist: Playlist, *, with_items: bool = True) -> dict[str, Any]:
        owner = self.users.get(playlist.owner) or User(playlist.owner, playlist.owner)
        href = f"{SPOTIFY_API}/playlists/{playlist.id}"
        if with_items:
            first = [
                self._item(u, a, playlist.owner)
                for u, a in zip(playlist.uris[:100], playlist.added_at[:100], strict=True)
            ]
            items = self._page(f"{href}/items", first, 100, 0, len(playlist.uris))
        else:
            items = {"href": f"{href}/items", "total": len(playlist.uris)}
        return {
            "collaborative": playlist.collaborative,
            "description": playlist.description,
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{playlist.id}"},
            "href": href,
            "id": playlist.id,
            "images": [],
            "name": playlist.name,
            "owner": owner.public(),
            "public": playlist.public,
            "snapshot_id": playlist.snapshot_id,
            "items": items,
            "type": "playlist",
            "uri": f"spotify:playlist:{playlist.id}",
        }

    def _item(self, uri: str, added_at: str, added_by: str) -> dict[str, Any]:
        kind, item_id = uri.split(":")[1:]
        track = self._fake._catalogue_track(item_id) if kind == "track" else None
        if track is None:
            track = {
                "id": item_id,
                "name": "",
                "type": kind,
                "uri": uri,
                "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{item_id}"},
            }
        owner = self.users.get(added_by) or User(added_by, added_by)
        by = {k: v for k, v in owner.public().items() if k != "display_name"}
        return {"added_at": added_at, "added_by": by, "is_local": False, "item": track}

    @staticmethod
    def _page(
        href: str, items: list[dict[str, Any]], limit: int, offset: int, total: int
    ) -> dict[str, Any]:
        def link(at: int) -> str:
            return f"{href}?{urlencode({'offset': at, 'limit': limit})}"

        return {
            "href": link(offset),
            "items": items,
            "limit": limit,
            "next": link(offset + limit) if offset + limit < total else None,
            "offset": offset,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "total": total,
        }


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def _paging(query: dict[str, list[str]], *, maximum: int, default: int) -> tuple[int, int]:
    try:
        limit = int((query.get("limit") or [str(default)])[0])
        offset = int((query.get("offset") or ["0"])[0])
    except ValueError:
        raise _Refused(400, "Invalid limit") from None
    if not 1 <= limit <= maximum:
        raise _Refused(400, "Invalid limit")
    if offset < 0:
        raise _Refused(400, "Invalid offset")
    return limit, offset


def _page(title: str, text: str) -> str:
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )


def _consent_page(request_id: str, display_name: str, scopes: list[str]) -> str:
    listed = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
    return (
        "<!doctype html><html><head><title>Spotify – Authorize</title></head><body>"
        f"<h1>Log in as {html.escape(display_name)}</h1><p>Crate asks to:</p><ul>{listed}</ul>"
        '<form method="post" action="/authorize">'
        f'<input type="hidden" name="request" value="{html.escape(request_id)}">'
        '<button type="submit" name="decision" value="accept" id="agree">Agree</button> '
        '<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>'
        "</form></body></html>"
    )
