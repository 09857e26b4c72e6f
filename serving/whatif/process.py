"""What-if pricing in a process of its own, so a national scenario never delays a payment.

A national what-if holds a worker's interpreter for tens of milliseconds; a grant request that
lands on the same worker meanwhile waits for it. ``WhatIfProcess`` runs the engine in one child
process per worker instead, started with ``spawn`` (never ``fork``: the worker has threads) and
lowered in priority (``nice``), so the operating system gives the grant workers the cores
first. The child reads the same snapshot directory as the worker and keeps its own engines per
baseline; the worker sends it the priced bundles (a few KB) and the scenario, and gets the
result's tables back. It costs a second copy of the snapshot in memory (``docs/operations.md``,
``PTB_WHATIF_PROCESS``). No HTTP here.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from features import Dataset, ModelBundle, load_with_release
from serving.whatif.engine import WhatIfEngine
from serving.whatif.result import WhatIfResult
from serving.whatif.scenario import Scenario

NICE = 10  # below the grant workers: the scheduler serves them first
KEEP_ENGINES = 2
PricedBundle = tuple[str, ModelBundle]  # (version@release, the bundle priced on that release)


class WhatIfProcess:
    """One child process that prices what-ifs on the snapshot in ``data_dir``.

    A bundle is named by a key (its version and the release it is priced on) and crosses to
    the child once: the child keeps it, and the baseline's engine, which a new copy of the same
    bundle on every request would make it derive again.
    """

    def __init__(self, data_dir: str | Path, nice: int = NICE):
        self.data_dir = str(data_dir)
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self.data_dir, nice),
        )
        self._sent: set[str] = set()
        # A key is marked sent and its task queued in one step: the queue keeps that order.
        self._lock = threading.Lock()

    def warm(self, baseline: PricedBundle) -> None:
        """Build the baseline's engine in the child now (blocking), so a first what-if is fast."""
        with self._lock:
            future = self._pool.submit(_warm, self._shipped(baseline))
        future.result()

    def run(
        self,
        baseline: PricedBundle,
        scenario: Scenario,
        *,
        scenario_bundle: PricedBundle | None,
        phase_in_from: PricedBundle | None,
        top_n: int,
        tolerance_nok: float,
    ) -> WhatIfResult:
        """``WhatIfEngine.run`` in the child (blocking); its errors are raised here."""
        with self._lock:
            future = self._pool.submit(
                _run,
                self._shipped(baseline),
                None if scenario_bundle is None else self._shipped(scenario_bundle),
                None if phase_in_from is None else self._shipped(phase_in_from),
                scenario,
                top_n,
                tolerance_nok,
            )
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _shipped(self, priced: PricedBundle) -> tuple[str, ModelBundle | None]:
        key, bundle = priced
        if key in self._sent:
            return key, None
        self._sent.add(key)
        return key, bundle


# -- in the child --------------------------------------------------------------------------------

_dataset: Dataset | None = None
_bundles: dict[str, ModelBundle] = {}
_engines: OrderedDict[str, WhatIfEngine] = OrderedDict()


def _start(data_dir: str, nice: int) -> None:
    global _dataset
    os.nice(nice)
    _dataset = load_with_release(data_dir).dataset


def _bundle(shipped: tuple[str, ModelBundle | None]) -> tuple[str, ModelBundle]:
    key, bundle = shipped
    if bundle is not None:
        _bundles[key] = bundle
    return key, _bundles[key]


def _engine(shipped: tuple[str, ModelBundle | None]) -> WhatIfEngine:
    key, baseline = _bundle(shipped)
    found = _engines.get(key)
    if found is None:
        assert _dataset is not None, "the what-if process has no snapshot"
        found = WhatIfEngine(_dataset.persons, _dataset.lists, _dataset.kommuner, baseline)
        _engines[key] = found
        while len(_engines) > KEEP_ENGINES:
            _engines.popitem(last=False)
    _engines.move_to_end(key)
    return found


def _warm(baseline: tuple[str, ModelBundle | None]) -> None:
    _engine(baseline)


def _run(
    baseline: tuple[str, ModelBundle | None],
    scenario_bundle: tuple[str, ModelBundle | None] | None,
    phase_in_from: tuple[str, ModelBundle | None] | None,
    scenario: Scenario,
    top_n: int,
    tolerance_nok: float,
) -> WhatIfResult:
    return _engine(baseline).run(
        scenario,
        scenario_bundle=None if scenario_bundle is None else _bundle(scenario_bundle)[1],
        phase_in_from=None if phase_in_from is None else _bundle(phase_in_from)[1],
        top_n=top_n,
        tolerance_nok=tolerance_nok,
    )
