"""The `crate` command as a new user runs it: real processes, a fresh working directory."""

from __future__ import annotations

import queue
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import crate_command, free_port, stop_process
from tests.fakes.beatport import FakeBeatport


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a crate command to completion."""
    return subprocess.run(
        crate_command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


class Serving:
    """A `crate serve` process whose output lines are read as they come."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            crate_command("serve", *args),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def stop(self) -> None:
        """Stop the server and its output's reader."""
        stop_process(self.process)
        self.reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def line_with(self, text: str, within: float = 60.0) -> str:
        """The first output line holding `text`, waiting for it as it is printed."""
        deadline = time.monotonic() + within
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {self.seen}") from None
            self.seen.append(line)
            if text in line:
                return line


def test_serve_says_its_address_once_it_accepts_connections(
    tmp_path: Path, process_env: dict[str, str]
) -> None:
    port = free_port()
    env = {**process_env, "CRATE_PORT": str(port)}
    env.pop("CRATE_SECRET_KEY")  # a new user sets none: Crate makes and keeps one
    serving = Serving(tmp_path, env)
    try:
        serving.line_with("Migrating the database…")
        serving.line_with("Database up to date.")
        line = serving.line_with("Crate on http://")
        assert line == f"Crate on http://127.0.0.1:{port}/ (database: sqlite, jobs: in-process)"
        # A script reading the address connects at once: no refusal, no retry.
        url = line.split()[2]
        assert httpx.get(f"{url}healthz").status_code == 200
        page = httpx.get(url)
        assert page.status_code == 200
        assert "Recent jobs" in page.text
        ready = httpx.get(f"{url}readyz").json()
        assert ready["status"] == "ok"
        # A second server on the same port says so in words, before touching the database.
        taken = run(["serve"], tmp_path, env)
        assert taken.returncode == 1
        assert f"Another program already listens on port {port}" in taken.stderr
        assert "Traceback" not in taken.stderr
    finally:
        serving.stop()
    assert (tmp_path / "data" / "crate.sqlite3").exists()
    assert (tmp_path / "data" / "secret_key").exists()
    again = Serving(tmp_path, env)
    try:
        again.line_with("Crate on http://")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        again.stop()
    assert "Database up to date." in again.seen
    assert not any("Migrating" in line for line in again.seen)  # nothing left to migrate


def test_migrate_is_idempotent(tmp_path: Path, process_env: dict[str, str]) -> None:
    first = run(["migrate"], tmp_path, process_env)
    assert first.returncode == 0, first.stderr
    from services.piccolo_app import APP_CONFIG

    count = len(list(Path(APP_CONFIG.resolved_migrations_folder_path).glob("crate_*.py")))
    assert f"Running {count} migrations" in first.stdout
    second = run(["migrate"], tmp_path, process_env)
    assert second.returncode == 0, second.stderr
    assert "No migrations need to be run" in second.stdout


def test_migrate_reports_an_unreachable_database_in_words(
    tmp_path: Path, process_env: dict[str, str]
) -> None:
    env = {**process_env, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    result = run(["migrate"], tmp_path, env)
    assert result.returncode == 1
    assert "Error:" in result.stderr and "Traceback" not in result.stderr


def test_worker_needs_redis(tmp_path: Path, process_env: dict[str, str]) -> None:
    result = run(["worker"], tmp_path, process_env)
    assert result.returncode == 1
    assert "crate worker needs REDIS_URL" in result.stderr


def test_bad_setting_is_an_error_in_words(tmp_path: Path, process_env: dict[str, str]) -> None:
    result = run(["migrate"], tmp_path, {**process_env, "BEATPORT_MODE": "scrape"})
    assert result.returncode == 2
    assert "BEATPORT_MODE must be auto, web or api" in result.stderr
    assert "Traceback" not in result.stderr


def test_jobs_lists_and_cancel_explains(tmp_path: Path, process_env: dict[str, str]) -> None:
    assert run(["migrate"], tmp_path, process_env).returncode == 0
    listing = run(["jobs"], tmp_path, process_env)
    assert listing.returncode == 0 and "No jobs yet." in listing.stdout
    cancel = run(["jobs", "cancel", "nope"], tmp_path, process_env)
    assert cancel.returncode == 1
    assert "No job has the id 'nope'" in cancel.stderr


def test_collect_wait_in_process_finishes_the_search_index_before_it_exits(
    tmp_path: Path, process_env: dict[str, str]
) -> None:
    """Without REDIS_URL the job runs in the command; what follows its ending (new tracks
    entering SQLite's search index) must finish before the command exits, not be cut off
    with a CancelledError traceback."""
    assert run(["migrate"], tmp_path, process_env).returncode == 0
    database = tmp_path / "data" / "crate.sqlite3"
    # Tracks an earlier process stored but never indexed: the index step after the job
    # has them to do too, so it is still at work when the job's ending is recorded.
    with sqlite3.connect(database) as connection:
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)"
            " INSERT INTO track (beatport_id, title, mix_name, slug, artists_text,"
            " remixers_text, search_text, beatport_json, content_hash)"
            " SELECT 900000000 + i, 'Filler ' || i, 'Original Mix', 'filler', 'Someone', '',"
            " 'filler ' || i || ' original mix someone somewhere on some label', '{}', 'h' || i"
            " FROM n"
        )
    with FakeBeatport(labels={21: 120}) as fake:
        result = run(
            ["collect", "https://www.beatport.com/label/l/21/tracks", "--wait"],
            tmp_path,
            {**process_env, **fake.web_env()},
        )
        collected = fake.track(fake.track_ids("label", 21)[0])  # type: ignore[index]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "CancelledError" not in result.stderr
    assert "Done (120 new, 0 updated, 0 unchanged, 0 skipped)." in result.stdout
    # Said while the index step works (the count: what it still had to do at that moment).
    assert re.search(r"^Adding [\d,]+ tracks to the search index…$", result.stderr, re.M)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM search_pending").fetchone() == (0,)
        # FTS5's own check that its index holds exactly what the tracks hold.
        connection.execute("INSERT INTO track_fts(track_fts, rank) VALUES ('integrity-check', 1)")
        word = collected["name"].split()[0].lower()
        found = connection.execute(
            "SELECT t.beatport_id FROM track_fts f JOIN track t ON t.id = f.rowid"
            " WHERE track_fts MATCH ?",
            [f'"{word}"'],
        ).fetchall()
    assert (collected["id"],) in found
