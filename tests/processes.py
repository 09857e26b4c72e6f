"""Starting a service for a test: a free port, and waiting until ``/readyz`` says ready."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(
    url: str,
    *,
    alive: Callable[[], bool],
    why_not: Callable[[], str] = lambda: "",
    seconds: float = 120,
    also: Callable[[], bool] = lambda: True,
    ready: bool = True,
) -> None:
    """Poll ``url``/readyz until it answers 200 (and ``also()`` holds); ``AssertionError`` with
    ``why_not()`` if the service stops (``alive()`` false) or the time runs out.

    ``ready=False``: any answer counts (a service expected to stay degraded answers 503)."""
    deadline = time.monotonic() + seconds
    while True:
        if not alive():
            raise AssertionError(f"service exited: {why_not()}")
        try:
            answered = httpx.get(f"{url}/readyz", timeout=2).status_code
            if (answered == 200 or not ready) and also():
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"service never became ready: {why_not()}")
        time.sleep(0.1)
