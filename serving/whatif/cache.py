"""What-if engines and results kept per snapshot and model versions, behind the API.

Setting up a ``WhatIfEngine`` derives the features of every person in the snapshot (about 4 s for
the country); a scenario then costs tens of milliseconds. ``WhatIfEngines`` builds one engine per
(snapshot, baseline version), once, while concurrent requests for the same key wait for that one
build, and keeps the few used last; it also keeps the results of the last scenarios. With a
``WhatIfProcess`` the engines live in that child process instead (``serving.whatif.process``).
``run_scenario`` resolves a scenario's models and answers it. No HTTP here.
"""

from __future__ import annotations

from collections.abc import Callable

from features import ModelBundle, ModelNotFoundError
from serving.loaded_model import LoadedModel
from serving.model_store import ModelStore
from serving.pricing import Pricing
from serving.snapshot import Snapshot
from serving.snapshot_kept import KeptPerSnapshot
from serving.whatif.engine import WhatIfEngine
from serving.whatif.process import PricedBundle, WhatIfProcess
from serving.whatif.result import WhatIfResult
from serving.whatif.scenario import Scenario

KEEP_ENGINES = 2
KEEP_RESULTS = 32  # scenarios a policy team moves between, each a few hundred KB of tables


class WhatIfEngines:
    """``WhatIfEngine`` per (snapshot, baseline version), built once and kept for a few keys.

    Thread-safe: the first request for a key builds its engine, concurrent ones wait for it.
    A version never changes, so an engine stays right as long as its snapshot is served.
    """

    def __init__(
        self,
        keep: int = KEEP_ENGINES,
        keep_results: int = KEEP_RESULTS,
        pricing: Callable[[], Pricing | None] = lambda: None,
        process: WhatIfProcess | None = None,
    ):
        # The release and rate the service prices with; None prices with the models as trained.
        self.pricing = pricing
        self.process = process
        self._engines: KeptPerSnapshot[WhatIfEngine] = KeptPerSnapshot(keep)
        # A result per (snapshot, versions, scenario, options).
        self._results: KeptPerSnapshot[WhatIfResult] = KeptPerSnapshot(keep_results)

    def cached(self, snapshot: Snapshot, baseline: LoadedModel) -> WhatIfEngine | None:
        """The engine for this snapshot and baseline version if built; never builds."""
        return self._engines.cached(snapshot, (baseline.version,))

    def get(self, snapshot: Snapshot, baseline: LoadedModel) -> WhatIfEngine:
        """The engine for this snapshot and baseline version, built on first use (blocking)."""

        def build() -> WhatIfEngine:
            dataset = snapshot.dataset
            return WhatIfEngine(
                dataset.persons, dataset.lists, dataset.kommuner, self.bundle_of(baseline)
            )

        return self._engines.get(snapshot, (baseline.version,), build)

    def warm(self, snapshot: Snapshot, baseline: LoadedModel) -> None:
        """Build the baseline's engine (here or in the what-if process), blocking."""
        if self.process is None:
            self.get(snapshot, baseline)
        else:
            self.process.warm(self.priced(baseline))

    def priced(self, model: LoadedModel, release: str | None = None) -> PricedBundle:
        """The model priced on the service's release (or ``release``), named for the what-if
        process, which keeps bundles and engines by that name: version and release."""
        pricing = self.pricing()
        on = release or ("" if pricing is None else pricing.release.name)
        return f"{model.version}@{on}", self.bundle_of(model, release)

    def close(self) -> None:
        if self.process is not None:
            self.process.close()

    def bundle_of(self, model: LoadedModel, release: str | None = None) -> ModelBundle:
        """The model priced on the service's release, or on the named ``release``."""
        pricing = self.pricing()
        if pricing is None:
            return model.bundle
        return pricing.bundle(model, release)

    def result(self, snapshot: Snapshot, key: tuple, compute) -> tuple[WhatIfResult, bool]:
        """The kept result for ``key``, or ``compute()`` kept for next time; and whether kept.

        A version never changes and a run is deterministic, so a kept result is the very result
        a new run gives: paging its lists or asking again costs no national pricing.
        """
        found = self._results.cached(snapshot, key)
        if found is not None:
            return found, True
        return self._results.get(snapshot, key, compute), False

    def resolve(self, store: ModelStore, ref: str, baseline: LoadedModel) -> LoadedModel:
        """A scenario's model by version, alias or model name (``model0_2023``), blocking.

        The store resolves a model name to the newest version trained as that model; while it
        cannot (the registry offline), the baseline's own name is the baseline.
        ``ModelNotFoundError`` otherwise.
        """
        try:
            return store.get(ref)
        except ModelNotFoundError:
            if ref == baseline.name:
                return baseline
            raise


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
            raise exc.for_field("phase_in.from_version") from None

    # The scenario prices on the service's release unless it names another one.
    scenario_priced = engines.priced(scenario_model, scenario.reference_release)
    old_priced = engines.priced(old) if old is not None else None

    def compute() -> WhatIfResult:
        if engines.process is not None:
            return engines.process.run(
                engines.priced(baseline),
                scenario,
                scenario_bundle=scenario_priced,
                phase_in_from=old_priced,
                top_n=top_n,
                tolerance_nok=tolerance_nok,
            )
        return engines.get(snapshot, baseline).run(
            scenario,
            scenario_bundle=scenario_priced[1],
            phase_in_from=old_priced[1] if old_priced is not None else None,
            top_n=top_n,
            tolerance_nok=tolerance_nok,
        )

    if fresh:
        return compute(), scenario_model, old
    pricing = engines.pricing()
    key = (
        None if pricing is None else pricing.release.name,
        baseline.version,
        scenario_model.version,
        old.version if old is not None else None,
        scenario.canonical(),
        top_n,
        tolerance_nok,
    )
    result, _ = engines.result(snapshot, key, compute)
    return result, scenario_model, old
