"""What-if engines and results kept per snapshot and model versions, behind the API.

Setting up a ``WhatIfEngine`` derives the features of every person in the snapshot (about 4 s for
the country); a scenario then costs tens of milliseconds. ``WhatIfEngines`` builds one engine per
(snapshot, baseline version), once, while concurrent requests for the same key wait for that one
build, and keeps the few used last; it also keeps the results of the last scenarios.
``run_scenario`` resolves a scenario's models and answers it. No HTTP here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from features import ModelNotFoundError
from serving.model_store import LoadedModel, ModelStore, normalise_ref
from serving.snapshot import Snapshot
from serving.whatif.engine import WhatIfEngine
from serving.whatif.result import WhatIfResult
from serving.whatif.scenario import Scenario

KEEP_ENGINES = 2
KEEP_RESULTS = 32  # scenarios a policy team moves between, each a few hundred KB of tables
NAME_TTL_SECONDS = 60.0


class WhatIfEngines:
    """``WhatIfEngine`` per (snapshot, baseline version), built once and kept for a few keys.

    Thread-safe: the first request for a key builds its engine, concurrent ones wait for it.
    A version never changes, so an engine stays right as long as its snapshot is served.
    """

    def __init__(self, keep: int = KEEP_ENGINES, keep_results: int = KEEP_RESULTS):
        self._keep = keep
        self._keep_results = keep_results
        self._engines: OrderedDict[tuple[int, str], tuple[Snapshot, WhatIfEngine]] = OrderedDict()
        # A result per (snapshot, versions, scenario, options); the entry holds the snapshot so
        # its id is not reused while the result is kept.
        self._results: OrderedDict[tuple, tuple[Snapshot, WhatIfResult]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[int, str], threading.Lock] = {}
        self._names: dict[str, tuple[str, float]] = {}

    def cached(self, snapshot: Snapshot, baseline: LoadedModel) -> WhatIfEngine | None:
        """The engine for this snapshot and baseline version if built; never builds."""
        key = (id(snapshot), baseline.version)
        with self._lock:
            found = self._engines.get(key)
            if found is None:
                return None
            self._engines.move_to_end(key)
            return found[1]

    def get(self, snapshot: Snapshot, baseline: LoadedModel) -> WhatIfEngine:
        """The engine for this snapshot and baseline version, built on first use (blocking)."""
        found = self.cached(snapshot, baseline)
        if found is not None:
            return found
        key = (id(snapshot), baseline.version)  # the entry holds the snapshot: its id stays
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            found = self.cached(snapshot, baseline)
            if found is None:
                dataset = snapshot.dataset
                found = WhatIfEngine(
                    dataset.persons, dataset.lists, dataset.kommuner, baseline.bundle
                )
                with self._lock:
                    self._engines[key] = (snapshot, found)
                    while len(self._engines) > self._keep:
                        self._engines.popitem(last=False)
        return found

    def result(self, snapshot: Snapshot, key: tuple, compute) -> tuple[WhatIfResult, bool]:
        """The kept result for ``key``, or ``compute()`` kept for next time; and whether kept.

        A version never changes and a run is deterministic, so a kept result is the very result
        a new run gives: paging its lists or asking again costs no national pricing.
        """
        key = (id(snapshot), *key)
        with self._lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
                return found[1], True
        result = compute()
        with self._lock:
            self._results[key] = (snapshot, result)
            while len(self._results) > self._keep_results:
                self._results.popitem(last=False)
        return result, False

    def resolve(self, store: ModelStore, ref: str, baseline: LoadedModel) -> LoadedModel:
        """A scenario's model by version, alias or model name (``model0_2023``), blocking.

        A model name is the newest registered version trained as that model (its ``ptb_model``
        tag); the baseline's own name is the baseline. ``ModelNotFoundError`` otherwise.
        """
        try:
            return store.get(ref)
        except ModelNotFoundError as missing:
            if ref == baseline.name:
                return baseline
            version = self._version_named(store, ref)
            if version is None:
                raise missing from None
            return store.get(version)

    def _version_named(self, store: ModelStore, name: str) -> str | None:
        if normalise_ref(name) is None:
            return None
        entry = self._names.get(name)
        if entry is not None and time.monotonic() - entry[1] <= NAME_TTL_SECONDS:
            return entry[0]
        version = store.newest_version_named(name)
        if version is not None:
            self._names[name] = (version, time.monotonic())
        return version


def run_scenario(
    engines: WhatIfEngines,
    store: ModelStore,
    snapshot: Snapshot,
    baseline: LoadedModel,
    scenario: Scenario,
    *,
    top_n: int,
    tolerance_nok: float,
    fresh: bool = False,
) -> tuple[WhatIfResult, LoadedModel, LoadedModel | None]:
    """Resolve the scenario's models, run it; blocking (a handler calls it in a worker thread).

    The same scenario on the same versions is answered from the kept result unless ``fresh``
    (``Cache-Control: no-cache``). Returns the result, the scenario's model and the phase-in's
    old model.
    """
    scenario_model = baseline
    if scenario.model_version is not None:
        scenario_model = engines.resolve(store, scenario.model_version, baseline)
    old = None
    if scenario.phase_in is not None:
        try:
            old = engines.resolve(store, scenario.phase_in.from_version, baseline)
        except ModelNotFoundError as exc:
            exc.field = "phase_in.from_version"
            raise

    def compute() -> WhatIfResult:
        return engines.get(snapshot, baseline).run(
            scenario,
            scenario_bundle=scenario_model.bundle,
            phase_in_from=old.bundle if old is not None else None,
            top_n=top_n,
            tolerance_nok=tolerance_nok,
        )

    if fresh:
        return compute(), scenario_model, old
    key = (
        baseline.version,
        scenario_model.version,
        old.version if old is not None else None,
        scenario.model_dump_json(),
        top_n,
        tolerance_nok,
    )
    result, _ = engines.result(snapshot, key, compute)
    return result, scenario_model, old
