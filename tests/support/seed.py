"""Fill a database with realistic tracks, stored exactly the way a collection stores them.

    uv run python -m tests.support.seed --tracks 100000 --database-url sqlite:///data/seed.sqlite3

Every track is a Beatport v4 track object (the shape of the saved real pages) parsed by
`services.beatport.tracks.parse_track` and written by `services.track_store.store_tracks`, so the
rows, credits and denormalised search text are what collection produces. About 30 genres
with their own tempo, ~2,000 labels and ~20,000 artists with a long tail (a few are very
busy), releases of one to four tracks with remixes, all 24 keys, three years of release
dates. Afterwards half of the tracks get a Spotify state (matched or not found) set
directly with UPDATE, as enrichment would leave them. The same `--seed` gives the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Final

from services import db, jobs, search_index
from services.beatport.tracks import BeatportTrack, parse_track
from services.tables import Job, Track
from services.track_store import CollectCounts, store_tracks

API: Final = "https://api-internal.beatportprod.com/v4"
MEDIA: Final = "https://geo-media.beatport.com/image_size"
SAMPLES: Final = "https://geo-samples.beatport.com/track"
LAST_DAY: Final = date(2026, 11, 28)
DAYS: Final = 3 * 365

# Beatport's genres with a typical tempo (centre, spread) and how common they are.
GENRES: Final = [
    (5, "House", 124, 2, 10),
    (11, "Tech House", 126, 2, 12),
    (6, "Techno (Peak Time / Driving)", 132, 4, 9),
    (92, "Techno (Raw / Deep / Hypnotic)", 130, 4, 5),
    (90, "Melodic House & Techno", 122, 3, 8),
    (12, "Deep House", 121, 2, 6),
    (89, "Afro House", 122, 2, 5),
    (93, "Organic House", 118, 4, 3),
    (14, "Minimal / Deep Tech", 126, 2, 4),
    (15, "Progressive House", 124, 3, 4),
    (7, "Trance (Main Floor)", 138, 2, 4),
    (99, "Trance (Raw / Deep / Hypnotic)", 136, 3, 1),
    (1, "Drum & Bass", 174, 1, 5),
    (18, "Dubstep", 140, 1, 2),
    (95, "140 / Deep Dubstep / Grime", 140, 1, 1),
    (39, "Dance / Pop", 120, 8, 3),
    (37, "Indie Dance", 118, 6, 3),
    (3, "Electronica", 110, 15, 2),
    (50, "Nu Disco / Disco", 118, 5, 3),
    (81, "Jackin House", 126, 2, 2),
    (91, "Bass House", 127, 2, 2),
    (86, "UK Garage / Bassline", 132, 3, 2),
    (87, "Bass / Club", 130, 8, 1),
    (2, "Hard Techno", 150, 5, 2),
    (8, "Hard Dance / Hardcore / Neo Rave", 155, 10, 1),
    (96, "Mainstage", 128, 2, 2),
    (9, "Breaks / Breakbeat / UK Bass", 132, 6, 1),
    (13, "Psy-Trance", 142, 3, 2),
    (38, "Trap / Future Bass", 140, 12, 1),
    (98, "Amapiano", 113, 2, 1),
    (63, "Downtempo", 95, 12, 1),
]
KEYS: Final = [
    (1, "A", "Ab Minor"), (1, "B", "B Major"), (2, "A", "Eb Minor"), (2, "B", "Gb Major"),
    (3, "A", "Bb Minor"), (3, "B", "Db Major"), (4, "A", "F Minor"), (4, "B", "Ab Major"),
    (5, "A", "C Minor"), (5, "B", "Eb Major"), (6, "A", "G Minor"), (6, "B", "Bb Major"),
    (7, "A", "D Minor"), (7, "B", "F Major"), (8, "A", "A Minor"), (8, "B", "C Major"),
    (9, "A", "E Minor"), (9, "B", "G Major"), (10, "A", "B Minor"), (10, "B", "D Major"),
    (11, "A", "Gb Minor"), (11, "B", "A Major"), (12, "A", "Db Minor"), (12, "B", "E Major"),
]  # fmt: skip


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SYLLABLES: Final = _words(
    "ka lo mi ra ven tor sa dex ni bo lu ar el quin mo zer ta fi on ri da ne so ko "
    "la vi ro ma jo be ha ku ze pa yu"
)
_LABEL_SUFFIXES: Final = ("Records", "Music", "Recordings", "Audio", "", "", "Sounds", "Trax")
_WORDS: Final = _words(
    "Midnight Electric Golden Lost Deep Velvet Neon Silent Broken Higher Ocean Solar Hidden "
    "Wild Burning Frozen Endless Rising Crystal Distant Señor Café Rhythm Echo Drive Pulse "
    "Dreams Signal Motion Garden Horizon Fever Tide Machine Heart Groove Storm Mirage Circuit "
    "Ritual Shadows Fire Light Voyage Paradise Code Waves Gravity Orbit Sunrise Sunset Desire "
    "Tension Release Body Soul Mind Control Freedom Mirror Prism Spiral Vortex Nomad Tribe "
    "Jungle Desert River Mountain Thunder Rain Cloud Sky Star Moon Cosmic Eclipse Nova Aurora "
    "Phantom Ghost Spirit Magic Voodoo Hypnotic Trance Euphoria Bliss Sacred Temple Chant "
    "Dance Move Shake Jump Run Fly Fall Rise Shine Glow Spark Flash Bass Drum Kick Snare Acid "
    "Analog Digital Static Noise Silence Whisper Shout Call Answer Promise Secret Memory "
    "Future Past Present Forever Tonight Tomorrow Yesterday Morning Evening Weekend Summer "
    "Winter Autumn Spring Ibiza Berlin Detroit Chicago London Tokyo Lagos Rio Miami Paris"
)
_MIXES: Final = ("Original Mix", "Extended Mix", "Extended Mix", "Original Mix", "Radio Edit")
_COUNTRIES: Final = ("GB", "US", "DE", "NL", "FR", "IT", "ZA", "BE", "ES", "AU")


def _zipf_weights(count: int, exponent: float) -> list[float]:
    """Cumulative weights of a long-tailed popularity: rank 1 busiest, most rarely used."""
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


def _name(rng: random.Random, words: int) -> str:
    return " ".join(
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(words)
    )


def _slug(text: str) -> str:
    out: list[str] = []
    for ch in text.lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-") or "x"


def _uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _image(rng: random.Random, size: str) -> dict[str, Any]:
    uid = _uid(rng)
    return {
        "id": rng.randint(10_000_000, 49_999_999),
        "uri": f"{MEDIA}/{size}/{uid}.jpg",
        "dynamic_uri": f"{MEDIA}/{{w}}x{{h}}/{uid}.jpg",
    }


@dataclass
class World:
    """The labels, artists and genres tracks are made from, and the random stream."""

    rng: random.Random
    labels: list[dict[str, Any]]
    label_genre: list[int]
    label_weights: list[float]
    artists: list[dict[str, Any]]
    artist_weights: list[float]
    genre_weights: list[float] = field(
        default_factory=lambda: list(itertools.accumulate(g[4] for g in GENRES))
    )

    @classmethod
    def build(cls, seed: int, labels: int, artists: int) -> World:
        """Make `labels` labels and `artists` artists, deterministically from `seed`."""
        rng = random.Random(seed)
        label_objs, artist_objs = [], []
        for index in range(labels):
            name = f"{_name(rng, rng.choice((1, 1, 2)))} {rng.choice(_LABEL_SUFFIXES)}".strip()
            label_objs.append(
                {
                    "id": 10_000 + index,
                    "name": name,
                    "image": _image(rng, "500x500"),
                    "slug": _slug(name),
                }
            )
        for index in range(artists):
            name = _name(rng, rng.choice((1, 2, 2, 2, 3)))
            artist_objs.append(
                {
                    "id": 100_000 + index,
                    "image": _image(rng, "590x404"),
                    "name": name,
                    "slug": _slug(name),
                    "url": f"{API}/catalog/artists/{100_000 + index}/",
                }
            )
        genre_weights = list(itertools.accumulate(g[4] for g in GENRES))
        label_genre = [
            rng.choices(range(len(GENRES)), cum_weights=genre_weights)[0] for _ in range(labels)
        ]
        return cls(
            rng=rng,
            labels=label_objs,
            label_genre=label_genre,
            label_weights=_zipf_weights(labels, 0.9),
            artists=artist_objs,
            artist_weights=_zipf_weights(artists, 0.8),
        )

    def artist(self) -> dict[str, Any]:
        """A credited artist, busy ones more often."""
        return self.rng.choices(self.artists, cum_weights=self.artist_weights)[0]


def _genre(genre_index: int) -> dict[str, Any]:
    genre_id, name, *_ = GENRES[genre_index]
    return {
        "id": genre_id,
        "name": name,
        "slug": _slug(name),
        "url": f"{API}/catalog/genres/{genre_id}/",
    }


def _key(rng: random.Random) -> dict[str, Any]:
    number, letter, name = rng.choice(KEYS)
    note, chord = name.split(" ")
    return {
        "camelot_number": number,
        "camelot_letter": letter,
        "chord_type": {"id": 1 if chord == "Minor" else 2, "name": chord},
        "id": KEYS.index((number, letter, name)) + 1,
        "is_sharp": False,
        "is_flat": note.endswith("b"),
        "letter": note[0],
        "name": name,
    }


def _bpm(rng: random.Random, genre_index: int) -> int:
    _, _, centre, spread, _ = GENRES[genre_index]
    return max(70, min(180, round(rng.gauss(centre, spread))))


def releases(world: World, first_track_id: int) -> Iterator[list[dict[str, Any]]]:
    """Endless releases: each a list of Beatport track objects (an original, maybe remixes)."""
    rng = world.rng
    track_id = first_track_id
    for release_number in itertools.count():
        label_index = rng.choices(range(len(world.labels)), cum_weights=world.label_weights)[0]
        label = world.labels[label_index]
        genre_index = (
            world.label_genre[label_index]
            if rng.random() < 0.75
            else rng.choices(range(len(GENRES)), cum_weights=world.genre_weights)[0]
        )
        day = LAST_DAY - timedelta(days=rng.randrange(DAYS))
        main_artists = [world.artist() for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        title = " ".join(rng.sample(_WORDS, rng.choice((1, 2, 2, 3))))
        size = rng.choices((1, 2, 3, 4), weights=(40, 30, 15, 15))[0]
        release_id = 5_000_000 + release_number
        release_name = title if size == 1 else f"{title} EP"
        release = {
            "id": release_id,
            "name": release_name,
            "image": _image(rng, "1400x1400"),
            "label": label,
            "slug": _slug(release_name),
        }
        tracks = []
        for position in range(size):
            remixers: list[dict[str, Any]] = []
            mix = rng.choice(_MIXES)
            name = title if position == 0 or rng.random() < 0.7 else f"{title} Part {position}"
            if position > 0 and rng.random() < 0.6:
                remixers = [world.artist()]
                mix = f"{remixers[0]['name']} {rng.choice(('Remix', 'Extended Remix', 'Dub'))}"
            length = rng.randint(150, 480) * 1000 + rng.randint(0, 999)
            sample_start = rng.randint(30_000, max(31_000, length - 150_000))
            tracks.append(
                {
                    "artists": main_artists,
                    "publish_status": "published",
                    "bpm": _bpm(rng, genre_index),
                    "catalog_number": f"{label['slug'][:6].upper()}{release_number % 1000:03d}",
                    "exclusive": rng.random() < 0.1,
                    "genre": _genre(genre_index),
                    "id": track_id,
                    "image": _image(rng, "1500x250"),
                    "isrc": (
                        f"{rng.choice(_COUNTRIES)}{_slug(label['name'])[:3].upper():X<3}"
                        f"{day.year % 100:02d}{track_id % 100_000:05d}"
                        if rng.random() < 0.97
                        else None
                    ),
                    "key": _key(rng),
                    "length": f"{length // 60000}:{length // 1000 % 60:02d}",
                    "length_ms": length,
                    "mix_name": mix,
                    "name": name,
                    "new_release_date": day.isoformat(),
                    "pre_order": False,
                    "price": {"code": "USD", "symbol": "$", "value": 1.49, "display": "$1.49"},
                    "publish_date": (day - timedelta(days=rng.choice((0, 0, 7, 14)))).isoformat(),
                    "release": release,
                    "remixers": remixers,
                    "sample_url": f"{SAMPLES}/{_uid(rng)}.LOFI.mp3",
                    "sample_start_ms": sample_start,
                    "sample_end_ms": sample_start + 120_000,
                    "slug": _slug(name),
                    "url": f"{API}/catalog/tracks/{track_id}/",
                    "is_hype": rng.random() < 0.05,
                }
            )
            track_id += 1
        yield tracks


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What `seed` wrote."""

    tracks: int
    seconds: float
    chart_task_id: str


