"""The `crate` command as a new user runs it: real processes, a fresh working directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.conftest import crate_command, free_port, stop_process
from tests.support.serving import wait_until_healthy


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a crate command to completion."""
    return subprocess.run(
        crate_command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_serve_starts_on_the_embedded_default(tmp_path: Path, process_env: dict[str, str]) -> None:
    port = free_port()
    env = {**process_env, "CRATE_PORT": str(port)}
    env.pop("CRATE_SECRET_KEY")  # a new user sets none: Crate makes and keeps one
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            crate_command("serve"), cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(port, server, log)
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200
        assert "Recent jobs" in page.text
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["status"] == "ok"
    finally:
        stop_process(server)
    assert (tmp_path / "data" / "crate.sqlite3").exists()
    assert (tmp_path / "data" / "secret_key").exists()
    text = log.read_text()
    assert f"Crate on http://127.0.0.1:{port}/ (database: sqlite, jobs: in-process)" in text
    assert "Database migrated." in text


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
