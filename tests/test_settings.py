"""Settings: PRODUCT.md's names and defaults, .env, the kept secret key, errors in words."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.settings import Settings, SettingsError, load_or_create_secret_key


def test_defaults_match_the_product_contract() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///data/crate.sqlite3"
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.password is None and settings.api_token is None
    assert settings.beatport_mode == "auto"
    assert settings.beatport_web_url == "https://www.beatport.com"
    assert settings.beatport_api_url == "https://api.beatport.com/v4"
    assert settings.beatport_min_interval == 1.0
    assert settings.spotify_api_url == "https://api.spotify.com/v1/"
    assert settings.spotify_token_url == "https://accounts.spotify.com/api/token"
    assert settings.spotify_auth_url == "https://accounts.spotify.com/authorize"
    assert settings.spotify_redirect_uri == "http://127.0.0.1:8000/spotify/callback"
    assert settings.effective_beatport_mode == "web"
    assert not settings.spotify_configured
    assert settings.trusted_proxies == ()
    assert (settings.db_pool_size, settings.worker_db_pool_size) == (5, 3)


def test_every_variable_is_read() -> None:
    env = {
        "DATABASE_URL": "postgres://u@h/db",
        "REDIS_URL": "redis://r:6379/1",
        "CRATE_HOST": "0.0.0.0",
        "CRATE_PORT": "9000",
        "CRATE_PASSWORD": "pw-123456",
        "CRATE_API_TOKEN": "tok-123456",
        "CRATE_SECRET_KEY": "k" * 20,
        "BEATPORT_MODE": "API",
        "BEATPORT_WEB_URL": "http://127.0.0.1:1/",
        "BEATPORT_API_URL": "http://127.0.0.1:2/v4/",
        "BEATPORT_TOKEN": "bp-token",
        "BEATPORT_USERNAME": "dj",
        "BEATPORT_PASSWORD": "bp-pass",
        "BEATPORT_MIN_INTERVAL": "0.25",
        "SPOTIFY_CLIENT_ID": "cid",
        "SPOTIFY_CLIENT_SECRET": "csecret",
        "SPOTIFY_API_URL": "http://127.0.0.1:3/v1",
        "SPOTIFY_TOKEN_URL": "http://127.0.0.1:3/api/token",
        "SPOTIFY_AUTH_URL": "http://127.0.0.1:3/authorize",
        "SPOTIFY_REDIRECT_URI": "https://crate.example/spotify/callback",
        "CRATE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 ::1",
        "CRATE_DB_POOL_SIZE": "8",
        "CRATE_WORKER_DB_POOL_SIZE": "4",
    }
    s = Settings.from_env(env)
    assert (s.database_url, s.redis_url, s.host, s.port) == (
        "postgres://u@h/db",
        "redis://r:6379/1",
        "0.0.0.0",
        9000,
    )
    assert (s.password, s.api_token, s.secret_key) == ("pw-123456", "tok-123456", "k" * 20)
    assert s.beatport_mode == "api" and s.effective_beatport_mode == "api"
    assert s.beatport_web_url == "http://127.0.0.1:1"
    assert s.beatport_api_url == "http://127.0.0.1:2/v4"
    assert (s.beatport_token, s.beatport_username, s.beatport_password) == (
        "bp-token",
        "dj",
        "bp-pass",
    )
    assert s.beatport_min_interval == 0.25
    assert s.spotify_configured and s.spotify_api_url == "http://127.0.0.1:3/v1/"
    assert s.spotify_token_url == "http://127.0.0.1:3/api/token"
    assert s.spotify_auth_url == "http://127.0.0.1:3/authorize"
    assert s.spotify_redirect_uri == "https://crate.example/spotify/callback"
    ipv6 = Settings.from_env({"SPOTIFY_REDIRECT_URI": "http://[::1]:8000/spotify/callback"})
    assert ipv6.spotify_redirect_uri == "http://[::1]:8000/spotify/callback"
    assert s.engine == "postgres"
    assert s.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "::1/128")
    assert (s.db_pool_size, s.worker_db_pool_size) == (8, 4)
    # Secrets never show in a repr (which is what ends up in logs and tracebacks).
    for secret in ("pw-123456", "tok-123456", "bp-token", "bp-pass", "csecret"):
        assert secret not in repr(s)
        assert secret in s.secrets()


def test_auto_mode_picks_api_when_credentials_exist() -> None:
    assert Settings.from_env({"BEATPORT_TOKEN": "t"}).effective_beatport_mode == "api"
    login = {"BEATPORT_USERNAME": "u", "BEATPORT_PASSWORD": "p"}
    assert Settings.from_env(login).effective_beatport_mode == "api"
    assert Settings.from_env({"BEATPORT_USERNAME": "u"}).effective_beatport_mode == "web"
    forced = {"BEATPORT_TOKEN": "t", "BEATPORT_MODE": "web"}
    assert Settings.from_env(forced).effective_beatport_mode == "web"


def test_dotenv_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("CRATE_PORT=8123\nBEATPORT_MIN_INTERVAL=2.5\n")
    monkeypatch.setenv("BEATPORT_MIN_INTERVAL", "0.5")
    monkeypatch.delenv("CRATE_PORT", raising=False)
    settings = Settings.from_env(dotenv_path=tmp_path / ".env")
    assert settings.port == 8123
    assert settings.beatport_min_interval == 0.5


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"BEATPORT_MODE": "scrape"}, "BEATPORT_MODE must be auto, web or api"),
        ({"CRATE_PORT": "eighty"}, "CRATE_PORT must be a number"),
        ({"CRATE_PORT": "70000"}, "CRATE_PORT must be a whole number from 1 to 65535"),
        ({"BEATPORT_MIN_INTERVAL": "-1"}, "BEATPORT_MIN_INTERVAL must be at least 0"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with sqlite:/// or postgres://"),
        (
            {"CRATE_TRUSTED_PROXIES": "10.0.0.1, proxy.example"},
            "CRATE_TRUSTED_PROXIES must list IP addresses or networks",
        ),
        (
            {"SPOTIFY_REDIRECT_URI": "http://localhost:8000/spotify/callback"},
            "Spotify refuses plain http elsewhere, and refuses localhost",
        ),
        (
            {"SPOTIFY_REDIRECT_URI": "http://crate.lan:8000/spotify/callback"},
            "SPOTIFY_REDIRECT_URI must start with https://",
        ),
        (
            {"SPOTIFY_REDIRECT_URI": "https://crate.example/callback"},
            "SPOTIFY_REDIRECT_URI must end with /spotify/callback",
        ),
        ({"CRATE_DB_POOL_SIZE": "0"}, "CRATE_DB_POOL_SIZE must be a whole number from 1 to 100"),
        (
            {"CRATE_WORKER_DB_POOL_SIZE": "2.5"},
            "CRATE_WORKER_DB_POOL_SIZE must be a whole number from 1 to 100",
        ),
    ],
)
def test_bad_values_are_refused_in_words(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Settings.from_env(env)


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret_key"
    first = load_or_create_secret_key(path)
    assert len(first) >= 40
    assert load_or_create_secret_key(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings.from_env({}).with_secret_key(tmp_path / "data")
    assert settings.secret_key == first
    explicit = Settings.from_env({"CRATE_SECRET_KEY": "given-key"}).with_secret_key(tmp_path)
    assert explicit.secret_key == "given-key"
