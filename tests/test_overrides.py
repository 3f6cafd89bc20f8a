"""Crate leans on private parts of two libraries; an upgrade that changes them fails here.

* tasks/stream.py subclasses taskiq-redis: it overrides the private
  `RedisStreamBroker._ack_generator`, and replaces `RedisAsyncResultBackend.set_result`
  and `set_progress` (one Redis client per pool, not one per call), writing with the
  private `_task_name`, `redis_pool` and `PROGRESS_KEY_SUFFIX` so the parent's readers
  still find what it writes.
* services/spotify/session.py overrides spotipy's private
  `SpotifyAuthBase._handle_oauth_error` (to keep the token endpoint's status and
  Retry-After) and sets `OAUTH_TOKEN_URL` and `Spotify.prefix`; services/spotify/client.py
  calls the private `Spotify._get` (one track by id, audio features without the
  deprecated wrapper).

Both libraries are pinned exactly in pyproject.toml, with a comment saying so. When one
of these tests fails, read the new version's source of the names in the message, fix
tasks/stream.py or services/spotify/ to match, then move the pin and this test.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import spotipy
import spotipy.exceptions
import spotipy.oauth2
import taskiq_redis.redis_backend
from redis.asyncio import Redis
from taskiq import TaskiqResult
from taskiq.depends.progress_tracker import TaskProgress
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from tasks.stream import CrateResultBackend, CrateStreamBroker

ROOT = Path(__file__).resolve().parent.parent
RECHECK = {
    "taskiq-redis": "re-check what tasks/stream.py overrides (see tests/test_overrides.py)",
    "spotipy": "re-check what services/spotify/ overrides (see tests/test_overrides.py)",
}


def pinned(name: str) -> str:
    """The exact version pyproject.toml pins `name` to (fails if the pin is not exact)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for spec in dependencies:
        match = re.fullmatch(rf"{re.escape(name)}==([0-9][0-9A-Za-z.]*)", spec.replace(" ", ""))
        if match and "*" not in spec:
            return match.group(1)
    pytest.fail(f"pyproject.toml must pin {name} exactly ({name}==X.Y.Z): {RECHECK[name]}")


@pytest.mark.parametrize("name", sorted(RECHECK))
def test_installed_version_is_the_exact_pin(name: str) -> None:
    installed, pin = version(name), pinned(name)
    assert installed == pin, (
        f"{name} {installed} is installed but pyproject.toml pins {pin}: {RECHECK[name]}, "
        "then move the pin."
    )


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def calls(function: Callable[..., Any], *names: str) -> list[str]:
    """Which of `names` the function's source does not mention (empty: all there)."""
    source = inspect.getsource(function)
    return [name for name in names if name not in source]


# ---------------------------------------------------------------- taskiq-redis


def test_the_stream_broker_still_acks_through_ack_generator() -> None:
    library = "taskiq-redis RedisStreamBroker"
    assert parameters(RedisStreamBroker._ack_generator) == ["self", "id", "queue_name"], (
        f"{library}._ack_generator changed its parameters; CrateStreamBroker overrides it."
    )
    assert parameters(CrateStreamBroker._ack_generator) == ["self", "id", "queue_name"]
    # The parent's listen() must still build each message's ack with it, by keyword.
    missing = calls(RedisStreamBroker.listen, "self._ack_generator(id=", "queue_name=")
    assert not missing, f"{library}.listen no longer acks via _ack_generator: {missing}"


def test_the_stream_broker_keeps_the_attributes_crate_reads() -> None:
    broker = CrateStreamBroker("redis://127.0.0.1:1/0", queue_name="q", idle_timeout=5000)
    for name in ("connection_pool", "consumer_group_name", "consumer_name", "queue_name"):
        assert hasattr(broker, name), f"taskiq-redis RedisStreamBroker has no {name} any more"
    assert broker.idle_timeout == 5000, "taskiq-redis RedisStreamBroker.idle_timeout changed"


