"""The OpenAPI document at /schema, and Schemathesis fuzzing the JSON routes against it.

The app runs over real HTTP with a password and an API token set, Beatport and Spotify
pointed at the fakes, so every job a generated request manages to start is harmless.
Schemathesis runs in a worker thread while the test's event loop serves the app.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services import jobs
from services.tables import Job
from tests.conftest import JOB_STATUS_FIELDS, LiveApp, make_settings, serve_app
from tests.fakes.beatport import FakeBeatport
from tests.fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify
from web.app import create_app

API_TOKEN = "schema-test-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}", "Accept": "application/json"}
# (method, path) of the JSON routes, and how many examples each gets per generation mode.
JSON_ROUTES = {
    ("POST", "/collect/beatport/collect"): 40,
    ("POST", "/collect/spotify/enrich"): 25,
    ("GET", "/tasks/status/{task_id}"): 25,
    ("POST", "/tasks/{task_id}/cancel"): 15,
    ("GET", "/healthz"): 3,
    ("GET", "/readyz"): 3,
    ("POST", "/schedules"): 25,
    ("GET", "/tracks"): 3,
    ("GET", "/tracks/export.csv"): 3,
    # Every integer id in a path, out of range included (2**31 and up on PostgreSQL).
    ("GET", "/tracks/{track_id}"): 25,
    ("GET", "/artists/{artist_id}"): 25,
    ("GET", "/labels/{label_id}"): 25,
    ("GET", "/releases/{release_id}"): 25,
    ("POST", "/schedules/{schedule_id}/toggle"): 25,
    ("POST", "/schedules/{schedule_id}/delete"): 25,
    ("POST", "/crates/{crate_id}/spotify"): 15,
    ("GET", "/crates"): 3,
    ("GET", "/crates/{crate_id}"): 25,
    ("GET", "/crates/{crate_id}/export.csv"): 10,
    ("GET", "/crates/{crate_id}/export.m3u8"): 10,
    ("DELETE", "/crates/{crate_id}/tracks/{beatport_id}"): 25,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeBeatport, FakeSpotify]]:
    """Fake Beatport and Spotify: whatever a generated job fetches stays on loopback."""
    with FakeBeatport(charts={11: 5}, per_page=25) as beatport, FakeSpotify() as spotify:
        yield beatport, spotify


@pytest.fixture
async def api(database_url: str, fakes: tuple[FakeBeatport, FakeSpotify]) -> AsyncIterator[LiveApp]:
    """The app with a password, an API token and both fakes."""
    beatport, spotify = fakes
    settings = make_settings(
        database_url,
        password="schema-test-password",
        api_token=API_TOKEN,
        beatport_mode="web",
        beatport_web_url=beatport.web_url,
        beatport_api_url=beatport.api_url,
        spotify_client_id=DEFAULT_CLIENT_ID,
        spotify_client_secret=DEFAULT_CLIENT_SECRET,
        spotify_api_url=spotify.api_url,
        spotify_token_url=spotify.token_url,
        trusted_proxies=("127.0.0.1/32",),  # the fuzzer plays a proxy naming many clients
    )
    async for live in serve_app(create_app(settings)):
        yield live
        # Let the jobs the fuzzing started end before the server stops.
        deadline = time.monotonic() + 30
        while await Job.count().where(Job.state.is_in(list(jobs.ACTIVE_STATES))):
            assert time.monotonic() < deadline, "jobs started by the fuzzing never ended"
            await asyncio.sleep(0.05)


async def openapi_document(live: LiveApp) -> dict[str, Any]:
    """GET /schema with the API token (it needs a login like everything else)."""
    refused = await live.http.get("/schema", headers={"Accept": "application/json"})
    assert refused.status_code == 401
    response = await live.http.get("/schema", headers=AUTH)
    assert response.status_code == 200
    assert "json" in response.headers["content-type"]
    same = await live.http.get("/schema/openapi.json", headers=AUTH)
    assert same.json() == response.json()
    document: dict[str, Any] = response.json()
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref."""
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def response_schema(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    content = document["paths"][path][method]["responses"][status]["content"]
    return resolve(document, content["application/json"]["schema"])


async def test_the_json_routes_are_described(api: LiveApp) -> None:
    document = await openapi_document(api)
    assert document["info"]["title"] == "Crate"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, properties in {
        "/collect/beatport/collect": {"url", "genre", "date_from", "date_to", "max_pages"},
        "/collect/spotify/enrich": {"limit", "retry_not_found", "job"},
    }.items():
        post = document["paths"][path]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["properties"]) == properties
        assert {"202", "400", "401", "413", "422", "429", "503"} <= set(post["responses"])
        assert set(response_schema(document, path, "post", "202")["required"]) == {
            "task_id",
            "status_url",
        }
        assert set(response_schema(document, path, "post", "422")["required"]) == {
            "detail",
            "errors",
        }
    status = response_schema(document, "/tasks/status/{task_id}", "get", "200")
    assert set(status["required"]) == JOB_STATUS_FIELDS
    assert status["properties"]["state"]["enum"] == [
        "queued",
        "running",
        "waiting",
        "succeeded",
        "failed",
        "cancelled",
    ]
    assert "404" in document["paths"]["/tasks/status/{task_id}"]["get"]["responses"]
    send = document["paths"]["/crates/{crate_id}/spotify"]["post"]
    assert {"202", "404", "409", "503"} <= set(send["responses"])
    assert set(
        response_schema(document, "/crates/{crate_id}/spotify", "post", "409")["required"]
    ) == {
        "detail",
        "errors",
    }


def fuzz(document: dict[str, Any], base_url: str) -> list[str]:
    """Run Schemathesis on the JSON routes (blocking: call it from a worker thread)."""
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    tried: list[str] = []
    sent = itertools.count(1)
    for (method, path), examples in JSON_ROUTES.items():
        operation = schema[path][method]
        modes = [GenerationMode.POSITIVE]
        if method == "POST" and "requestBody" in document["paths"][path]["post"]:
            modes.append(GenerationMode.NEGATIVE)
        elif "{" in path and "integer" in str(document["paths"][path]):
            modes.append(GenerationMode.NEGATIVE)  # ids out of their documented range
        for mode in modes:

            @hypothesis.settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                # Each request from its own address (through the trusted local proxy),
                # so the job rate limit per address stays out of the way.
                number = next(sent)
                address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
                case.call_and_validate(
                    base_url=base_url,
                    session=session,
                    headers={**AUTH, "X-Forwarded-For": address},
                    checks=CHECKS,
                )

            run()
            tried.append(f"{method} {path} ({mode.value})")
    return tried


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(api: LiveApp) -> None:
    document = await openapi_document(api)
    tried = await asyncio.to_thread(fuzz, document, api.url)
    # + POST /crates/{crate_id}/spotify, both modes; the crates' reads and their DELETE
    # (GET /crates positive only, the routes with ids in both modes).
    assert len(tried) == 12 + 6 * 2 + 2 + 1 + 4 * 2
