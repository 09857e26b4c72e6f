"""The reform waterfall behind the API: computed once per (snapshot, model version, date), kept.

Pricing the six steps on the country takes a few seconds (each step scores every person with
its own calibrated weights, on the snapshot's release at the period's rate); a waterfall never
changes for a version, a snapshot and a date, so it is built once (concurrent requests wait for
that one build), kept for the few keys used last, and warmed for today's date when a model
starts serving. No HTTP here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date

import pandas as pd

from features import NoReformStepsError, reform_waterfall
from serving.model_store import LoadedModel
from serving.snapshot import Snapshot

KEEP_WATERFALLS = 4

Tables = dict[str, pd.DataFrame]


class ReformWaterfalls:
    """Waterfalls per (snapshot, version, scheme date); thread-safe, built once per key."""

    def __init__(self, keep: int = KEEP_WATERFALLS):
        self._keep = keep
        self._kept: OrderedDict[tuple, tuple[Snapshot, Tables]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}

    def cached(self, snapshot: Snapshot, model: LoadedModel, scheme_date: date) -> Tables | None:
        key = (id(snapshot), model.version, scheme_date)
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
            return found[1]

    def get(self, snapshot: Snapshot, model: LoadedModel, scheme_date: date) -> Tables:
        """The waterfall's tables (``features.reform.waterfall``), built on first use."""
        found = self.cached(snapshot, model, scheme_date)
        if found is not None:
            return found
        if not model.bundle.steps:
            raise NoReformStepsError(model.version, model.name)
        key = (id(snapshot), model.version, scheme_date)
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            found = self.cached(snapshot, model, scheme_date)
            if found is None:
                found = reform_waterfall(
                    model.bundle.steps,
                    snapshot.dataset,
                    scheme_date,
                    snapshot.table,
                    snapshot.release,
                )
                with self._lock:
                    self._kept[key] = (snapshot, found)  # the entry holds the snapshot's id
                    while len(self._kept) > self._keep:
                        self._kept.popitem(last=False)
        return found