def test_the_result_backend_keeps_what_crate_writes_with() -> None:
    library = "taskiq-redis RedisAsyncResultBackend"
    backend = CrateResultBackend("redis://127.0.0.1:1/0", result_ex_time=60)
    for name in ("redis_pool", "result_ex_time", "result_px_time", "serializer"):
        assert hasattr(backend, name), f"{library} has no {name} any more"
    assert parameters(RedisAsyncResultBackend._task_name) == ["self", "task_id"], (
        f"{library}._task_name changed"
    )
    assert taskiq_redis.redis_backend.PROGRESS_KEY_SUFFIX == "__progress"
    for method in ("set_result", "set_progress"):
        assert parameters(getattr(RedisAsyncResultBackend, method)) == parameters(
            getattr(CrateResultBackend, method)
        ), f"{library}.{method} changed its parameters; CrateResultBackend replaces it."
        # The replaced methods must still be the parent's whole job: a key named by
        # _task_name, the serializer, and the expiry options.
        missing = calls(
            getattr(RedisAsyncResultBackend, method),
            "self._task_name(task_id)",
            "self.serializer.dumpb(",
            'model_dump(mode="json")',
            "self.result_ex_time",
            "self.result_px_time",
        )
        assert not missing, f"{library}.{method} now does more or otherwise: {missing}"


async def test_the_parent_reads_what_the_crate_backend_writes(redis_url: str) -> None:
    ours = CrateResultBackend(redis_url, result_ex_time=60, prefix_str="crate-test")
    theirs: RedisAsyncResultBackend[Any] = RedisAsyncResultBackend(
        redis_url, result_ex_time=60, prefix_str="crate-test"
    )
    result: TaskiqResult[Any] = TaskiqResult(
        is_err=False, log=None, return_value={"done": 3}, execution_time=0.5
    )
    try:
        await ours.set_result("override-check", result)
        await ours.set_progress("override-check", TaskProgress(state="running", meta={"n": 1}))
        read = await theirs.get_result("override-check")
        progress = await theirs.get_progress("override-check")
        assert read.return_value == {"done": 3} and not read.is_err
        assert progress is not None and (progress.state, progress.meta) == ("running", {"n": 1})
        async with Redis.from_url(redis_url) as client:
            ttl = await client.ttl("crate-test:override-check__progress")
        assert 0 < ttl <= 60, "result_ex_time no longer applies to progress"
    finally:
        async with Redis.from_url(redis_url) as client:
            await client.delete("crate-test:override-check", "crate-test:override-check__progress")
        await ours.shutdown()
        await theirs.shutdown()


# ---------------------------------------------------------------- spotipy


def test_spotipy_token_errors_still_go_through_handle_oauth_error() -> None:
    base = spotipy.oauth2.SpotifyAuthBase
    assert parameters(base._handle_oauth_error) == ["self", "http_error"], (
        "spotipy SpotifyAuthBase._handle_oauth_error changed; services.spotify.session "
        "overrides it."
    )
    missing = calls(
        spotipy.oauth2.SpotifyClientCredentials._request_access_token,
        "self.OAUTH_TOKEN_URL",
        "self._session.post(",
        "self._handle_oauth_error(http_error)",
    )
    assert not missing, (
        "spotipy SpotifyClientCredentials._request_access_token changed: "
        f"{missing} (services.spotify.session sets OAUTH_TOKEN_URL and overrides the error hook)"
    )


def test_spotipy_get_and_prefix_are_still_there() -> None:
    assert parameters(spotipy.Spotify._get) == ["self", "url", "args", "payload", "kwargs"], (
        "spotipy Spotify._get changed; services.spotify.client calls it for tracks and audio "
        "features."
    )
    client = spotipy.Spotify(auth="token", requests_session=False)
    assert client.prefix == "https://api.spotify.com/v1/", "spotipy Spotify.prefix changed"
    missing = calls(spotipy.Spotify._internal_call, "self.prefix + url")
    assert not missing, "spotipy no longer builds URLs from Spotify.prefix"


def test_spotipy_errors_still_carry_what_crate_reads() -> None:
    error = spotipy.exceptions.SpotifyException(
        429, -1, "slow down", reason="QUOTA_EXCEEDED", headers={"Retry-After": "5"}
    )
    assert (error.http_status, error.msg, error.reason, error.headers["Retry-After"]) == (
        429,
        "slow down",
        "QUOTA_EXCEEDED",
        "5",
    ), "spotipy SpotifyException's attributes changed; services.spotify.errors reads them"
