"""Waiting for a `crate serve` process the tests started."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx


def wait_until_healthy(
    port: int, server: subprocess.Popen[Any], log: Path, *, within: float = 60.0
) -> None:
    """Poll /healthz until it answers 200; fail with the server's log if it dies or never does."""
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
