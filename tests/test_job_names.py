"""Jobs are called by what Beatport calls what they collect ("Label Sonar & Licht / Digital"),
in web and API mode, on /jobs, on track pages and in `crate jobs`; a failed collection says
where it stopped and what it kept, and Retry asks for the same again."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from services import jobs
from services.beatport.client import BeatportClient
from services.beatport.links import parse_target
from services.beatport.names import page_name
from services.beatport.targets import Target, genre_target
from services.enrich_request import EnrichRequest
from services.settings import Settings
from services.tables import Job, JobTrack
from tasks.enrichment import ENRICH_KIND
from tests.conftest import LiveApp, crate_command, make_settings, serve_app
from tests.fakes.beatport import FakeBeatport, artist_name
from tests.support.fixtures import real_fixtures
from web.app import create_app

TOKEN = "names-test-token-0123456789"
WINDOW = (date(2026, 1, 1), date(2026, 1, 31))
# What the fake's pages (and the API's own objects) call these; their tracks keep the
# fake's made-up names, so API mode, which reads names off the tracks, says those.
NAMES = {
    ("label", 7): "Sonar & Licht / Digital",
    ("chart", 12): "Diggers' Choice — January",
    ("artist", 5): "Kölsch",
    ("release", 9): "Ostwind EP",
}


# ---------------------------------------------------------------- words


def test_a_job_is_called_by_beatports_name_for_the_thing() -> None:
    assert Target("label", 7, "x").title("Sonar & Licht / Digital") == (
        "Label Sonar & Licht / Digital"
    )
    assert Target("chart", 12, "x").title("Diggers' Choice — January") == (
        "Chart Diggers' Choice — January"
    )
    assert Target("artist", 5, "kolsch").title("Kölsch") == "Kölsch's tracks"
    assert Target("genre_top100", 90, "x").title("Melodic House & Techno") == (
        "Top 100: Melodic House & Techno"
    )
    assert Target("release", 9, "x").title("Ostwind EP") == "Release Ostwind EP"
    assert Target("track", 1, "x").title("Purpose (Original Mix)") == (
        "Track Purpose (Original Mix)"
    )
    dates = genre_target(90, *WINDOW, today=WINDOW[0])
    assert dates.title("Melodic House & Techno") == (
        "Melodic House & Techno releases 2026-01-01 – 2026-01-31"
    )
    assert Target("top100").title() == "Beatport Top 100"
    assert Target("label", 7, "x").title("  Too   many\tspaces ") == "Label Too many spaces"


def test_one_name_for_each_thing() -> None:
    # Matching is "Match to Spotify" on the button, the job, its badge and the CLI.
    assert jobs.job_title(ENRICH_KIND) == "Match to Spotify"
    assert EnrichRequest(limit=5).to_params()["label"] == "Match to Spotify, at most 5 tracks"
    # A finished job is "done" wherever people read it; the status JSON keeps "succeeded".
    done = jobs.Snapshot(state="succeeded", counts={"new": 3})
    assert (done.state_word, done.in_words()) == ("done", "done (3 new)")
    assert done.to_json()["state"] == "succeeded"
    assert [jobs.state_word(state) for state in jobs.FINAL_STATES] == [
        "done",
        "failed",
        "cancelled",
    ]
    failed = jobs.Snapshot(state="failed", phase="on page 2 of 3: 100 tracks kept", error="No.")
    assert failed.in_words() == "failed on page 2 of 3: 100 tracks kept. No."
    assert jobs.Snapshot(state="failed", error="No.").in_words() == "failed: No."


def test_before_the_first_page_a_job_is_called_by_its_link() -> None:
    words = {
        "https://www.beatport.com/label/sonar-licht-digital/7/tracks": "Label Sonar Licht Digital",
        "https://www.beatport.com/chart/diggers-choice-january/12": "Chart Diggers Choice January",
        "https://www.beatport.com/artist/kolsch/5/tracks": "Kolsch's tracks",
        "https://www.beatport.com/genre/melodic-house-techno/90/top-100": (
            "Top 100: Melodic House Techno"
        ),
    }
    for url, expected in words.items():
        assert parse_target(url).describe() == expected
    assert genre_target(90, *WINDOW, today=WINDOW[0]).describe() == (
        "Genre #90 releases 2026-01-01 – 2026-01-31"
    )


def test_a_real_track_page_names_its_track() -> None:
    folder = real_fixtures() / "beatport"
    page = json.loads((folder / "track-page_purpose_6389004.next_data.json").read_text())
    target = Target("track", 6389004, "purpose")
    assert target.title(page_name(page, target)) == "Track Purpose (Original Mix)"
    # The /_next/data/… variant (no `props` wrapper) names its track too.
    route = json.loads((folder / "track-page_concussion_194481.next-data-route.json").read_text())
    assert page_name(route, Target("track", 194481, "concussion"))
    # A name is never taken from another object than the one asked for.
    assert page_name(page, Target("track", 6389005, "purpose")) is None
    top = json.loads((folder / "top-100_2026-01-25.next_data.trimmed.json").read_text())
    assert page_name(top, Target("top100")) is None


# ---------------------------------------------------------------- both modes, over HTTP


@pytest.fixture
def fake() -> Iterator[FakeBeatport]:
    """A fake Beatport whose pages name a label, a chart, an artist and a release."""
    with FakeBeatport(
        per_page=25,
        charts={12: 30},
        labels={7: 250, 8: 40},
        artists={5: 30},
        releases={9: 8},
        genres={90: 40},
        names=NAMES,
        api_token=TOKEN,
        release_window=WINDOW,
    ) as server:
        yield server


def fake_settings(fake: FakeBeatport, mode: str, database_url: str = "sqlite:///-") -> Settings:
    """Settings pointing at the fake, in web or API mode."""
    return make_settings(
        database_url,
        beatport_mode=mode,
        beatport_web_url=fake.web_url,
        beatport_api_url=fake.api_url,
        beatport_token=TOKEN if mode == "api" else None,
    )


def expected_names(fake: FakeBeatport, mode: str) -> dict[str, str]:
    """What each link's job is called once its first page is read, in `mode`."""
    label_track = fake.track(fake.track_ids("label", 7)[0])  # type: ignore[index]
    release_track = fake.track(fake.track_ids("release", 9)[0])  # type: ignore[index]
    web = mode == "web"
    return {
        "https://www.beatport.com/label/sonar-licht-digital/7/tracks": "Label "
        + ("Sonar & Licht / Digital" if web else label_track["release"]["label"]["name"]),
        # A chart's tracks never name it: API mode asks for the chart's own object.
        "https://www.beatport.com/chart/diggers-choice-january/12": (
            "Chart Diggers' Choice — January"
        ),
        "https://www.beatport.com/artist/kolsch/5/tracks": ("Kölsch" if web else artist_name(5))
        + "'s tracks",
        "https://www.beatport.com/release/ostwind/9": "Release "
        + ("Ostwind EP" if web else release_track["release"]["name"]),
        "https://www.beatport.com/genre/melodic-house-techno/90/top-100": (
            "Top 100: Melodic House & Techno"
        ),
        "https://www.beatport.com/genre/melodic-house-techno/90/hype-100": (
            "Hype 100: Melodic House & Techno"
        ),
        f"https://www.beatport.com/track/x/{label_track['id']}": (
            f"Track {label_track['name']} ({label_track['mix_name']})"
        ),
        "https://www.beatport.com/top-100": "Beatport Top 100",
    }


