"""The whole data model. Catalogue rows are identified by their Beatport id, never a name."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    DoublePrecision,
    Float,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Genre(Table):
    """A Beatport genre."""

    beatport_id = Integer(unique=True)
    name = Varchar(length=200)
    slug = Varchar(length=200, default="")


class SubGenre(Table, tablename="sub_genre"):
    """A Beatport sub-genre."""

    beatport_id = Integer(unique=True)
    name = Varchar(length=200)
    slug = Varchar(length=200, default="")


class Label(Table):
    """A record label."""

    beatport_id = Integer(unique=True)
    name = Varchar(length=400, index=True)
    # The name as services.name_keys compares typed names; indexed (label_name_key).
    name_key = Text(default="")
    slug = Varchar(length=400, default="")
    image_url = Text(null=True, default=None)


class Artist(Table):
    """An artist or remixer."""

    beatport_id = Integer(unique=True)
    name = Varchar(length=400, index=True)
    # The name as services.name_keys compares typed names; indexed (artist_name_key).
    name_key = Text(default="")
    slug = Varchar(length=400, default="")
    image_url = Text(null=True, default=None)


class Release(Table):
    """A release (single, EP, album) on a label."""

    beatport_id = Integer(unique=True)
    name = Varchar(length=500)
    slug = Varchar(length=500, default="")
    image_url = Text(null=True, default=None)
    label = ForeignKey(references=Label, null=True, index=True, on_delete=OnDelete.set_null)


class Track(Table):
    """One Beatport track with its Spotify match."""

    beatport_id = Integer(unique=True)
    title = Varchar(length=500)
    mix_name = Varchar(length=500, default="")
    slug = Varchar(length=500, default="")
    # Denormalised for fast search, sorting and export; the links live in TrackArtist.
    artists_text = Text(default="")
    remixers_text = Text(default="")
    search_text = Text(default="")
    isrc = Varchar(length=20, null=True, default=None, index=True)
    # bpm, camelot, genre, label and new_release_date are indexed by the covering browse
    # indexes (migration 2026-11-29T00:30), which lead with them; see migration 03:00.
    bpm = Integer(null=True, default=None)
    key_name = Varchar(length=40, null=True, default=None)
    camelot = Varchar(length=3, null=True, default=None)
    genre = ForeignKey(references=Genre, null=True, on_delete=OnDelete.set_null)
    sub_genre = ForeignKey(references=SubGenre, null=True, index=True, on_delete=OnDelete.set_null)
    label = ForeignKey(references=Label, null=True, on_delete=OnDelete.set_null)
    release = ForeignKey(references=Release, null=True, index=True, on_delete=OnDelete.set_null)
    track_number = Integer(null=True, default=None)  # its place on the release
    catalog_number = Varchar(length=100, null=True, default=None)
    length_ms = Integer(null=True, default=None)
    publish_date = Date(null=True, default=None)
    new_release_date = Date(null=True, default=None)
    pre_order = Boolean(default=False)
    exclusive = Boolean(default=False)
    is_hype = Boolean(default=False)
    sample_url = Text(null=True, default=None)
    sample_start_ms = Integer(null=True, default=None)
    sample_end_ms = Integer(null=True, default=None)
    waveform_url = Text(null=True, default=None)
    artwork_url = Text(null=True, default=None)
    price_display = Varchar(length=40, null=True, default=None)
    beatport_json = JSON(default="{}")
    content_hash = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)
    # Spotify match. searched_at null = never searched; set with no id = searched, not found.
    spotify_id = Varchar(length=40, null=True, default=None, index=True)
    spotify_url = Text(null=True, default=None)
    spotify_title = Text(null=True, default=None)
    spotify_artists = Text(null=True, default=None)
    spotify_album = Text(null=True, default=None)
    spotify_album_id = Varchar(length=40, null=True, default=None)
    spotify_album_image_url = Text(null=True, default=None)
    spotify_release_date = Varchar(length=10, null=True, default=None)
    spotify_duration_ms = Integer(null=True, default=None)
    spotify_isrc = Varchar(length=20, null=True, default=None)
    spotify_popularity = Integer(null=True, default=None)
    spotify_preview_url = Text(null=True, default=None)
    spotify_method = Varchar(length=10, null=True, default=None)
    spotify_confidence = Float(null=True, default=None)
    # Indexed by track_spotify_state (spotify_searched_at, spotify_id).
    spotify_searched_at = Timestamptz(null=True, default=None)
    spotify_error = Text(null=True, default=None)
    # An enrichment job (its job row id) searching this track now, until (Unix seconds):
    # a second enrichment skips it instead of searching it too.
    spotify_claim_job = Integer(null=True, default=None)
    spotify_claim_until = DoublePrecision(null=True, default=None)
    audio_features = JSON(null=True, default=None)
    # What a dig decided: "new" (not yet heard), "kept" or "skipped" (indexed: track_triage).
    triage = Varchar(length=10, default="new")
    triage_at = Timestamptz(null=True, default=None)
    # The Spotify album came out more than 90 days before Beatport's date (services.rerelease;
    # indexed: track_rerelease).
    rerelease = Boolean(default=False)


class TrackArtist(Table, tablename="track_artist"):
    """Who is credited on a track, as artist or remixer, in Beatport's order."""

    # Indexed by track_artist_unique (track, role, artist) and track_artist_by_artist.
    track = ForeignKey(references=Track, on_delete=OnDelete.cascade)
    artist = ForeignKey(references=Artist, on_delete=OnDelete.cascade)
    role = Varchar(length=10)  # "artist" or "remixer"
    position = Integer(default=0)


