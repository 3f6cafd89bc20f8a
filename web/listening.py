"""When `crate serve` really listens: its address is said only once a connection to it
succeeds (uvicorn holds the main thread, so a thread watches)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

# A server listening on every address is reached here through loopback.
_REACHED_AS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def reachable_address(host: str) -> str:
    """Where this machine reaches a server listening on `host`."""
    name = host.strip().removeprefix("[").removesuffix("]")
    return _REACHED_AS.get(name, name)


def accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port now. Nothing is sent, so
    the server logs no request: uvicorn's processes listen only once the app has started,
    so a connection succeeding means the app answers."""
    try:
        with socket.create_connection((reachable_address(host), port), timeout=1):
            return True
    except OSError:
        return False


def when_accepting(host: str, port: int, then: Callable[[], None]) -> threading.Thread:
    """Call `then` (from a daemon thread) as soon as host:port accepts connections."""

    def watch() -> None:
        while not accepts(host, port):
            time.sleep(0.05)
        then()

    thread = threading.Thread(target=watch, name="crate-serve-listening", daemon=True)
    thread.start()
    return thread
