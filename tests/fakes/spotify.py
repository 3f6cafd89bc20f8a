"""A fake Spotify Web API over real HTTP, shaped like the saved real responses.

Serves the client-credentials token endpoint and the few Web API endpoints Crate
uses, behaving like a Development-Mode app in 2026 unless `extended_quota` is on:
search `limit` above 10 is refused, `GET /v1/tracks?ids=` and audio features answer
403, track objects carry no `popularity`/`available_markets`. Tests fill the
catalogue, inject 429s/5xx/slow answers (to every request, or to one path pattern),
expire tokens, and read the request log.

The user side (log in with PKCE at `/authorize`, refresh tokens, `/me`, the current
user's playlists) lives in `tests.fakes.spotify_accounts`, reached as `fake.accounts`.

Run standalone: `python -m tests.fakes.spotify --port 8765 --seed`.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from unidecode import unidecode

from tests.fakes.spotify_accounts import SpotifyAccounts

DEFAULT_CLIENT_ID = "fake-client-id"
DEFAULT_CLIENT_SECRET = "fake-client-secret"
SPOTIFY_API = "https://api.spotify.com/v1"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_MARKETS = ["AD", "AR", "AT", "AU", "BE", "DE", "ES", "FR", "GB", "JP", "NL", "SE", "US"]
_UNSET: Any = object()

Target = Literal["api", "token", "any"]


def spotify_id(seed: str) -> str:
    """A stable 22-character base62 id derived from `seed` (the shape real ids have)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def _words(text: str) -> list[str]:
    # Spotify's search ignores case, accents and apostrophes ("Don't" finds "Dont").
    folded = re.sub(r"['`]", "", unidecode(text).lower())
    return re.sub(r"[^a-z0-9]+", " ", folded).split()


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    at: float

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(slots=True)
class Fault:
    """An answer forced on the next matching requests instead of the real one."""

    status: int | None  # None: answer normally, after `delay`
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # dict → JSON; str → as is; None → no body
    delay: float = 0.0
    target: Target = "api"
    # Only requests whose path matches this pattern (`*` for any part, e.g.
    # "/v1/playlists/*/items"), and with this method when given.
    path: str | None = None
    method: str | None = None
    # The request is carried out first, then its answer replaced (a change Spotify made
    # whose answer was lost on the way).
    applied: bool = False

    def fits(self, method: str, path: str) -> bool:
        """True when this path-bound fault applies to the request."""
        return (
            self.path is not None
            and fnmatchcase(path, self.path)
            and (self.method is None or self.method == method)
        )