class Schedule(Table):
    """A recurring collection ("this URL every Monday 06:00, then enrich")."""

    name = Varchar(length=200)
    params = JSON(default="{}")
    cron = Varchar(length=100)
    enrich_after = Boolean(default=True)
    enabled = Boolean(default=True)
    last_run_at = Timestamptz(null=True, default=None)
    last_task_id = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Job(Table):
    """A background job: what was asked, how far it got, how it ended."""

    task_id = Varchar(length=64, unique=True)
    kind = Varchar(length=40, index=True)
    params = JSON(default="{}")  # never holds a secret
    state = Varchar(length=20, default="queued", index=True)
    phase = Varchar(length=200, default="")
    done = Integer(default=0)
    total = Integer(null=True, default=None)
    counts = JSON(default="{}")
    retry_at = Timestamptz(null=True, default=None)
    error = Text(null=True, default=None)
    cancel_requested = Boolean(default=False)
    checkpoint = JSON(null=True, default=None)
    schedule = ForeignKey(references=Schedule, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    # Who may write for the job (services.jobs.claim): each claim takes the next number,
    # and every write of a run checks it still holds it, so a worker that lost the job
    # cannot write again. `lease_until` (Unix seconds) is when an unrenewed claim lapses;
    # `kicked_at` when the job was last handed to the queue.
    claim = Integer(default=0)
    lease_until = DoublePrecision(null=True, default=None)
    kicked_at = DoublePrecision(null=True, default=None)


class JobTrack(Table, tablename="job_track"):
    """A track a job saw, with its chart position when the source is ordered."""

    # `job` is indexed by job_track_unique (job, track).
    job = ForeignKey(references=Job, on_delete=OnDelete.cascade)
    track = ForeignKey(references=Track, on_delete=OnDelete.cascade, index=True)
    position = Integer(null=True, default=None)


class Crate(Table):
    """A named, ordered list of tracks a DJ keeps; may be mirrored to a Spotify playlist."""

    name = Varchar(length=200)
    spotify_playlist_id = Varchar(length=64, null=True, default=None)
    spotify_playlist_url = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class CrateTrack(Table, tablename="crate_track"):
    """A track in a crate at a position (0 first); a track is in a crate at most once."""

    # Indexed by crate_track_unique (crate, track) and crate_track_order (crate, position).
    crate = ForeignKey(references=Crate, on_delete=OnDelete.cascade)
    track = ForeignKey(references=Track, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    added_at = Timestamptz(default=TimestamptzNow())


class SpotifyLogin(Table, tablename="spotify_login"):
    """The Spotify account Crate writes playlists for (one row at most).

    Both tokens are encrypted at rest with a key derived from CRATE_SECRET_KEY; nothing
    here is ever shown, logged or put in a job's params.
    """

    spotify_user_id = Varchar(length=200, default="")
    display_name = Varchar(length=400, default="")
    access_token = Text(default="")
    refresh_token = Text(default="")
    expires_at = DoublePrecision(default=0.0)
    scope = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [
    Genre,
    SubGenre,
    Label,
    Artist,
    Release,
    Track,
    TrackArtist,
    Schedule,
    Job,
    JobTrack,
    Crate,
    CrateTrack,
    SpotifyLogin,
]
