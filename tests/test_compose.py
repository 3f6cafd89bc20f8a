"""The compose file and Dockerfile run the same `crate` commands the tests run as processes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import yaml

from services import db
from services.settings import Settings
from web.cli import main

ROOT = Path(__file__).resolve().parent.parent


def parses(argv: list[str]) -> click.Context:
    """Parse a `crate …` command line with the real CLI, without running it."""
    assert argv[0] == "crate", argv
    context = main.make_context("crate", argv[1:2], resilient_parsing=False)
    command = main.get_command(context, argv[1])
    assert command is not None, f"no such command: {argv[1]}"
    return command.make_context(argv[1], list(argv[2:]), parent=context)


def test_every_app_service_runs_a_real_crate_command() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "scheduler"} <= set(services)
    commands = {
        name: services[name]["command"] for name in ("migrate", "web", "worker", "scheduler")
    }
    assert [c[1] for c in commands.values()] == ["migrate", "serve", "worker", "scheduler"]
    for argv in commands.values():
        parses(argv)
    # Production settings come from the environment, secrets from the git-ignored .env.
    assert services["web"]["environment"]["REDIS_URL"].startswith("redis://")
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://")
    assert services["web"]["env_file"] == ".env"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert "--appendonly" in services["redis"]["command"]
    assert services["migrate"]["restart"] == "no"
    web_deps = services["web"]["depends_on"]
    assert web_deps["migrate"]["condition"] == "service_completed_successfully"


def test_dockerfile_runs_the_web_command_as_a_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "uv sync --locked --no-dev" in text
    assert re.search(r"^USER crate$", text, re.M)
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.M)[-1])
    parses(cmd)
    assert "HEALTHCHECK" in text and "/healthz" in text


def test_env_example_names_every_secret_compose_requires() -> None:
    example = (ROOT / ".env.example").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", compose))
    assert required == {"POSTGRES_PASSWORD", "CRATE_SECRET_KEY", "CRATE_PASSWORD"}
    for name in required | {"CRATE_PASSWORD", "SPOTIFY_CLIENT_ID", "BEATPORT_TOKEN"}:
        assert re.search(rf"^{name}=", example, re.M), name


def option(argv: list[str], name: str) -> int:
    """The value of `name` on a compose command line (each option names its value)."""
    return int(argv[argv.index(name) + 1])


def test_the_stack_holds_well_under_postgres_connection_limit() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    postgres = services["postgres"]["command"]
    max_connections = int(postgres[postgres.index("-c") + 1].removeprefix("max_connections="))
    environment = services["web"]["environment"]
    web_pool = int(re.findall(r":-(\d+)", environment["CRATE_DB_POOL_SIZE"])[0])
    worker_pool = int(re.findall(r":-(\d+)", environment["CRATE_WORKER_DB_POOL_SIZE"])[0])
    header = (ROOT / "docker-compose.yml").read_text().splitlines()[:5]
    scale = int(re.findall(r"--scale worker=(\d+)", "\n".join(header))[0])
    web = option(services["web"]["command"], "--workers") * web_pool
    workers = scale * option(services["worker"]["command"], "--processes") * worker_pool
    scheduler_and_migrate = 2 * db.SMALL_POOL_SIZE
    assert web + workers + scheduler_and_migrate <= max_connections // 2
    # The defaults the compose file names are Crate's own.
    settings = Settings.from_env({})
    assert (web_pool, worker_pool) == (settings.db_pool_size, settings.worker_db_pool_size)