@pytest.mark.parametrize("mode", ["web", "api"])
async def test_both_modes_name_what_they_collect(fake: FakeBeatport, mode: str) -> None:
    async with BeatportClient(fake_settings(fake, mode)) as client:
        for url, expected in expected_names(fake, mode).items():
            target = parse_target(url)
            listing = await client.fetch_page(target, 1)
            assert target.title(listing.name) == expected, url
        if mode == "web":
            return  # public pages cannot list a genre between two dates (API mode only)
        dates = genre_target(90, *WINDOW, today=WINDOW[0])
        listing = await client.fetch_page(dates, 1)
        assert dates.title(listing.name) == (
            "Melodic House & Techno releases 2026-01-01 – 2026-01-31"
        )


# ---------------------------------------------------------------- jobs, pages, Retry


@pytest.fixture(params=["web", "api"])
async def app(
    request: pytest.FixtureRequest, database_url: str, fake: FakeBeatport
) -> AsyncIterator[LiveApp]:
    """The app with in-process jobs, collecting from the fake in web and in API mode."""
    settings = fake_settings(fake, request.param, database_url)
    async for live in serve_app(create_app(settings)):
        yield live


def text_of(html: str, selector: str) -> list[str]:
    """The text of each element `selector` finds, spaces tidied."""
    soup = BeautifulSoup(html, "html.parser")
    return [" ".join(element.get_text(" ").split()) for element in soup.select(selector)]


