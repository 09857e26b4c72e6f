"""Failed key checks counted per key id and per client address, so guessing is slowed down.

Each failed check (an unknown, revoked or wrong key) is noted for the key id it named and the
address it came from. Past ``max_failures`` within ``window_seconds`` for either, further
unverified keys from there are refused with 429 and ``Retry-After`` *before* any hashing, so a
guesser can neither try keys quickly nor keep the hashing threads busy. Checks still running
count as failures until they are done (``begin``/``end``): 80 guesses sent at once are not all
hashed before the first failure is noted. A key that verified
before is remembered by the key ring and never waits here: a flood aimed at a key id does not
lock out the service that holds the real key.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_FAILURES_PER_KEY_ID = 10
MAX_FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 60.0
TRACKED = 10_000  # key ids and addresses remembered at most; the oldest are forgotten


class FailedAttempts:
    """Sliding windows of failure times per key id and per client; thread-safe."""

    def __init__(
        self,
        *,
        per_key_id: int = MAX_FAILURES_PER_KEY_ID,
        per_client: int = MAX_FAILURES_PER_CLIENT,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = {"key id": per_key_id, "client": per_client}
        self.window = window_seconds
        self.clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._pending: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def retry_after(self, key_id: str | None, client: str | None) -> int | None:
        """Seconds until a key for ``key_id`` from ``client`` may be checked again; None: now."""
        now = self.clock()
        waits = []
        with self._lock:
            for kind, name in (("key id", key_id), ("client", client)):
                if name is None:
                    continue
                times = self._window(kind, name, now) or deque()
                if len(times) + self._pending.get((kind, name), 0) >= self.limits[kind]:
                    # full with failures: until the oldest leaves; with checks running: soon
                    waits.append(times[0] + self.window - now if times else 1.0)
        return max(1, math.ceil(max(waits))) if waits else None

    def begin(self, key_id: str | None, client: str | None) -> None:
        """A check starts: it counts against both limits until ``end``."""
        with self._lock:
            for key in self._keys(key_id, client):
                self._pending[key] = self._pending.get(key, 0) + 1

    def end(self, key_id: str | None, client: str | None, *, failed: bool) -> None:
        """A check is done; a failed one is noted in the windows."""
        with self._lock:
            for key in self._keys(key_id, client):
                left = self._pending.get(key, 0) - 1
                if left > 0:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)
        if failed:
            self.failed(key_id, client)

    @staticmethod
    def _keys(key_id: str | None, client: str | None) -> list[tuple[str, str]]:
        return [(kind, name) for kind, name in (("key id", key_id), ("client", client)) if name]

    def failed(self, key_id: str | None, client: str | None) -> None:
        """Note one failed check for the key id (if the key named one) and the client."""
        now = self.clock()
        with self._lock:
            for kind, name in (("key id", key_id), ("client", client)):
                if name is None:
                    continue
                times = self._window(kind, name, now)
                if times is None:
                    times = self._failures[(kind, name)] = deque()
                times.append(now)
                self._failures.move_to_end((kind, name))
            while len(self._failures) > TRACKED:
                self._failures.popitem(last=False)

    def _window(self, kind: str, name: str | None, now: float) -> deque[float] | None:
        if name is None:
            return None
        times = self._failures.get((kind, name))
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
