"""A fake Beatport on loopback: public pages with `__NEXT_DATA__`, the v4 catalog API, its login.

Built from the real shapes saved in shared/fixtures/real/beatport: every synthetic track
is the real top-100 track object (same keys, same order) with ids, names, BPM, key, ISRC,
genre, label, release and artists varied deterministically from the seed, and every page
wraps its data in the real `__NEXT_DATA__`/react-query envelope.

    with FakeBeatport(tracks_per_list=120) as fake:
        settings = Settings(beatport_web_url=fake.web_url, beatport_api_url=fake.api_url)

Or as a process (prints the web URL, then the API URL, and serves until killed):

    python -m tests.fakes.beatport --port 8765 --tracks 6000 --per-page 150

Track ids encode which list a track was made for (block * 100000 + index + 1), so the same
id always yields the same data, and a track made for label 7's list is on label 7.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import secrets
import signal
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from tests.support.fixtures import real_fixtures

REPO_ROOT: Final = Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    """The real Beatport samples (see tests.support.fixtures)."""
    return real_fixtures() / "beatport"


_REAL_TOP100: Final = fixtures_dir() / "top-100_2026-01-25.next_data.trimmed.json"
_REAL: Final[dict[str, Any]] = json.loads(_REAL_TOP100.read_text(encoding="utf-8"))
_REAL_QUERY: Final[dict[str, Any]] = _REAL["props"]["pageProps"]["dehydratedState"]["queries"][0]
TEMPLATE_TRACK: Final[dict[str, Any]] = _REAL_QUERY["state"]["data"]["results"][0]
BUILD_ID: Final[str] = _REAL["buildId"]
INTERNAL_HOST: Final = "api-internal.beatportprod.com"
INTERNAL_API: Final = f"https://{INTERNAL_HOST}/v4"

BLOCK: Final = 100_000
BLOCKS: Final = 20_000
DEFAULT_USERNAME: Final = "crate-dj"
DEFAULT_PASSWORD: Final = "not-a-real-password-123"

# (camelot number, letter, Beatport's name), the whole wheel.
KEYS: Final = [
    (1, "A", "Ab Minor"), (1, "B", "B Major"), (2, "A", "Eb Minor"), (2, "B", "Gb Major"),
    (3, "A", "Bb Minor"), (3, "B", "Db Major"), (4, "A", "F Minor"), (4, "B", "Ab Major"),
    (5, "A", "C Minor"), (5, "B", "Eb Major"), (6, "A", "G Minor"), (6, "B", "Bb Major"),
    (7, "A", "D Minor"), (7, "B", "F Major"), (8, "A", "A Minor"), (8, "B", "C Major"),
    (9, "A", "E Minor"), (9, "B", "G Major"), (10, "A", "B Minor"), (10, "B", "D Major"),
    (11, "A", "Gb Minor"), (11, "B", "A Major"), (12, "A", "Db Minor"), (12, "B", "E Major"),
]  # fmt: skip
# Real genre ids and names (from the saved pages).
GENRES: Final = {
    1: ("Drum & Bass", "drum-bass"),
    5: ("House", "house"),
    6: ("Techno (Peak Time / Driving)", "techno-peak-time-driving"),
    7: ("Trance (Main Floor)", "trance-main-floor"),
    12: ("Deep House", "deep-house"),
    14: ("Minimal / Deep Tech", "minimal-deep-tech"),
    39: ("Dance / Pop", "dance-pop"),
    89: ("Afro House", "afro-house"),
    90: ("Melodic House & Techno", "melodic-house-techno"),
}
SUB_GENRES: Final = [
    (27, "Progressive Trance"),
    (101, "Raw / Deep / Hypnotic"),
    (66, "Jackin House"),
]
_WORDS_A: Final = [
    "Midnight",
    "Electric",
    "Golden",
    "Lost",
    "Deep",
    "Velvet",
    "Neon",
    "Silent",
    "Broken",
    "Higher",
    "Ocean",
    "Solar",
    "Hidden",
    "Wild",
    "Burning",
    "Frozen",
    "Endless",
    "Rising",
    "Crystal",
    "Distant",
    "Señor",
    "Café",
    "Rhythm",
    "Echo",
]
_WORDS_B: Final = [
    "Drive",
    "Pulse",
    "Dreams",
    "Signal",
    "Motion",
    "Garden",
    "Horizon",
    "Fever",
    "Tide",
    "Machine",
    "Heart",
    "Groove",
    "Storm",
    "Mirage",
    "Circuit",
    "Ritual",
    "Shadows",
    "Fire",
    "Light",
    "Voyage",
    "Paradise",
    "Code",
    "Waves",
]
_SYLLABLES: Final = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ven",
    "tor",
    "sa",
    "dex",
    "ni",
    "bo",
    "lu",
    "ar",
    "el",
    "quin",
    "mo",
    "zer",
    "ta",
    "fi",
    "on",
    "ri",
]
_MIXES: Final = ("Original Mix", "Extended Mix", "Radio Edit", "Dub", "Club Mix", "VIP")
LIST_KINDS: Final = frozenset(
    {
        "top100",
        "genre_top100",
        "genre_hype100",
        "chart",
        "release",
        "label",
        "artist",
        "genre_dates",
    }
)


_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=65536)
def slugify(text: str) -> str:
    """Beatport-like slug: lowercase ASCII words joined by '-'."""
    return "-".join(part for part in _NOT_SLUG.split(text.lower()) if part) or "x"


def _made_up_name(kind: str, number: int, words: int = 2) -> str:
    rng = random.Random(f"{kind}:{number}")
    parts = [
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(words)
    ]
    return " ".join(part.capitalize() for part in parts)


@functools.lru_cache(maxsize=65536)
def artist_name(artist_id: int) -> str:
    """The name every track uses for artist `artist_id`."""
    return _made_up_name("artist", artist_id)


@functools.lru_cache(maxsize=65536)
def label_name(label_id: int) -> str:
    """The name every track uses for label `label_id`."""
    return _made_up_name("label", label_id) + " Records"


@functools.lru_cache(maxsize=4096)
def genre_of(genre_id: int) -> dict[str, Any]:
    """The genre object for `genre_id` (real names for known ids)."""
    name, slug = GENRES.get(genre_id, (f"Genre {genre_id}", f"genre-{genre_id}"))
    return {
        "id": genre_id,
        "name": name,
        "slug": slug,
        "url": f"{INTERNAL_API}/catalog/genres/{genre_id}/",
    }


def _image(rng: random.Random, size: str, ext: str = "jpg") -> dict[str, Any]:
    uid = uuid.UUID(int=rng.getrandbits(128), version=4)
    return {
        "id": rng.randint(10_000_000, 49_999_999),
        "uri": f"https://geo-media.beatport.com/image_size/{size}/{uid}.{ext}",
        "dynamic_uri": f"https://geo-media.beatport.com/image_size/{{w}}x{{h}}/{uid}.{ext}",
    }


# Cached: the same artist or label object is shared by every track (nothing mutates them).
@functools.lru_cache(maxsize=65536)
def _person(kind: str, person_id: int) -> dict[str, Any]:
    name = artist_name(person_id)
    return {
        "id": person_id,
        "image": _image(random.Random(f"{kind}-image:{person_id}"), "590x404"),
        "name": name,
        "slug": slugify(name),
        "url": f"{INTERNAL_API}/catalog/artists/{person_id}/",
    }


@functools.lru_cache(maxsize=65536)
def _label(label_id: int) -> dict[str, Any]:
    name = label_name(label_id)
    return {
        "id": label_id,
        "name": name,
        "image": _image(random.Random(f"label-image:{label_id}"), "500x500"),
        "slug": slugify(name),
    }


def _block(kind: str, list_id: int) -> int:
    return 1 + zlib.crc32(f"{kind}:{list_id}".encode()) % (BLOCKS - 1)


def escape_json(data: Any) -> str:
    """Serialise like Beatport: compact, with &, < and > as \\u escapes (safe inside <script>)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


