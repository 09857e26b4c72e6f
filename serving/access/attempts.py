"""Failed key checks counted per key id and per client address, so guessing is slowed down.

Each failed check (an unknown, revoked or wrong key) is noted for the key id it named and the
address it came from. Past ``max_failures`` within ``window_seconds`` for either, further
unverified keys from there are refused with 429 and ``Retry-After`` *before* any hashing, so a
guesser can neither try keys quickly nor keep the hashing threads busy. A key that verified
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
        self._lock = threading.Lock()

    def retry_after(self, key_id: str | None, client: str | None) -> int | None:
        """Seconds until a key for ``key_id`` from ``client`` may be checked again; None: now."""
        now = self.clock()
        waits = []
        with self._lock:
            for kind, name in (("key id", key_id), ("client", client)):
                times = self._window(kind, name, now)
                if times is not None and len(times) >= self.limits[kind]:
                    waits.append(times[0] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

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
