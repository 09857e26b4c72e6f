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

import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from features import Dataset, ModelBundle, load_with_release
from serving.whatif.engine import WhatIfEngine
from serving.whatif.result import WhatIfResult
from serving.whatif.scenario import Scenario

logger = logging.getLogger(__name__)

NICE = 10  # below the grant workers: the scheduler serves them first
KEEP_ENGINES = 2
KEEP_BUNDLES = 16  # priced bundles (version@release) the child keeps; a reload adds one or two
PricedBundle = tuple[str, ModelBundle]  # (version@release, the bundle priced on that release)


class WhatIfProcess:
    """One child process that prices what-ifs on the snapshot in ``data_dir``.

    A bundle is named by a key (its version and the release it is priced on) and crosses to
    the child once: the child keeps it, and the baseline's engine, which a new copy of the same
    bundle on every request would make it derive again. Both sides keep the ``KEEP_BUNDLES``
    used last; should the child no longer hold a bundle the worker thinks it sent, the child
    says so and the worker sends it again.
    """

    def __init__(self, data_dir: str | Path, nice: int = NICE):
        self.data_dir = str(data_dir)
        self.nice = nice
        self._pool = self._started()
        self._sent: OrderedDict[str, None] = OrderedDict()
        # A key is marked sent and its task queued in one step: the queue keeps that order.
        self._lock = threading.Lock()

    def warm(self, baseline: PricedBundle) -> None:
        """Build the baseline's engine in the child now (blocking), so a first what-if is fast."""
        self._call(_warm, (baseline,))

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
        bundles = (baseline, scenario_bundle, phase_in_from)
        return self._call(_run, bundles, scenario, top_n, tolerance_nok)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _call(self, task, bundles: tuple[PricedBundle | None, ...], *rest):
        """``task(*shipped bundles, *rest)`` in the child (blocking); once more with every
        bundle in full if the child no longer kept one, or in a new child if it died."""
        pool = self._pool  # the one a failing submit tried
        try:
            pool, future = self._submit(task, bundles, rest, resend=False)
            return future.result()
        except BundleNotKept:
            return self._submit(task, bundles, rest, resend=True)[1].result()
        except BrokenProcessPool:
            # The child died (killed for its memory, say): start another, which keeps nothing.
            logger.warning("the what-if process ended; starting a new one")
            self._replace(pool)
            return self._submit(task, bundles, rest, resend=True)[1].result()

    def _submit(self, task, bundles: tuple[PricedBundle | None, ...], rest: tuple, *, resend: bool):
        with self._lock:
            shipped = [None if b is None else self._shipped(b, resend) for b in bundles]
            return self._pool, self._pool.submit(task, *shipped, *rest)

    def _started(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self.data_dir, self.nice),
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:  # not replaced yet by another request that saw it die
                self._pool = self._started()
                self._sent.clear()
        broken.shutdown(wait=False, cancel_futures=True)

    def _shipped(self, priced: PricedBundle, resend: bool) -> tuple[str, ModelBundle | None]:
        key, bundle = priced
        known = key in self._sent and not resend
        self._sent[key] = None
        self._sent.move_to_end(key)
        while len(self._sent) > KEEP_BUNDLES:
            self._sent.popitem(last=False)
        return (key, None) if known else (key, bundle)


class BundleNotKept(Exception):  # noqa: N818 - a signal between the processes, not a failure
    """The child was sent a bundle's key without the bundle and no longer keeps it."""


# -- in the child --------------------------------------------------------------------------------

_dataset: Dataset | None = None
_bundles: OrderedDict[str, ModelBundle] = OrderedDict()
_engines: OrderedDict[str, WhatIfEngine] = OrderedDict()


def _start(data_dir: str, nice: int) -> None:
    global _dataset
    os.nice(nice)
    _dataset = load_with_release(data_dir).dataset


def _bundle(shipped: tuple[str, ModelBundle | None]) -> tuple[str, ModelBundle]:
    key, bundle = shipped
    if bundle is not None:
        _bundles[key] = bundle
    if key not in _bundles:
        raise BundleNotKept(key)
    _bundles.move_to_end(key)
    while len(_bundles) > KEEP_BUNDLES:
        _bundles.popitem(last=False)
    return key, _bundles[key]


def _engine(kept: tuple[str, ModelBundle]) -> WhatIfEngine:
    key, baseline = kept
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
    _engine(_bundle(baseline))


def _run(
    baseline: tuple[str, ModelBundle | None],
    scenario_bundle: tuple[str, ModelBundle | None] | None,
    phase_in_from: tuple[str, ModelBundle | None] | None,
    scenario: Scenario,
    top_n: int,
    tolerance_nok: float,
) -> WhatIfResult:
    # Every shipped bundle is kept before any work: the worker counts them all as sent.
    kept_baseline = _bundle(baseline)
    kept_scenario = None if scenario_bundle is None else _bundle(scenario_bundle)[1]
    kept_old = None if phase_in_from is None else _bundle(phase_in_from)[1]
    return _engine(kept_baseline).run(
        scenario,
        scenario_bundle=kept_scenario,
        phase_in_from=kept_old,
        top_n=top_n,
        tolerance_nok=tolerance_nok,
    )
