"""Every setting Crate reads, from the environment and a `.env` file, in one place."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values

BeatportMode = Literal["auto", "web", "api"]

DEFAULT_DATABASE_URL = "sqlite:///data/crate.sqlite3"
# PostgreSQL connections each process keeps (README: "Sizing the connection pools").
DEFAULT_WEB_POOL_SIZE = 5
DEFAULT_WORKER_POOL_SIZE = 3
MAX_POOL_SIZE = 100
SECRET_KEY_FILE = Path("data") / "secret_key"


class SettingsError(ValueError):
    """A setting has a value Crate cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Crate's configuration. Tests build one directly; the app reads `from_env()`."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    password: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    secret_key: str = field(default="", repr=False)
    beatport_mode: BeatportMode = "auto"
    beatport_web_url: str = "https://www.beatport.com"
    beatport_api_url: str = "https://api.beatport.com/v4"
    beatport_token: str | None = field(default=None, repr=False)
    beatport_username: str | None = None
    beatport_password: str | None = field(default=None, repr=False)
    beatport_min_interval: float = 1.0
    spotify_client_id: str | None = None
    spotify_client_secret: str | None = field(default=None, repr=False)
    spotify_api_url: str = "https://api.spotify.com/v1/"
    spotify_token_url: str = "https://accounts.spotify.com/api/token"
    # Where a user logs in to Spotify (playlists), and where Spotify sends them back: the
    # redirect URI registered in the Spotify app, ending in /spotify/callback.
    spotify_auth_url: str = "https://accounts.spotify.com/authorize"
    spotify_redirect_uri: str = "http://127.0.0.1:8000/spotify/callback"
    spotify_match_threshold: float = 0.8
    # How long a job's worker may go silent before another worker takes the job over.
    job_idle_timeout: float = 60.0
    # PostgreSQL connections kept by each web process, and by each worker process (the
    # scheduler and the other commands keep services.db.SMALL_POOL_SIZE).
    db_pool_size: int = DEFAULT_WEB_POOL_SIZE
    worker_db_pool_size: int = DEFAULT_WORKER_POOL_SIZE
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client.
    trusted_proxies: tuple[str, ...] = ()
    # Where Crate keeps its own files: the generated secret key, and the sessions when
    # there is no Redis (relative paths are relative to the working directory).
    data_dir: Path = SECRET_KEY_FILE.parent

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None
    ) -> Settings:
        """Read settings from `env` (default: `.env` overlaid by the process environment)."""
        if env is None:
            merged: dict[str, str] = {
                key: value
                for key, value in dotenv_values(dotenv_path or Path(".env")).items()
                if value is not None
            }
            merged.update(os.environ)
            env = merged

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, default: float, *, minimum: float = 0.0) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, not {raw!r}.") from None
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum}, not {raw!r}.")
            return value

        def whole(name: str, default: int, *, low: int, high: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise SettingsError(
                    f"{name} must be a whole number from {low} to {high}, not {raw!r}."
                )
            return int(raw)

        mode = (text("BEATPORT_MODE") or "auto").lower()
        if mode not in ("auto", "web", "api"):
            raise SettingsError(f"BEATPORT_MODE must be auto, web or api, not {mode!r}.")
        port = number("CRATE_PORT", 8000, minimum=1)
        if port != int(port) or port > 65535:
            raise SettingsError("CRATE_PORT must be a whole number from 1 to 65535.")
        database_url = text("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not database_url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise SettingsError(
                "DATABASE_URL must start with sqlite:/// or postgres:// "
                f"(got something starting with {database_url.split(':', 1)[0]!r})."
            )
        return cls(
            database_url=database_url,
            redis_url=text("REDIS_URL"),
            host=text("CRATE_HOST") or "127.0.0.1",
            port=int(port),
            password=text("CRATE_PASSWORD"),
            api_token=text("CRATE_API_TOKEN"),
            secret_key=text("CRATE_SECRET_KEY") or "",
            beatport_mode=mode,  # type: ignore[arg-type]  # checked just above
            beatport_web_url=(text("BEATPORT_WEB_URL") or DEFAULTS.beatport_web_url).rstrip("/"),
            beatport_api_url=(text("BEATPORT_API_URL") or DEFAULTS.beatport_api_url).rstrip("/"),
            beatport_token=text("BEATPORT_TOKEN"),
            beatport_username=text("BEATPORT_USERNAME"),
            beatport_password=text("BEATPORT_PASSWORD"),
            beatport_min_interval=number("BEATPORT_MIN_INTERVAL", 1.0),
            spotify_client_id=text("SPOTIFY_CLIENT_ID"),
            spotify_client_secret=text("SPOTIFY_CLIENT_SECRET"),
            spotify_api_url=(text("SPOTIFY_API_URL") or DEFAULTS.spotify_api_url).rstrip("/") + "/",
            spotify_token_url=text("SPOTIFY_TOKEN_URL") or DEFAULTS.spotify_token_url,
            spotify_auth_url=text("SPOTIFY_AUTH_URL") or DEFAULTS.spotify_auth_url,
            spotify_redirect_uri=redirect_uri(
                text("SPOTIFY_REDIRECT_URI") or DEFAULTS.spotify_redirect_uri
            ),
            spotify_match_threshold=number("CRATE_MATCH_THRESHOLD", 0.8),
            job_idle_timeout=number("CRATE_JOB_IDLE_TIMEOUT", 60.0, minimum=2.0),
            db_pool_size=whole(
                "CRATE_DB_POOL_SIZE", DEFAULT_WEB_POOL_SIZE, low=1, high=MAX_POOL_SIZE
            ),
            worker_db_pool_size=whole(
                "CRATE_WORKER_DB_POOL_SIZE", DEFAULT_WORKER_POOL_SIZE, low=1, high=MAX_POOL_SIZE
            ),
            trusted_proxies=networks("CRATE_TRUSTED_PROXIES", text("CRATE_TRUSTED_PROXIES")),
        )

    @property
    def engine(self) -> Literal["sqlite", "postgres"]:
        """Which database engine `database_url` selects."""
        return "sqlite" if self.database_url.startswith("sqlite") else "postgres"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file named by `database_url` (relative paths are relative to the cwd)."""
        return Path(self.database_url.removeprefix("sqlite://").removeprefix("/") or ".")

    @property
    def effective_beatport_mode(self) -> Literal["web", "api"]:
        """`auto` resolves to api when API credentials exist, else web."""
        if self.beatport_mode != "auto":
            return self.beatport_mode
        has_login = bool(self.beatport_username and self.beatport_password)
        return "api" if self.beatport_token or has_login else "web"

    @property
    def spotify_configured(self) -> bool:
        """True when a client id and secret are both set."""
        return bool(self.spotify_client_id and self.spotify_client_secret)

    def secrets(self) -> list[str]:
        """Every secret value configured, for redaction."""
        names = (
            "password",
            "api_token",
            "secret_key",
            "beatport_token",
            "beatport_password",
            "spotify_client_secret",
        )
        return [value for name in names if (value := getattr(self, name))]

    def with_secret_key(self, data_dir: Path | None = None) -> Settings:
        """Return settings whose secret key is set, generating and keeping one in the data
        directory (`data_dir`, default the settings' own)."""
        if self.secret_key:
            return self
        path = (data_dir or self.data_dir) / SECRET_KEY_FILE.name
        return replace(self, secret_key=load_or_create_secret_key(path))


DEFAULTS = Settings()


def networks(name: str, raw: str | None) -> tuple[str, ...]:
    """IP addresses and networks listed with commas or spaces, in their usual spelling."""
    found: list[str] = []
    for item in (raw or "").replace(",", " ").split():
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name} must list IP addresses or networks (like 10.0.0.0/8), separated "
                f"by commas; {item!r} is neither."
            ) from None
    return tuple(found)


def redirect_uri(value: str) -> str:
    """SPOTIFY_REDIRECT_URI as Spotify accepts it: https, or http on a loopback IP literal
    (127.0.0.1 or [::1]; Spotify refuses `localhost`), ending where Crate listens."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        parts = urlsplit("")
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1")
    if not (parts.scheme == "https" and parts.hostname) and not loopback:
        raise SettingsError(
            "SPOTIFY_REDIRECT_URI must start with https://, or with http://127.0.0.1 or "
            "http://[::1] (Spotify refuses plain http elsewhere, and refuses localhost), "
            f"not {value!r}."
        )
    if not parts.path.endswith("/spotify/callback") or parts.query or parts.fragment:
        raise SettingsError(
            "SPOTIFY_REDIRECT_URI must end with /spotify/callback (where Crate listens), "
            f"like http://127.0.0.1:8000/spotify/callback, not {value!r}."
        )
    return value


def load_or_create_secret_key(path: Path) -> str:
    """Read the key kept at `path`, creating it (mode 600) on first use."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