_TRACK_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    time: float

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    path_prefix: str | None


@dataclass(frozen=True)
class _ListView:
    """One page of one list, as both the pages and the API describe it."""

    ids: list[int]
    count: int
    page: int
    per_page: int
    pages: int


class FakeBeatport:
    """A real HTTP server on 127.0.0.1 that behaves like Beatport's site and v4 API."""

    def __init__(
        self,
        *,
        tracks_per_list: int = 30,
        per_page: int = 25,
        max_per_page: int = 150,
        seed: int = 1,
        charts: Mapping[int, int] | None = None,
        labels: Mapping[int, int] | None = None,
        artists: Mapping[int, int] | None = None,
        releases: Mapping[int, int] | None = None,
        genres: Mapping[int, int] | None = None,
        names: Mapping[tuple[str, int], str] | None = None,
        top100_size: int = 100,
        release_window: tuple[date, date] = (date(2026, 1, 1), date(2026, 1, 31)),
        api_token: str | None = None,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        require_token: bool = True,
        token_lifetime: int = 36_000,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tracks_per_list = tracks_per_list
        self.per_page = per_page
        self.max_per_page = max(max_per_page, per_page)
        self.seed = seed
        self.catalogue: dict[str, Mapping[int, int] | None] = {
            "chart": charts,
            "label": labels,
            "artist": artists,
            "release": releases,
            "genre": genres,
        }
        # The name a page (and the API's own object) gives a chart, label, artist, release
        # or genre, by (kind, id), instead of the made-up one; the tracks keep theirs.
        self.names: dict[tuple[str, int], str] = dict(names or {})
        self.top100_size = top100_size
        self.release_window = release_window
        self.username = username
        self.password = password
        self.require_token = require_token
        self.token_lifetime = token_lifetime
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._log: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._version = 0
        self._blocks: dict[int, tuple[str, int]] = {}
        self._pages: dict[tuple[Any, ...], _Reply] = {}
        self._sessions: set[str] = set()
        self._codes: dict[str, str] = {}
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        if api_token:
            self._access[api_token] = float("inf")
        # Switches a test may flip at any time (from any thread).
        self.challenge: str | None = None  # "cloudflare" or "human-test"
        self.empty_lists = False
        # None, or a second block of tracks served before each list page's own list:
        # "related" under a key of its own, "twin" under the very key of the page's list.
        self.side_tracks: str | None = None
        self.null_fields: frozenset[str] = frozenset()
        self.forbidden_track_ids: set[int] = set()
        self.deleted_track_ids: set[int] = set()
        self.wrap_chart_items = False
        # {page: status}: that page of every list (web and API) answers `status`, with a
        # Retry-After of 0.01 s, until the test takes the page out again.
        self.failing_pages: dict[int, int] = {}
        self.redirects: dict[str, str] = {}
        # {(kind, list_id): [n, ...]}: the list holds its own tracks number n (1 = its first
        # track), in that order, instead of all of them: a chart that changes between
        # collections (set with `set_lineup`).
        self.lineups: dict[tuple[str, int], list[int]] = {}
        self.latency = 0.0
        self.logins = 0
        self.refreshes = 0
        self.token_grants = 0
        for kind in ("chart", "label", "artist", "release"):
            for list_id in self.catalogue[kind] or {}:
                self._register(kind, list_id)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ life cycle

    def start(self) -> FakeBeatport:
        """Bind the port and serve from a daemon thread."""
        server = _Server((self._host, self._port), _Handler)
        server.fake = self  # type: ignore[attr-defined]  # read by _Handler
        self._server = server
        self._port = server.server_address[1]
        # A short poll interval keeps stop() fast (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="fake-beatport", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeBeatport:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        return self._port

    @property
    def web_url(self) -> str:
        """Base URL of the public pages (BEATPORT_WEB_URL)."""
        return f"http://{self._host}:{self._port}"

    @property
    def api_url(self) -> str:
        """Base URL of the v4 API (BEATPORT_API_URL)."""
        return f"http://{self._host}:{self._port}/v4"

    def web_env(self, min_interval: float = 0) -> dict[str, str]:
        """The environment that points a `crate` process at these public pages."""
        return {
            "BEATPORT_MODE": "web",
            "BEATPORT_WEB_URL": self.web_url,
            "BEATPORT_MIN_INTERVAL": str(min_interval),
        }

    # ------------------------------------------------------------ switches

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        retry_after: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Answer the next `count` requests (only under `path_prefix`, if given) with `status`."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after, path_prefix) for _ in range(count))

    def set_content(
        self,
        *,
        empty_lists: bool | None = None,
        null_fields: Iterable[str] | None = None,
        side_tracks: str | None = None,
    ) -> None:
        """Serve empty lists, and/or tracks whose `null_fields` are null (e.g. isrc, bpm, key),
        and/or a 10-track side block before each list ("related", "twin" or "" for none)."""
        with self._lock:
            if empty_lists is not None:
                self.empty_lists = empty_lists
            if null_fields is not None:
                self.null_fields = frozenset(null_fields)
            if side_tracks is not None:
                self.side_tracks = side_tracks or None
            self._version += 1
            self._pages.clear()

    def set_lineup(self, kind: str, list_id: int, numbers: Iterable[int] | None) -> None:
        """From now on the list (kind "top100" has id 0) holds its tracks number `numbers`
        (1 = its first), in that order; None: all of them again. Ids stay the list's own."""
        with self._lock:
            if numbers is None:
                self.lineups.pop((kind, list_id), None)
            else:
                self.lineups[(kind, list_id)] = list(numbers)
            self._version += 1
            self._pages.clear()

    def missing_fields(self, on: bool = True) -> None:
        """Tracks with null isrc, bpm, key and sub_genre."""
        self.set_content(null_fields={"isrc", "bpm", "key", "sub_genre"} if on else ())

    def expire_tokens(self) -> None:
        """Make every access token invalid now (refresh tokens still work)."""
        with self._lock:
            self._access.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._log.clear()

    # ------------------------------------------------------------ catalogue

    def _register(self, kind: str, list_id: int) -> int:
        block = _block(kind, list_id)
        with self._lock:
            self._blocks.setdefault(block, (kind, list_id))
        return block

    def list_size(self, kind: str, list_id: int) -> int | None:
        """How many tracks a list has (None: no such list, a 404)."""
        if kind == "top100":
            return min(100, self.top100_size)
        family = "genre" if kind.startswith("genre") else kind
        configured = self.catalogue.get(family)
        if configured is not None and list_id not in configured:
            return None
        size = configured[list_id] if configured is not None else self.tracks_per_list
        return min(100, size) if kind in ("genre_top100", "genre_hype100") else size

    def track_ids(
        self, kind: str, list_id: int = 0, window: tuple[date, date] | None = None
    ) -> list[int] | None:
        """The ids a list holds, in list order (what a client should collect)."""
        size = self.list_size(kind, list_id)
        if size is None:
            return None
        if self.empty_lists:
            return []
        block = self._register(kind, list_id)
        lineup = self.lineups.get((kind, list_id))
        if lineup is not None:
            return [block * BLOCK + number for number in lineup if 0 < number < BLOCK]
        ids = [block * BLOCK + index + 1 for index in range(min(size, BLOCK - 1))]
        if kind == "genre_dates":
            ids.reverse()  # newest first, as order_by=-publish_date asks
            if window is not None:
                low, high = window
                ids = [i for i in ids if low <= self._dated(i, size) <= high]
        return ids

    def warm(self, kind: str, list_id: int = 0) -> int:
        """Build every track of a list now rather than on first request (for benchmarks)."""
        ids = self.track_ids(kind, list_id) or []
        for track_id in ids:
            self.track(track_id)
        return len(ids)

    def _dated(self, track_id: int, size: int) -> date:
        start, end = self.release_window
        index = (track_id - 1) % BLOCK
        span = (end - start).days + 1
        return start + timedelta(days=index * span // max(size, 1))

    def track(self, track_id: int) -> dict[str, Any]:
        """The JSON object the fake serves for a track id (the same on every page and the API)."""
        block = (track_id - 1) // BLOCK
        kind, list_id = self._blocks.get(block, ("", 0))
        size = self.list_size(kind, list_id) if kind == "genre_dates" else 0
        # Shared by every fake in the process: building a track costs ~0.4 ms.
        key = (self.seed, track_id, kind, list_id, size, self.release_window)
        obj = _TRACK_CACHE.get(key)
        if obj is None:
            obj = self._build_track(track_id)
            _TRACK_CACHE[key] = obj
        if self.null_fields:
            obj = {key: (None if key in self.null_fields else value) for key, value in obj.items()}
        return obj

    def _build_track(self, track_id: int) -> dict[str, Any]:
        block, index = divmod(track_id - 1, BLOCK)
        kind, list_id = self._blocks.get(block, ("", 0))
        rng = random.Random(f"{self.seed}:{track_id}")
        title = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
        if rng.random() < 0.08:
            title += " & Friends"
        artist_ids = rng.sample(range(100_001, 102_001), rng.choice((1, 1, 1, 2, 2, 3)))
        if kind == "artist":
            artist_ids = [list_id, *(a for a in artist_ids if a != list_id)][:3]
        remixers: list[dict[str, Any]] = []
        mix = rng.choice(_MIXES)
        if rng.random() < 0.25:
            remixer = rng.randint(102_001, 103_000)
            remixers = [_person("remixer", remixer)]
            mix = f"{artist_name(remixer)} Remix"
        if kind.startswith("genre"):
            genre = genre_of(list_id)
        else:
            genre = genre_of(rng.choice(list(GENRES)))
        sub = rng.choice(SUB_GENRES) if rng.random() < 0.3 else None
        sub_genre = (
            {
                "id": sub[0],
                "name": sub[1],
                "slug": slugify(sub[1]),
                "url": f"{INTERNAL_API}/catalog/sub-genres/{sub[0]}/",
                "enabled": True,
            }
            if sub
            else None
        )
        if kind == "release":
            release_id = list_id
            release_name = _made_up_name("release", list_id, 1) + " EP"
            label_id = 1 + zlib.crc32(f"release-label:{list_id}".encode()) % 500
        else:
            release_id = track_id
            release_name = title
            label_id = list_id if kind == "label" else rng.randint(1, 500)
        release = {
            "id": release_id,
            "name": release_name,
            "image": _image(random.Random(f"release-image:{release_id}"), "1400x1400"),
            "label": _label(label_id),
            "slug": slugify(release_name),
        }
        number, letter, key_name = rng.choice(KEYS)
        key = {
            "camelot_number": number,
            "camelot_letter": letter,
            "chord_type": {
                "id": 2 if "Major" in key_name else 1,
                "name": key_name.split()[1],
                "url": f"{INTERNAL_API}/catalog/chord-types/{2 if 'Major' in key_name else 1}/",
            },
            "id": 1 + KEYS.index((number, letter, key_name)),
            "is_sharp": False,
            "is_flat": "b" in key_name.split()[0],
            "letter": key_name[0],
            "name": key_name,
            "url": f"{INTERNAL_API}/catalog/keys/{1 + KEYS.index((number, letter, key_name))}/",
        }
        if kind == "genre_dates":
            published = self._dated(track_id, self.list_size(kind, list_id) or 1)
        else:
            published = self.release_window[1] - timedelta(days=rng.randint(0, 400))
        length_ms = rng.randint(150_000, 480_000)
        sample_start = rng.randint(30_000, max(30_001, length_ms - 150_000))
        waveform = _image(rng, "1500x250", "png")
        sample_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        isrc_prefix = rng.choice(("GB", "US", "NL", "DE", "FR")) + rng.choice(("AHT", "F71", "KQ2"))
        label_code = slugify(label_name(label_id))[:4].upper()
        values: dict[str, Any] = {
            "artists": [_person("artist", a) for a in artist_ids],
            "available_worldwide": rng.random() < 0.5,
            "bpm": rng.randint(118, 132) if rng.random() < 0.7 else rng.randint(85, 178),
            "catalog_number": f"{label_code}{release_id % 10000:04d}",
            "encoded_date": f"{published - timedelta(days=20)}T18:23:28-07:00",
            "exclusive": rng.random() < 0.1,
            "genre": genre,
            "id": track_id,
            "image": waveform,
            "isrc": f"{isrc_prefix}{published.year % 100:02d}{track_id % 100_000:05d}",
            "key": key,
            "label_track_identifier": str(rng.randint(10**12, 10**13 - 1))
            if rng.random() < 0.5
            else None,
            "length": f"{length_ms // 60000}:{length_ms // 1000 % 60:02d}",
            "length_ms": length_ms,
            "mix_name": mix,
            "name": title,
            "new_release_date": published.isoformat(),
            "pre_order": False,
            "pre_order_date": None,
            "publish_date": published.isoformat(),
            "release": release,
            "remixers": remixers,
            "sample_url": f"https://geo-samples.beatport.com/track/{sample_id}.LOFI.mp3",
            "sample_start_ms": sample_start,
            "sample_end_ms": sample_start + 120_000,
            "slug": slugify(title),
            "sub_genre": sub_genre,
            "url": f"{INTERNAL_API}/catalog/tracks/{track_id}/",
            "is_hype": kind == "genre_hype100",
        }
        # Same keys in the same order as the real object; untouched ones copied from it.
        obj = {key_: values.get(key_, TEMPLATE_TRACK[key_]) for key_ in TEMPLATE_TRACK}
        if kind == "release":
            obj["number"] = index + 1
        return obj

    def _entity(self, kind: str, entity_id: int) -> dict[str, Any]:
        """The object a page shows beside its track list (chart, label, artist, release, genre)."""
        obj = self._made_up_entity(kind, entity_id)
        family = "genre" if kind.startswith("genre") else kind
        name = self.names.get((family, entity_id))
        return obj if name is None else {**obj, "name": name, "slug": slugify(name)}

    def _made_up_entity(self, kind: str, entity_id: int) -> dict[str, Any]:
        rng = random.Random(f"{kind}-entity:{entity_id}")
        if kind == "label":
            return _label(entity_id)
        if kind == "artist":
            return _person("artist", entity_id)
        if kind.startswith("genre"):
            return genre_of(entity_id)
        name = _made_up_name(kind, entity_id, 2)
        base: dict[str, Any] = {
            "id": entity_id,
            "name": name,
            "slug": slugify(name),
            "image": _image(rng, "1400x1400"),
        }
        if kind == "chart":
            dj = rng.randint(100_001, 102_000)
            base.update(
                track_count=self.list_size("chart", entity_id) or 0,
                person={"owner_name": artist_name(dj), "owner_slug": slugify(artist_name(dj))},
                genres=[genre_of(rng.choice(list(GENRES)))],
                add_date="2026-01-02T10:00:00-07:00",
                change_date="2026-01-20T10:00:00-07:00",
                publish_date="2026-01-03",
            )
        elif kind == "release":
            ids = self.track_ids("release", entity_id) or []
            base.update(
                label=_label(1 + zlib.crc32(f"release-label:{entity_id}".encode()) % 500),
                track_count=len(ids),
                # As on the real page: API URLs of the tracks, in reverse order.
                tracks=[f"{INTERNAL_API}/catalog/tracks/{i}/" for i in reversed(ids)],
            )
        return base

    def _decoy_releases(self, kind: str, entity_id: int) -> list[dict[str, Any]]:
        """Release objects (they have artists too) that a parser must not take for tracks."""
        rng = random.Random(f"decoy:{kind}:{entity_id}")
        out = []
        for n in range(3):
            rid = 9_000_000 + rng.randint(0, 999_999)
            name = _made_up_name("release", rid, 1) + " EP"
            out.append(
                {
                    "artists": [_person("artist", rng.randint(100_001, 102_000))],
                    "catalog_number": f"DEC{n:03d}",
                    "id": rid,
                    "image": _image(rng, "1400x1400"),
                    "label": _label(entity_id if kind == "label" else rng.randint(1, 500)),
                    "name": name,
                    "slug": slugify(name),
                    "track_count": 2,
                }
            )
        return out

    # ------------------------------------------------------------ requests

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Answer one request (called from the server threads)."""
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            self._log.append(
                RecordedRequest(method, path, query, dict(headers), body, time.monotonic())
            )
            failure = next(
                (
                    f
                    for f in self._failures
                    if f.path_prefix is None or path.startswith(f.path_prefix)
                ),
                None,
            )
            if failure is not None:
                self._failures.remove(failure)
        if self.latency:
            time.sleep(self.latency)
        if failure is None and self.failing_pages and "page" in query:
            status = self.failing_pages.get(_int_param(query, "page", 1))
            if status is not None:
                failure = _Failure(status, "0.01", None)
        if failure is not None:
            extra = (
                [("Retry-After", failure.retry_after)] if failure.retry_after is not None else []
            )
            return _Reply(
                failure.status, f"Fake Beatport failure {failure.status}".encode(), headers=extra
            )
        if path in self.redirects:
            return _Reply(302, b"", headers=[("Location", self.redirects[path])])
        if path.startswith("/v4/"):
            return self._api(method, path[3:], query, headers, body)
        if self.challenge is not None:
            return self._challenge_page()
        if method != "GET":
            return _Reply(405, b"Method not allowed")
        return self._web(path, query)

    def _challenge_page(self) -> _Reply:
        if self.challenge == "human-test":
            body = (
                "<!DOCTYPE html><html><head><title>Beatport</title>"
                '<script src="/human-test/start.js"></script></head><body>'
                "<script>window.findProof && findProof();</script></body></html>"
            )
            return _Reply(200, body.encode(), "text/html; charset=utf-8")
        body = (
            '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
            '<meta http-equiv="refresh" content="390"></head><body>'
            "<noscript>Enable JavaScript and cookies to continue</noscript>"
            "<script>window._cf_chl_opt={cType: 'managed'};</script></body></html>"
        )
        return _Reply(
            403,
            body.encode(),
            "text/html; charset=UTF-8",
            headers=[
                ("cf-mitigated", "challenge"),
                ("Server", "cloudflare"),
                ("cf-ray", "8f00fake-LHR"),
            ],
        )

    # ------------------------------------------------------------ public pages

    def _web(self, path: str, query: Mapping[str, list[str]]) -> _Reply:
        data_route = False
        if path.startswith("/_next/data/"):
            # /_next/data/<buildId>/<locale>/<page path>.json
            pieces = path.split("/", 5)
            if len(pieces) < 6 or pieces[3] != BUILD_ID or not pieces[5].endswith(".json"):
                return self._not_found_page()
            path = "/" + pieces[5][: -len(".json")]
            data_route = True
        segments = [s for s in path.split("/") if s]
        if len(segments) > 1 and len(segments[0]) == 2 and segments[0].isalpha():
            segments = segments[1:]
        route = _web_route(segments)
        if route is None:
            return self._not_found_page()
        kind, list_id = route
        page = _int_param(query, "page", 1)
        per_page = _int_param(query, "per_page", _int_param(query, "per-page", self.per_page))
        per_page = max(1, min(per_page, self.max_per_page))
        window = _window(query.get("publish_date", [""])[0]) if kind == "genre_dates" else None
        key = ("web", kind, list_id, page, per_page, window, data_route, self._version)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        reply = self._render_page(kind, list_id, page, per_page, window, data_route)
        if reply.status == 200:
            self._pages[key] = reply
        return reply

    def _not_found_page(self) -> _Reply:
        data = {
            "props": {"pageProps": {"statusCode": 404}},
            "page": "/_error",
            "query": {},
            "buildId": BUILD_ID,
        }
        body = (
            "<!DOCTYPE html><html><head><title>404</title></head><body>"
            f'<script id="__NEXT_DATA__" type="application/json">{escape_json(data)}</script>'
            "</body></html>"
        )
        return _Reply(404, body.encode(), "text/html; charset=utf-8")

    def _list_view(
        self, kind: str, list_id: int, page: int, per_page: int, window: tuple[date, date] | None
    ) -> _ListView | None:
        ids = self.track_ids(kind, list_id, window)
        if ids is None:
            return None
        pages = max(1, -(-len(ids) // per_page))
        start = (page - 1) * per_page
        return _ListView(ids[start : start + per_page], len(ids), page, per_page, pages)

    def _render_page(
        self,
        kind: str,
        list_id: int,
        page: int,
        per_page: int,
        window: tuple[date, date] | None,
        data_route: bool,
    ) -> _Reply:
        page_props: dict[str, Any] = {}
        queries: list[dict[str, Any]] = []
        if kind == "track":
            if list_id in self.deleted_track_ids:
                return self._not_found_page()
            obj = self.track(list_id)
            queries.append(_query([f"track-{list_id}"], obj))
            page_props["track"] = obj
            names = ", ".join(a["name"] for a in obj["artists"])
            title = f"{obj['name']} ({obj['mix_name']}) by {names} on Beatport"
            next_page = "/track/[description]/[id]"
        else:
            if kind in ("top100", "genre_top100", "genre_hype100"):
                page, per_page = 1, 100
            view = self._list_view(kind, list_id, page, per_page, window)
            if view is None:
                return self._not_found_page()
            results = [self.track(i) for i in view.ids]
            api_path = _api_list_path(kind, list_id)
            if kind == "top100":
                # As the real page: page "1", and a `next` pointing past the end.
                data = _list_data(
                    results,
                    view,
                    f"api-internal.beatportprod.com/v4{api_path}?per_page=100&page=2",
                    page_text="1",
                )
                self._add_side_tracks(queries, kind, list_id, page, per_page)
                queries.append(_query(list_query_key(kind, list_id, page, per_page), data))
                title = "Beatport | Top 100 Songs & DJ Tracks | Music Downloads & Streaming"
                next_page = "/top-100"
            else:
                entity_kind = "genre" if kind.startswith("genre") else kind
                entity = self._entity(entity_kind, list_id)
                page_props[entity_kind] = entity
                queries.append(_query([f"{entity_kind}-{list_id}"], entity))
                if kind in ("label", "artist"):
                    decoys = self._decoy_releases(kind, list_id)
                    queries.append(
                        _query(
                            [f"{kind}-{list_id}-top-releases"],
                            {
                                "next": None,
                                "previous": None,
                                "count": 3,
                                "page": "1/1",
                                "per_page": 10,
                                "results": decoys,
                            },
                        )
                    )
                nxt = (
                    f"{INTERNAL_HOST}/v4{api_path}?page={page + 1}&per_page={per_page}"
                    if page < view.pages
                    else None
                )
                data = _list_data(results, view, nxt, page_text=f"{page}/{view.pages}")
                self._add_side_tracks(queries, kind, list_id, page, per_page)
                queries.append(_query(list_query_key(kind, list_id, page, per_page), data))
                title = f"{entity['name']} | Beatport"
                next_page = {
                    "genre_top100": "/genre/[slug]/[id]/top-100",
                    "genre_hype100": "/genre/[slug]/[id]/hype-100",
                    "genre_dates": "/genre/[slug]/[id]/tracks",
                    "chart": "/chart/[slug]/[id]",
                    "release": "/release/[slug]/[id]",
                    "label": "/label/[slug]/[id]/tracks",
                    "artist": "/artist/[slug]/[id]/tracks",
                }[kind]
        page_props = {
            "dehydratedState": {"mutations": [], "queries": queries},
            "anonSession": _REAL["props"]["pageProps"]["anonSession"],
            **page_props,
            "_nextI18Next": _REAL["props"]["pageProps"]["_nextI18Next"],
        }
        if data_route:
            return _Reply(
                200,
                escape_json({"pageProps": page_props, "__N_SSP": True}).encode(),
                "application/json",
            )
        envelope = {key: value for key, value in _REAL.items() if key != "props"}
        envelope["page"] = next_page
        next_data = {
            "props": {"pageProps": page_props, "isPageExplicit": False, "__N_SSP": True},
            **envelope,
        }
        html = (
            '<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8" data-next-head=""/>'
            f'<title data-next-head="">{_html_escape(title)}</title>'
            f'<script src="/_next/static/{BUILD_ID}/_buildManifest.js" defer=""></script></head>'
            '<body><div id="__next"><div data-testid="tracks-table-row"></div></div>'
            f'<script id="__NEXT_DATA__" type="application/json">{escape_json(next_data)}</script>'
            "</body></html>"
        )
        return _Reply(200, html.encode(), "text/html; charset=utf-8")

    def _add_side_tracks(
        self, queries: list[dict[str, Any]], kind: str, list_id: int, page: int, per_page: int
    ) -> None:
        """A 10-track block ("recommended tracks") that is not the page's list, if switched on."""
        if self.side_tracks is None:
            return
        block = self._register("side", list_id)
        tracks = [self.track(block * BLOCK + index + 1) for index in range(10)]
        data = {
            "next": None,
            "previous": None,
            "count": 10,
            "page": "1/1",
            "per_page": 10,
            "results": tracks,
        }
        if self.side_tracks == "twin":
            key = list_query_key(kind, list_id, page, per_page)
        elif kind == "top100":
            key = ["recommended-tracks"]
        else:
            key = [f"{kind.split('_')[0]}-{list_id}-recommended-tracks"]
        queries.append(_query(key, data))

    # ------------------------------------------------------------ v4 API

    def _api(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> _Reply:
        if path.startswith("/auth/"):
            return self._auth(method, path, query, headers, body)
        if method != "GET":
            return _json_reply(405, {"detail": f'Method "{method}" not allowed.'})
        if self.require_token:
            auth = headers.get("authorization", "")
            if not auth.lower().startswith("bearer "):
                return _json_reply(401, {"detail": "Authentication credentials were not provided."})
            with self._lock:
                expires = self._access.get(auth[7:].strip())
            if expires is None or expires < time.monotonic():
                return _json_reply(401, {"detail": "Invalid token."})
        segments = [s for s in path.split("/") if s]
        if segments[:1] != ["catalog"]:
            return _json_reply(404, {"detail": "Not found."})
        segments = segments[1:]
        if len(segments) == 2 and segments[0] in _API_ENTITIES:
            # A chart's (label's…) own object, as /catalog/charts/{id}/ answers it.
            kind, entity_id = segments[0][:-1], _id(segments[1])
            if entity_id is None or self.list_size(kind, entity_id) is None:
                return _json_reply(404, {"detail": "Not found."})
            return _json_reply(200, self._entity(kind, entity_id))
        page = _int_param(query, "page", 1)
        per_page = max(1, min(_int_param(query, "per_page", 10), 100))
        route = _api_route(segments, query)
        if route is None:
            return _json_reply(404, {"detail": "Not found."})
        kind, list_id = route
        if kind == "track":
            if list_id in self.forbidden_track_ids:
                return _json_reply(
                    403, {"detail": "You do not have permission to perform this action."}
                )
            if list_id in self.deleted_track_ids:
                return _json_reply(404, {"detail": "Not found."})
            return _json_reply(200, self.track(list_id))
        window = _window(query.get("publish_date", [""])[0]) if kind == "genre_dates" else None
        if kind in ("top100", "genre_top100", "genre_hype100"):
            per_page = min(per_page, 100)
        key = ("api", kind, list_id, page, per_page, window, self.wrap_chart_items, self._version)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        view = self._list_view(kind, list_id, page, per_page, window)
        if view is None:
            return _json_reply(404, {"detail": "Not found."})
        if page > view.pages:
            return _json_reply(404, {"detail": "Invalid page."})
        results: list[Any] = [self.track(i) for i in view.ids]
        if kind == "chart" and self.wrap_chart_items:
            results = [{"track": item} for item in results]
        base = f"{self.api_url}/catalog{_api_list_path(kind, list_id)[len('/catalog') :]}"
        nxt = f"{base}?page={page + 1}&per_page={per_page}" if page < view.pages else None
        prev = f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None
        payload = {
            "next": nxt,
            "previous": prev,
            "count": view.count,
            "page": f"{page}/{view.pages}",
            "per_page": per_page,
            "results": results,
        }
        reply = _json_reply(200, payload)
        self._pages[key] = reply
        return reply

    def _auth(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> _Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if path == "/auth/login/" and method == "POST":
            try:
                sent = json.loads(body or b"{}")
            except ValueError:
                sent = form
            if (
                not isinstance(sent, dict)
                or sent.get("username") != self.username
                or sent.get("password") != self.password
            ):
                return _json_reply(401, {"detail": "Incorrect username or password."})
            session = secrets.token_hex(16)
            with self._lock:
                self._sessions.add(session)
                self.logins += 1
            return _json_reply(
                200,
                {"username": self.username, "email": f"{self.username}@example.com"},
                headers=[("Set-Cookie", f"sessionid={session}; HttpOnly; Path=/; SameSite=Lax")],
            )
        if path == "/auth/o/authorize/" and method == "GET":
            cookies = dict(
                part.strip().split("=", 1)
                for part in headers.get("cookie", "").split(";")
                if "=" in part
            )
            redirect_uri = query.get("redirect_uri", [""])[0]
            if (
                query.get("response_type", [""])[0] != "code"
                or not query.get("client_id", [""])[0]
                or not redirect_uri
            ):
                return _Reply(400, b"<p>invalid_request</p>", "text/html")
            with self._lock:
                known = cookies.get("sessionid") in self._sessions
            if not known:
                return _Reply(
                    302, b"", headers=[("Location", "/v4/auth/login/?next=/v4/auth/o/authorize/")]
                )
            code = secrets.token_urlsafe(12)
            with self._lock:
                self._codes[code] = redirect_uri
            return _Reply(302, b"", headers=[("Location", f"{redirect_uri}?code={code}")])
        if path == "/auth/o/token/" and method == "POST":
            params = {**{k: v[0] for k, v in query.items()}, **form}
            grant = params.get("grant_type")
            with self._lock:
                if grant == "authorization_code":
                    redirect = self._codes.pop(params.get("code", ""), None)
                    if redirect is None or redirect != params.get("redirect_uri"):
                        return _json_reply(400, {"error": "invalid_grant"})
                    self.token_grants += 1
                elif grant == "refresh_token":
                    refresh = params.get("refresh_token", "")
                    if refresh not in self._refresh:
                        return _json_reply(400, {"error": "invalid_grant"})
                    self._refresh.discard(refresh)
                    self.refreshes += 1
                else:
                    return _json_reply(400, {"error": "unsupported_grant_type"})
                access, refresh_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
                self._access[access] = time.monotonic() + self.token_lifetime
                self._refresh.add(refresh_token)
            return _json_reply(
                200,
                {
                    "access_token": access,
                    "expires_in": self.token_lifetime,
                    "token_type": "Bearer",
                    "scope": "app:locker user:dj",
                    "refresh_token": refresh_token,
                },
            )
        return _json_reply(404, {"detail": "Not found."})


# ---------------------------------------------------------------- helpers


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json_reply(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(
        status, json.dumps(data, ensure_ascii=False).encode(), "application/json", headers or []
    )


def _int_param(query: Mapping[str, list[str]], name: str, default: int) -> int:
    value = query.get(name, [""])[0]
    return int(value) if value.isdigit() and 0 < int(value) < 10**6 else default


def _window(text: str) -> tuple[date, date] | None:
    low, _, high = text.partition(":")
    try:
        return date.fromisoformat(low), date.fromisoformat(high)
    except ValueError:
        return None


def _id(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


def _web_route(segments: list[str]) -> tuple[str, int] | None:
    """(kind, id) for a public page path."""
    if segments == ["top-100"]:
        return "top100", 0
    if len(segments) == 4 and segments[0] == "genre":
        kind = {
            "top-100": "genre_top100",
            "hype-100": "genre_hype100",
            "tracks": "genre_dates",
        }.get(segments[3])
        genre_id = _id(segments[2])
        return (kind, genre_id) if kind and genre_id else None
    if len(segments) == 3 and segments[0] in ("chart", "release", "track"):
        item_id = _id(segments[2])
        return (segments[0], item_id) if item_id else None
    if len(segments) == 4 and segments[0] in ("label", "artist") and segments[3] == "tracks":
        item_id = _id(segments[2])
        return (segments[0], item_id) if item_id else None
    return None


_API_ENTITIES: Final = frozenset({"charts", "labels", "artists", "releases", "genres"})


def _api_route(segments: list[str], query: Mapping[str, list[str]]) -> tuple[str, int] | None:
    """(kind, id) for a /v4/catalog/… path."""
    if segments == ["tracks", "top", "100"]:
        return "top100", 0
    if segments == ["tracks"]:
        genre_id = _id(query.get("genre_id", [""])[0])
        return ("genre_dates", genre_id) if genre_id else None
    if len(segments) == 2 and segments[0] == "tracks":
        track_id = _id(segments[1])
        return ("track", track_id) if track_id else None
    if (
        len(segments) == 3
        and segments[2] == "tracks"
        and segments[0] in ("releases", "charts", "labels", "artists")
    ):
        item_id = _id(segments[1])
        return (segments[0][:-1], item_id) if item_id else None
    if len(segments) == 4 and segments[0] == "genres" and segments[2:] == ["top", "100"]:
        genre_id = _id(segments[1])
        hype = query.get("hype", ["false"])[0].lower() == "true"
        return ("genre_hype100" if hype else "genre_top100", genre_id) if genre_id else None
    return None


def _api_list_path(kind: str, list_id: int) -> str:
    return {
        "top100": "/catalog/tracks/top/100/",
        "genre_top100": f"/catalog/genres/{list_id}/top/100/",
        "genre_hype100": f"/catalog/genres/{list_id}/top/100/",
        "genre_dates": "/catalog/tracks/",
    }.get(kind, f"/catalog/{kind}s/{list_id}/tracks/")


def list_query_key(kind: str, list_id: int, page: int = 1, per_page: int = 100) -> list[str]:
    """The queryKey of a list page's own list: the real top-100 one, and keys in its style
    (kind, id, page, per_page) for the pages no real capture shows."""
    match kind:
        case "top100":
            return ["top-100-tracks-per_page=100"]  # as on the real page
        case "genre_top100":
            return [f"genre-{list_id}-top-100-tracks-per_page=100"]
        case "genre_hype100":
            return [f"genre-{list_id}-hype-100-tracks-per_page=100"]
        case _:
            entity = kind.split("_")[0]
            return [f"{entity}-{list_id}-tracks-page={page}-per_page={per_page}"]


def _list_data(
    results: list[Any], view: _ListView, nxt: str | None, *, page_text: str
) -> dict[str, Any]:
    return {
        "next": nxt,
        "previous": None if view.page == 1 else "api-internal.beatportprod.com/v4/…",
        "count": view.count,
        "page": page_text,
        "per_page": view.per_page,
        "results": results,
    }


def _query(key: list[Any], data: Any) -> dict[str, Any]:
    """A dehydrated react-query entry shaped like the real page's."""
    state = dict(_REAL_QUERY["state"])
    state["data"] = data
    return {"state": state, "queryKey": key, "queryHash": json.dumps(key, separators=(",", ":"))}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a timeout test, say) is not an error worth printing.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a client pool expects
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "FakeBeatport/1.0"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake: FakeBeatport = self.server.fake  # type: ignore[attr-defined]
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = fake.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the fake must show up as a 500, not a hang
            reply = _Reply(500, f"fake beatport crashed: {exc!r}".encode())
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        pass  # quiet: tests read the request log instead


def main(argv: list[str] | None = None) -> None:
    """Run the fake as a process until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--tracks", type=int, default=100, help="tracks in every chart/label/artist/release/genre"
    )
    parser.add_argument(
        "--per-page", type=int, default=25, help="page size when a request names none"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default=None, help="an API bearer token to accept")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--no-auth", action="store_true", help="serve the API without a token")
    parser.add_argument(
        "--warm",
        action="append",
        default=[],
        metavar="KIND:ID",
        help="build a list's tracks before serving, e.g. --warm label:7 (repeatable)",
    )
    args = parser.parse_args(argv)
    fake = FakeBeatport(
        tracks_per_list=args.tracks,
        per_page=args.per_page,
        max_per_page=max(150, args.per_page),
        seed=args.seed,
        api_token=args.token,
        username=args.username,
        password=args.password,
        require_token=not args.no_auth,
        host=args.host,
        port=args.port,
    )
    for spec in args.warm:
        kind, _, list_id = spec.partition(":")
        if kind not in LIST_KINDS:
            parser.error(f"--warm takes KIND:ID with KIND one of {', '.join(sorted(LIST_KINDS))}")
        fake.warm(kind, int(list_id or 0))
    fake.start()
    print(fake.web_url, flush=True)
    print(fake.api_url, flush=True)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        fake.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
