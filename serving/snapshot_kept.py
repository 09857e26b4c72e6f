"""Values worked out from a served snapshot, kept for the few keys used last.

Payments per scheme date, what-if engines and results, reform waterfalls: each costs from a
fraction of a second to several seconds on the country and never changes for its snapshot and
key, so it is built once and kept. A key starts with the snapshot's id; each entry holds the
snapshot, so no other snapshot can take that id while the value is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from serving.snapshot import Snapshot

Value = TypeVar("Value")


class KeptPerSnapshot(Generic[Value]):
    """An LRU of values per (snapshot, key), thread-safe; ``build`` runs once per key while
    concurrent callers for the same key wait for it."""

    def __init__(self, keep: int):
        self._keep = keep
        self._kept: OrderedDict[tuple, tuple[Snapshot, Value]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    def cached(self, snapshot: Snapshot, key: tuple[Hashable, ...]) -> Value | None:
        """The value kept for ``key``, if any; never builds."""
        full = (id(snapshot), *key)
        with self._lock:
            found = self._kept.get(full)
            if found is None:
                return None
            self._kept.move_to_end(full)
            return found[1]

    def get(
        self, snapshot: Snapshot, key: tuple[Hashable, ...], build: Callable[[], Value]
    ) -> Value:
        """The value kept for ``key``, or ``build()`` (blocking) kept for next time."""
        found = self.cached(snapshot, key)
        if found is not None:
            return found
        full = (id(snapshot), *key)
        with self._lock:
            building = self._building.setdefault(full, threading.Lock())
        with building:
            found = self.cached(snapshot, key)
            if found is None:
                found = build()
                with self._lock:
                    self._kept[full] = (snapshot, found)
                    while len(self._kept) > self._keep:
                        self._kept.popitem(last=False)
                    # Later callers find the value; one waiting on this lock checks again.
                    self._building.pop(full, None)
        return found

    def __len__(self) -> int:
        return len(self._kept)