class FakeSpotify:
    """A Spotify Web API stand-in on 127.0.0.1 with a catalogue, faults and a request log."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        extended_quota: bool = False,
        token_ttl: int = 3600,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.extended_quota = extended_quota
        self.token_ttl = token_ttl
        self.delay = 0.0  # seconds added to every Web API answer
        self._lock = threading.Lock()
        self._tracks: dict[str, dict[str, Any]] = {}
        self._features: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self._faults: deque[Fault] = deque()
        self._path_faults: list[Fault] = []
        self._log: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.accounts = SpotifyAccounts(self)

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """What SPOTIFY_API_URL should be set to."""
        return f"{self.url}/v1/"

    @property
    def token_url(self) -> str:
        """What SPOTIFY_TOKEN_URL should be set to."""
        return f"{self.url}/api/token"

    @property
    def auth_url(self) -> str:
        """What SPOTIFY_AUTH_URL should be set to."""
        return f"{self.url}/authorize"

    def start(self) -> FakeSpotify:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            # A short poll interval keeps stop() (and each test's teardown) quick.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="fake-spotify",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread (the command-line entry point)."""
        self._server.serve_forever()

    def __enter__(self) -> FakeSpotify:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ catalogue

    def add_track(
        self,
        name: str,
        artists: Sequence[str],
        *,
        id: str | None = None,
        album: str | None = None,
        album_id: str | None = None,
        album_type: str = "single",
        album_artists: Sequence[str] | None = None,
        release_date: str = "2024-01-01",
        release_date_precision: str | None = None,
        total_tracks: int = 1,
        track_number: int = 1,
        duration_ms: int = 200_000,
        isrc: str | None = None,
        popularity: int = 50,
        preview_url: str | None = None,
        explicit: bool = False,
        audio_features: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a track; returns the full (extended-quota) track object Spotify would send."""
        track_id = id or spotify_id(f"track:{name}:{','.join(artists)}:{album}:{len(self._tracks)}")
        album_name = album if album is not None else name
        the_album_id = album_id or spotify_id(f"album:{album_name}:{release_date}:{album_type}")
        precision = release_date_precision or {4: "year", 7: "month"}.get(len(release_date), "day")
        image = hashlib.sha1(the_album_id.encode()).hexdigest()[:24]
        obj: dict[str, Any] = {
            "album": {
                "album_type": album_type,
                "artists": [_artist(n) for n in (album_artists or artists)],
                "available_markets": list(_MARKETS),
                "external_urls": {"spotify": f"https://open.spotify.com/album/{the_album_id}"},
                "href": f"{SPOTIFY_API}/albums/{the_album_id}",
                "id": the_album_id,
                "images": [
                    {
                        "url": f"https://i.scdn.co/image/ab67616d0000b273{image}",
                        "width": 640,
                        "height": 640,
                    },
                    {
                        "url": f"https://i.scdn.co/image/ab67616d00001e02{image}",
                        "width": 300,
                        "height": 300,
                    },
                    {
                        "url": f"https://i.scdn.co/image/ab67616d00004851{image}",
                        "width": 64,
                        "height": 64,
                    },
                ],
                "name": album_name,
                "release_date": release_date,
                "release_date_precision": precision,
                "total_tracks": total_tracks,
                "type": "album",
                "uri": f"spotify:album:{the_album_id}",
            },
            "artists": [_artist(n) for n in artists],
            "available_markets": list(_MARKETS),
            "disc_number": 1,
            "duration_ms": duration_ms,
            "explicit": explicit,
            "external_ids": {"isrc": isrc} if isrc else {},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
            "href": f"{SPOTIFY_API}/tracks/{track_id}",
            "id": track_id,
            "is_local": False,
            "name": name,
            "popularity": popularity,
            "preview_url": preview_url,
            "track_number": track_number,
            "type": "track",
            "uri": f"spotify:track:{track_id}",
        }
        self.add_raw_track(obj, audio_features=audio_features)
        return copy.deepcopy(obj)

    def add_raw_track(
        self, obj: Mapping[str, Any], *, audio_features: Mapping[str, Any] | None = None
    ) -> None:
        """Add a track object exactly as given (e.g. one item of a saved real response)."""
        track = copy.deepcopy(dict(obj))
        features = dict(audio_features) if audio_features else _features_for(track)
        with self._lock:
            self._tracks[str(track["id"])] = track
            self._features[str(track["id"])] = features

    def clear(self) -> None:
        """Empty the catalogue (faults, tokens and the log are kept)."""
        with self._lock:
            self._tracks.clear()
            self._features.clear()

    # ------------------------------------------------------------ faults

    def fail_next(
        self,
        count: int = 1,
        status: int | None = 500,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = _UNSET,
        delay: float = 0.0,
        target: Target = "api",
        path: str | None = None,
        method: str | None = None,
        applied: bool = False,
    ) -> None:
        """Answer the next `count` requests to `target` with `status` (None: real answer).

        With `path` (a pattern such as "/v1/playlists/*/items"), only requests to a
        matching path (and `method`, when given) take these answers, whatever the target.
        With `applied`, the request is carried out first and only its answer replaced.
        """
        if body is _UNSET:
            body = (
                None
                if status is None
                else {"error": {"status": status, "message": _REASONS.get(status, "Error")}}
            )
        with self._lock:
            for _ in range(count):
                fault = Fault(
                    status,
                    dict(headers or {}),
                    body,
                    delay=delay,
                    target=target,
                    path=path,
                    method=method,
                    applied=applied,
                )
                if path is None:
                    self._faults.append(fault)
                else:
                    self._path_faults.append(fault)

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: str | None = "1",
        quota: bool = False,
        body: Any = _UNSET,
        target: Target = "api",
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer 429 with this Retry-After ("0", "3600", None = header missing)."""
        if body is _UNSET:
            body = (
                {
                    "error": {
                        "status": 429,
                        "message": "Too many requests",
                        "reason": "QUOTA_EXCEEDED",
                    }
                }
                if quota
                else {"error": {"status": 429, "message": "API rate limit exceeded"}}
            )
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        self.fail_next(
            count, 429, headers=headers, body=body, target=target, path=path, method=method
        )

    def server_error_next(
        self, count: int = 1, status: int = 500, *, target: Target = "api"
    ) -> None:
        """Answer 5xx to the next `count` requests."""
        self.fail_next(count, status, target=target)

    def slow_next(self, count: int = 1, seconds: float = 2.0, *, target: Target = "api") -> None:
        """Answer the next `count` requests normally, but only after `seconds`."""
        self.fail_next(count, None, delay=seconds, target=target)

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (the next API call gets 401)."""
        with self._lock:
            self._tokens.clear()

    def _remember_token(self, token: str, ttl: float) -> None:
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl

    def _forget_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def _expire(self, tokens: Sequence[str]) -> None:
        with self._lock:
            for token in tokens:
                if token in self._tokens:
                    self._tokens[token] = time.monotonic() - 1

    def _catalogue_track(self, track_id: str) -> dict[str, Any] | None:
        with self._lock:
            track = self._tracks.get(track_id)
        return None if track is None else self._serve_track(track)

    # ------------------------------------------------------------ log

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._log)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests whose path is `path` or starts with `path` when it ends with "/"."""
        return [
            r
            for r in self.requests
            if r.path == path or (path.endswith("/") and r.path.startswith(path))
        ]

    def request_counts(self, pattern: str = "*") -> Counter[str]:
        """How many requests each "METHOD /path" got, for paths matching `pattern`."""
        return Counter(
            f"{r.method} {r.path}" for r in self.requests if fnmatchcase(r.path, pattern)
        )

    def reset_log(self) -> None:
        """Forget the requests answered so far."""
        with self._lock:
            self._log.clear()

    # ------------------------------------------------------------ request handling

    def _take_fault(self, method: str, path: str) -> Fault | None:
        kind = "token" if path == "/api/token" else "api"
        with self._lock:
            for at, fault in enumerate(self._path_faults):
                if fault.fits(method, path):
                    return self._path_faults.pop(at)
            if path == "/authorize":
                return None  # the login page takes path-bound faults only
            if self._faults and self._faults[0].target in (kind, "any"):
                return self._faults.popleft()
        return None

    def _record(self, method: str, path: str, query: dict[str, list[str]], status: int) -> None:
        with self._lock:
            self._log.append(RecordedRequest(method, path, query, status, time.time()))

    def _issue_token(self, authorization: str, form: dict[str, list[str]]) -> tuple[int, Any]:
        if (form.get("grant_type") or [""])[0] != "client_credentials":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "grant_type parameter is missing",
            }
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 400, {"error": "invalid_client", "error_description": "Invalid client"}
        token = "BQ" + secrets.token_urlsafe(40)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}

    def _check_bearer(self, authorization: str) -> tuple[int, Any] | None:
        if not authorization.startswith("Bearer "):
            return 401, {"error": {"status": 401, "message": "No token provided"}}
        token = authorization.removeprefix("Bearer ")
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            return 401, {"error": {"status": 401, "message": "Invalid access token"}}
        if expiry < time.monotonic():
            return 401, {"error": {"status": 401, "message": "The access token expired"}}
        return None

    def _api(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        path = path.rstrip("/")
        if path == "/v1/search":
            return self._search(query)
        if path == "/v1/tracks":
            return self._several_tracks(query)
        if path.startswith("/v1/tracks/"):
            return self._one_track(path.removeprefix("/v1/tracks/"))
        if path == "/v1/audio-features":
            return self._several_features(query)
        if path.startswith("/v1/audio-features/"):
            return self._one_feature(path.removeprefix("/v1/audio-features/"))
        return 404, {"error": {"status": 404, "message": "Service not found"}}

    def _serve_track(self, track: Mapping[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(dict(track))
        if not self.extended_quota:
            # Development-Mode apps lost these fields in February/March 2026.
            for key in ("popularity", "available_markets", "linked_from"):
                obj.pop(key, None)
            if isinstance(obj.get("album"), dict):
                obj["album"].pop("available_markets", None)
                obj["album"].pop("popularity", None)
        return obj

    def _search(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        q = (query.get("q") or query.get("query") or [""])[0]
        kind = (query.get("type") or [""])[0]
        if not q.strip():
            return 400, {"error": {"status": 400, "message": "No search query"}}
        if not kind:
            return 400, {"error": {"status": 400, "message": "Missing parameter type"}}
        if "track" not in kind.split(","):
            return 400, {"error": {"status": 400, "message": "Unsupported type"}}
        maximum = 50 if self.extended_quota else 10
        try:
            limit = int((query.get("limit") or ["5"])[0])
            offset = int((query.get("offset") or ["0"])[0])
        except ValueError:
            return 400, {"error": {"status": 400, "message": "Invalid limit"}}
        if not 0 <= limit <= maximum:
            return 400, {"error": {"status": 400, "message": "Invalid limit"}}
        if not 0 <= offset <= 1000:
            return 400, {"error": {"status": 400, "message": "Invalid offset"}}
        with self._lock:
            tracks = list(self._tracks.values())
        filters = parse_search_query(q)
        hits = [t for t in tracks if _matches(filters, t)]
        page = hits[offset : offset + limit]

        def link(at: int) -> str:
            params = {"offset": at, "limit": limit, "query": q, "type": kind}
            return f"{self.url}/v1/search?{urlencode(params, quote_via=quote)}"

        return 200, {
            "tracks": {
                "href": link(offset),
                "items": [self._serve_track(t) for t in page],
                "limit": limit,
                "next": link(offset + limit) if offset + limit < len(hits) else None,
                "offset": offset,
                "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "total": len(hits),
            }
        }

    def _several_tracks(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        if not self.extended_quota:
            # Removed for Development-Mode apps; body verbatim from spotify-to-plex PR #131.
            return 403, {"error": {"status": 403, "message": "Forbidden"}}
        ids = [i for i in (query.get("ids") or [""])[0].split(",") if i]
        if not ids:
            return 400, {"error": {"status": 400, "message": "invalid id"}}
        if len(ids) > 50:
            return 400, {"error": {"status": 400, "message": "Too many ids requested"}}
        with self._lock:
            found = [self._tracks.get(i) for i in ids]
        return 200, {"tracks": [self._serve_track(t) if t else None for t in found]}

    def _one_track(self, track_id: str) -> tuple[int, Any]:
        if not _BASE62_ID.match(track_id):
            return 400, {"error": {"status": 400, "message": "Invalid base62 id"}}
        with self._lock:
            track = self._tracks.get(track_id)
        if track is None:
            return 404, {"error": {"status": 404, "message": "Resource not found"}}
        return 200, self._serve_track(track)

    def _several_features(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        if not self.extended_quota:
            # Audio features are gone for new and Development-Mode apps since 2024-11-27.
            return 403, {"error": {"status": 403, "message": "Forbidden"}}
        ids = [i for i in (query.get("ids") or [""])[0].split(",") if i]
        if not ids:
            return 400, {"error": {"status": 400, "message": "invalid request"}}
        if len(ids) > 100:
            return 400, {"error": {"status": 400, "message": "Too many ids requested"}}
        with self._lock:
            found = [copy.deepcopy(self._features.get(i)) for i in ids]
        return 200, {"audio_features": found}

    def _one_feature(self, track_id: str) -> tuple[int, Any]:
        if not self.extended_quota:
            return 403, {"error": {"status": 403, "message": "Forbidden"}}
        with self._lock:
            features = copy.deepcopy(self._features.get(track_id))
        if features is None:
            return 404, {"error": {"status": 404, "message": "analysis not found"}}
        return 200, features


_REASONS = {
    400: "Bad request",
    401: "Invalid access token",
    403: "Forbidden",
    404: "Resource not found",
    429: "API rate limit exceeded",
    500: "Server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def _artist(name: str) -> dict[str, Any]:
    artist_id = spotify_id(f"artist:{name}")
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
        "href": f"{SPOTIFY_API}/artists/{artist_id}",
        "id": artist_id,
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def _features_for(track: Mapping[str, Any]) -> dict[str, Any]:
    """Deterministic audio features in the real shape (2016 sample, modern analysis_url)."""
    track_id = str(track["id"])
    digest = hashlib.sha256(track_id.encode()).digest()

    def unit(i: int) -> float:
        return round(digest[i] / 255, 3)

    return {
        "danceability": unit(0),
        "energy": unit(1),
        "key": digest[2] % 12,
        "loudness": round(-20 + digest[3] / 255 * 17, 3),
        "mode": digest[4] % 2,
        "speechiness": unit(5),
        "acousticness": unit(6),
        "instrumentalness": unit(7),
        "liveness": unit(8),
        "valence": unit(9),
        "tempo": round(118 + digest[10] / 255 * 12, 3),
        "type": "audio_features",
        "id": track_id,
        "uri": f"spotify:track:{track_id}",
        "track_href": f"{SPOTIFY_API}/tracks/{track_id}",
        "analysis_url": f"{SPOTIFY_API}/audio-analysis/{track_id}",
        "duration_ms": track.get("duration_ms"),
        "time_signature": 4,
    }


# ---------------------------------------------------------------- search syntax

_QUERY_TOKEN = re.compile(r'(\w+):"([^"]*)"|(\w+):(\S+)|"([^"]*)"|(\S+)')


def parse_search_query(q: str) -> dict[str, list[str]]:
    """Field filters and free words of a search `q` ("" holds the free words)."""
    fields: dict[str, list[str]] = {}
    for match in _QUERY_TOKEN.finditer(q):
        quoted_field, quoted_value, plain_field, plain_value, phrase, word = match.groups()
        key, value = (
            (quoted_field, quoted_value)
            if quoted_field
            else (plain_field, plain_value)
            if plain_field
            else ("", phrase if phrase is not None else word)
        )
        fields.setdefault(key.lower(), []).append(value)
    return fields


def _matches(query: Mapping[str, list[str]], track: Mapping[str, Any]) -> bool:
    """Every word of every filter appears in the field it names (accents and case folded)."""
    isrc = str((track.get("external_ids") or {}).get("isrc") or "").upper()
    name_words = set(_words(str(track.get("name", ""))))
    artist_words = {w for a in track.get("artists") or [] for w in _words(str(a.get("name", "")))}
    album = track.get("album") or {}
    album_words = set(_words(str(album.get("name", ""))))
    year = str(album.get("release_date", ""))[:4]
    for key, values in query.items():
        for value in values:
            words = set(_words(value))
            if key == "isrc":
                if value.strip().upper() != isrc:
                    return False
            elif key == "track":
                if not words <= name_words:
                    return False
            elif key == "artist":
                if not words <= artist_words:
                    return False
            elif key == "album":
                if not words <= album_words:
                    return False
            elif key == "year":
                if not value.startswith(year) or not year:
                    return False
            elif key in ("", "tag"):
                if not words <= name_words | artist_words | album_words:
                    return False
            else:
                return False  # a field Spotify has (genre, upc…) that tracks here never match
    return True


# ---------------------------------------------------------------- HTTP plumbing


def _handler_for(fake: FakeSpotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add
        # ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True
        server_version = "envoy"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._dispatch("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            authorization = self.headers.get("Authorization", "")
            status, headers, payload = self._answer(method, parts.path, query, body, authorization)
            fake._record(method, parts.path, query, status)
            self._send(status, headers, payload)

        def _answer(
            self,
            method: str,
            path: str,
            query: dict[str, list[str]],
            body: bytes,
            authorization: str,
        ) -> tuple[int, dict[str, str], Any]:
            fault = fake._take_fault(method, path)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.applied:
                    self._real_answer(method, path, query, body, authorization)
                if fault.status is not None:
                    return fault.status, fault.headers, fault.body
            return self._real_answer(method, path, query, body, authorization)

        def _real_answer(
            self,
            method: str,
            path: str,
            query: dict[str, list[str]],
            body: bytes,
            authorization: str,
        ) -> tuple[int, dict[str, str], Any]:
            if path == "/authorize":
                return fake.accounts.authorize(method, query, body)
            if path == "/api/token":
                if method != "POST":
                    return 405, {}, {"error": "invalid_request", "error_description": "POST only"}
                form = parse_qs(body.decode("utf-8", "replace"))
                if (form.get("grant_type") or [""])[0] in ("authorization_code", "refresh_token"):
                    status, payload = fake.accounts.token(authorization, form)
                else:
                    status, payload = fake._issue_token(authorization, form)
                return status, {}, payload
            if not path.startswith("/v1/"):
                return 404, {}, {"error": {"status": 404, "message": "Service not found"}}
            if fake.delay:
                time.sleep(fake.delay)
            refused = fake._check_bearer(authorization)
            if refused is not None:
                status, payload = refused
                return status, {"WWW-Authenticate": 'Bearer realm="spotify"'}, payload
            if fake.accounts.handles(path.rstrip("/")):
                token = authorization.removeprefix("Bearer ")
                status, payload = fake.accounts.api(method, path.rstrip("/"), query, body, token)
                return status, {}, payload
            if method != "GET":
                return 405, {}, {"error": {"status": 405, "message": "Method not allowed"}}
            status, payload = fake._api(path, query)
            return status, {}, payload

        def _send(self, status: int, headers: Mapping[str, str], payload: Any) -> None:
            if payload is None:
                data = b""
            elif isinstance(payload, bytes | str):
                data = payload.encode() if isinstance(payload, str) else payload
            else:
                data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                if data and not isinstance(payload, bytes | str):
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                elif data and "Content-Type" not in headers:
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a timeout test); nothing left to tell it.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the request log is the record; stderr stays quiet

    return Handler


# ---------------------------------------------------------------- command line


def seed_catalogue(fake: FakeSpotify) -> None:
    """A few real-looking tracks, including one ISRC on a single, an album and a compilation."""
    fake.add_track(
        "Purpose", ["Noisia"], album="Outer Edges", album_type="album",
        release_date="2016-03-18", duration_ms=290_319, isrc="USQY51531019",
    )  # fmt: skip
    fake.add_track(
        "Purpose - Buunshin Remix", ["Noisia", "Phace", "Buunshin"],
        album="Purpose (Remixes)", release_date="2021-06-04", duration_ms=272_091,
        isrc="UKACT2133031",
    )  # fmt: skip
    fake.add_track(
        "Concussion", ["Noisia"], album="Concussion / Seven Stitches", release_date="2007-05-14",
        duration_ms=334_883, isrc="NLCK40700053",
    )  # fmt: skip
    fake.add_track(
        "Die With A Smile", ["Lady Gaga", "Bruno Mars"], release_date="2024-08-16",
        duration_ms=251_667, isrc="USUM72409273", popularity=96,
    )  # fmt: skip
    for album, kind, date, artists in (
        ("Kids", "single", "2025-05-02", ["Fezzo"]),
        ("Kids (Extended)", "single", "2025-05-16", ["Fezzo"]),
        ("Club Essentials 2025", "compilation", "2025-11-07", ["Various Artists"]),
    ):
        fake.add_track(
            "Kids - Extended Mix", ["Fezzo"], album=album, album_type=kind,
            album_artists=artists, release_date=date, duration_ms=370_158, isrc="QMFMG2501300",
        )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a fake Spotify until interrupted; prints its URLs on the first lines."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.spotify", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--extended-quota", action="store_true", help="behave like an extended-quota app"
    )
    parser.add_argument("--seed", action="store_true", help="start with a small catalogue")
    args = parser.parse_args(argv)
    fake = FakeSpotify(
        client_id=args.client_id,
        client_secret=args.client_secret,
        extended_quota=args.extended_quota,
        host=args.host,
        port=args.port,
    )
    if args.seed:
        seed_catalogue(fake)
    print(f"SPOTIFY_API_URL={fake.api_url}", flush=True)
    print(f"SPOTIFY_TOKEN_URL={fake.token_url}", flush=True)
    print(f"SPOTIFY_AUTH_URL={fake.auth_url}", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()
    return 0


def running(**options: Any) -> Iterator[FakeSpotify]:
    """Yield a started fake and stop it afterwards (for pytest fixtures)."""
    fake = FakeSpotify(**options).start()
    try:
        yield fake
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