async def seed(
    tracks: int,
    *,
    seed: int = 7,
    labels: int = 2000,
    artists: int = 20_000,
    batch: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Store `tracks` generated tracks in the active database (already migrated)."""
    started = time.perf_counter()
    world = World.build(seed, labels, artists)
    counts = CollectCounts()
    pending: list[BeatportTrack] = []
    chart: list[BeatportTrack] = []
    stored = 0
    for release in releases(world, first_track_id=20_000_000):
        for obj in release:
            if stored + len(pending) >= tracks:
                break
            pending.append(parse_track(obj))
        if len(pending) >= batch or stored + len(pending) >= tracks:
            await store_tracks(pending, counts)
            stored += len(pending)
            chart.extend(pending[:: max(1, batch // 10)][:10])
            pending = []
            if on_progress is not None:
                on_progress(stored)
        if stored >= tracks:
            break
    # As after a collection job: the new tracks enter SQLite's search index.
    await search_index.catch_up()
    task_id = await _chart_job(world.rng, chart[:100])
    await _spotify_states()
    return SeedSummary(stored, time.perf_counter() - started, task_id)


async def _chart_job(rng: random.Random, chart: list[BeatportTrack]) -> str:
    """A finished collection of a 100-track chart, so the job filter has something to show."""
    task_id = f"seed-chart-{rng.getrandbits(32):08x}"
    target = {"kind": "chart", "beatport_id": 123456, "slug": "seed-chart"}
    row = await Job.select(Job._meta.primary_key).where(Job.task_id == task_id).first()
    if row is None:
        await jobs.create(
            task_id,
            "collect_bp_tracks_task",
            {"target": target, "max_pages": 1, "label": "chart 'seed-chart' (#123456)"},
        )
        row = await Job.select(Job._meta.primary_key).where(Job.task_id == task_id).first()
    assert row is not None
    positioned = [replace(track, position=number) for number, track in enumerate(chart, start=1)]
    counts = CollectCounts()
    await store_tracks(positioned, counts, job_pk=int(row["id"]), ordered=True)
    await jobs.save_snapshot(
        task_id,
        jobs.Snapshot(
            state="succeeded", phase="done", done=len(chart), total=len(chart),
            counts=counts.as_dict(),
        ),
    )  # fmt: skip
    return task_id


async def _spotify_states() -> None:
    """Half the library gets a Spotify state: 40% matched, 10% searched and not found."""
    searched = "CURRENT_TIMESTAMP"
    await Track.raw(
        "UPDATE track SET"
        " spotify_id = '5eed' || CAST(id AS TEXT),"
        " spotify_url = 'https://open.spotify.com/track/5eed' || CAST(id AS TEXT),"
        " spotify_title = title, spotify_artists = artists_text,"
        " spotify_album = title, spotify_album_id = 'a1b' || CAST(release AS TEXT),"
        " spotify_album_image_url = artwork_url,"
        " spotify_release_date = CAST(new_release_date AS TEXT),"
        " spotify_duration_ms = length_ms + (id % 7 - 3) * 1000,"
        " spotify_isrc = isrc, spotify_popularity = id % 100,"
        " spotify_method = CASE WHEN isrc IS NOT NULL AND id % 4 <> 0 THEN 'isrc' ELSE 'text' END,"
        " spotify_confidence = 0.8 + (id % 20) / 100.0,"
        f" spotify_searched_at = {searched}"
        " WHERE id % 10 < 4"
    )
    await Track.raw(
        f"UPDATE track SET spotify_searched_at = {searched}, spotify_confidence = NULL"
        " WHERE id % 10 = 4"
    )
    rng = random.Random(99)
    for variant in range(10):
        features = {
            "danceability": round(rng.uniform(0.4, 0.95), 3),
            "energy": round(rng.uniform(0.3, 0.98), 3),
            "key": rng.randrange(12),
            "loudness": round(rng.uniform(-14, -4), 2),
            "mode": rng.randrange(2),
            "speechiness": round(rng.uniform(0.03, 0.3), 4),
            "acousticness": round(rng.uniform(0.0, 0.4), 5),
            "instrumentalness": round(rng.uniform(0.1, 0.95), 4),
            "liveness": round(rng.uniform(0.05, 0.4), 3),
            "valence": round(rng.uniform(0.05, 0.9), 3),
            "tempo": round(rng.uniform(118, 132), 3),
            "time_signature": 4,
        }
        await Track.raw(
            "UPDATE track SET audio_features = {} WHERE id % 10 < 4 AND id % 100 = {}",
            json.dumps(features),
            variant * 3,
        )


async def prepare_database(database_url: str) -> None:
    """Point Piccolo at `database_url` and apply migrations."""
    db.use(database_url)
    await db.migrate()


async def _main(args: argparse.Namespace) -> None:
    await prepare_database(args.database_url)
    await db.start_pool()
    try:

        def report(done: int) -> None:
            print(f"\r{done:,}/{args.tracks:,} tracks", end="", file=sys.stderr, flush=True)

        summary = await seed(args.tracks, seed=args.seed, batch=args.batch, on_progress=report)
    finally:
        await db.close_pool()
    print(
        f"\nseeded {summary.tracks:,} tracks in {summary.seconds:.1f} s;"
        f" chart job {summary.chart_task_id}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    """The command line: `python -m tests.support.seed --tracks N --database-url URL`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1000)
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
