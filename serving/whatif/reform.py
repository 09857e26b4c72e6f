"""The reform waterfall behind the API: computed once per (snapshot, model version, date), kept.

Pricing the six steps on the country takes a few seconds (each step scores every person with
its own calibrated weights, on the snapshot's release at the period's rate); a waterfall never
changes for a version, a snapshot and a date, so it is built once (concurrent requests wait for
that one build), kept for the few keys used last, and warmed for today's date when a model
starts serving. No HTTP here.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from features import NoReformStepsError, reform_waterfall
from serving.loaded_model import LoadedModel
from serving.snapshot import Snapshot
from serving.snapshot_kept import KeptPerSnapshot

KEEP_WATERFALLS = 4

Tables = dict[str, pd.DataFrame]


class ReformWaterfalls:
    """Waterfalls per (snapshot, version, scheme date); thread-safe, built once per key."""

    def __init__(self, keep: int = KEEP_WATERFALLS):
        self._kept: KeptPerSnapshot[Tables] = KeptPerSnapshot(keep)

    def cached(self, snapshot: Snapshot, model: LoadedModel, scheme_date: date) -> Tables | None:
        return self._kept.cached(snapshot, (model.version, scheme_date))

    def get(self, snapshot: Snapshot, model: LoadedModel, scheme_date: date) -> Tables:
        """The waterfall's tables (``features.reform.waterfall``), built on first use."""
        if not model.bundle.steps:
            raise NoReformStepsError(model.version, model.name)
        return self._kept.get(
            snapshot,
            (model.version, scheme_date),
            lambda: reform_waterfall(
                model.bundle.steps, snapshot.dataset, scheme_date, snapshot.table, snapshot.release
            ),
        )