async def test_a_collection_is_named_on_jobs_and_track_pages(app: LiveApp) -> None:
    url = "https://www.beatport.com/chart/diggers-choice-january/12"
    task_id, status = await app.run_job("/collect/beatport/collect", {"url": url})
    assert status["state"] == "succeeded"
    query = Job.select(Job._meta.primary_key, Job.params).where(Job.task_id == task_id)
    row = await query.first()
    assert row is not None
    params = row["params"] if isinstance(row["params"], dict) else json.loads(row["params"])
    assert params["label"] == "Chart Diggers' Choice — January"
    # What was asked is unchanged: the same request can be made again.
    assert params["target"] == parse_target(url).to_params()

    history = await app.http.get("/jobs")
    [badge] = text_of(history.text, ".badge")
    assert badge.startswith("Chart Diggers' Choice — January done (30 new"), badge
    status_badge = await app.http.get(f"/tasks/status/{task_id}")
    assert text_of(status_badge.text, ".job-name") == ["Chart Diggers' Choice — January"]
    # The track page's "Seen by" names the job the same way.
    seen = await JobTrack.select(JobTrack.track).where(JobTrack.job == row["id"]).first()
    assert seen is not None
    track_page = await app.http.get(f"/tracks/{seen['track']}")
    assert text_of(track_page.text, "table.sightings td a") == ["Chart Diggers' Choice — January"]


async def test_a_failed_collection_says_where_and_what_it_kept_and_retries(
    app: LiveApp, fake: FakeBeatport
) -> None:
    fake.failing_pages = {2: 503}  # page 2 of 3 (100 a page) answers 503, again and again
    url = "https://www.beatport.com/label/sonar-licht-digital/7/tracks"
    task_id, status = await app.run_job("/collect/beatport/collect", {"url": url})
    assert status["state"] == "failed"
    assert status["phase"] == "on page 2 of 3: 100 tracks kept"
    assert "503" in status["error"]
    badge_html = (await app.http.get(f"/tasks/status/{task_id}")).text
    [words] = text_of(badge_html, "[role=status]")
    assert words.startswith("failed on page 2 of 3: 100 tracks kept. Beatport kept answering 503")
    retry = BeautifulSoup(badge_html, "html.parser").select_one("form[hx-post] button.retry")
    assert retry is not None and retry.get_text() == "Retry"

    fake.failing_pages = {}
    again = await app.http.post(f"/collect/retry/{task_id}", json={})
    assert again.status_code == 202, again.text
    retried = again.json()["task_id"]
    assert retried != task_id
    final = await app.wait_for_state(retried, ("succeeded", "failed"))
    assert final["state"] == "succeeded"
    assert final["counts"]["new"] == 150 and final["counts"]["unchanged"] == 100
    old, new = await Job.select(Job.params).where(Job.task_id.is_in([task_id, retried]))
    assert old["params"] == new["params"]  # the very same request

    # Only an ended job that did not succeed is retried; an unknown id is a 404, in words.
    refused = await app.http.post(f"/collect/retry/{retried}", json={})
    assert refused.status_code == 409 and "only a failed or cancelled job" in refused.text
    missing = await app.http.post("/collect/retry/nosuchjob", json={})
    assert missing.status_code == 404 and "No job has the id" in missing.json()["detail"]


# ---------------------------------------------------------------- `crate jobs`


def test_crate_jobs_tells_two_collections_apart(
    tmp_path: Path, fake: FakeBeatport, process_env: dict[str, str]
) -> None:
    env = {**process_env, **fake.web_env()}

    def crate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            crate_command(*args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    for url in (
        "https://www.beatport.com/label/sonar-licht-digital/7/tracks",
        "https://www.beatport.com/artist/kolsch/5/tracks",
    ):
        done = crate("collect", url, "--wait")
        assert done.returncode == 0, done.stderr
    fake.failing_pages = {2: 503}
    failed = crate("collect", "https://www.beatport.com/label/sonar-licht-digital/7/tracks")
    assert failed.returncode == 1
    assert "Failed on page 2 of 3: 100 tracks kept. Beatport kept answering 503" in failed.stderr

    listing = crate("jobs")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 3, listing.stdout
    # Newest first: each line says when, what (by name), how it stands, and its id.
    assert "Label Sonar & Licht / Digital: failed on page 2 of 3: 100 tracks kept. " in lines[0]
    assert "Kölsch's tracks: done (30 new, 0 updated, 0 unchanged, 0 skipped)" in lines[1]
    assert "Label Sonar & Licht / Digital: done (250 new, 0 updated" in lines[2]
    for line in lines:
        assert line[:4].isdigit() and line[16:18] == "  ", line  # "2026-12-07 19:30  "
        assert line.endswith("]") and len(line.rsplit("[", 1)[1]) == 33  # "[<task id>]"
    assert "succeeded" not in listing.stdout
