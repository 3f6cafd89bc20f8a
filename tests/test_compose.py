"""The compose file and Dockerfile run the same `crate` commands the tests run as processes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import yaml

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
