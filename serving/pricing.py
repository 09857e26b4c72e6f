"""What the service prices with besides the model: the reference release and the period's rate.

The model gives the effect of each indicator level; the release of the period being paid says
which level each person is in. With a registry snapshot, the release is the snapshot's own
tables and the rate is set so that the snapshot's persons spend the period's budget; without
one, the release is a named one (``--reference``, default the shipped release) and the model's
own rate applies. Each answer says which (``rate_basis``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from features import ModelBundle, PersonScorer, Release, ScenarioError, shipped_releases
from serving.loaded_model import LoadedModel, PricingKey
from serving.snapshot import Snapshot

RateBasis = Literal["snapshot", "model"]


class Pricing:
    """The release in use and, per model version, the scorer and bundle priced on it.

    ``scorer(model)`` and ``bundle(model)`` are built once per model version and release and
    kept in the model's views; thread-safe (two first requests may both build, one is kept).
    """

    def __init__(self, release: Release, snapshot: Snapshot | None = None):
        self.release = release
        self.snapshot = snapshot
        self._releases: dict[str, Release] = {}

    @property
    def rate_basis(self) -> RateBasis:
        return "snapshot" if self.snapshot is not None else "model"

    @property
    def key(self) -> PricingKey:
        """What a model's views are kept under: the release and the rate basis."""
        return (self.release.name, self.rate_basis)

    def scorer(self, model: LoadedModel) -> PersonScorer:
        """The model's scorer on this release, at the period's rate (see the module doc)."""
        views = model.views
        found = views.scorers.get(self.key)
        if found is None:
            found = PersonScorer(model.bundle, self.release.reference)
            if self.snapshot is not None:
                found = found.for_period(self.snapshot.table.columns, self.release)
            with views.lock:
                found = views.scorers.setdefault(self.key, found)
        return found

    def period_scheme(self, model: LoadedModel) -> tuple[float, float, float, int]:
        """Rate, budget, average grant (NOK) and the persons the rate spreads the budget over."""
        bundle, rate = model.bundle, self.scorer(model).rate_nok
        if self.snapshot is None:
            average = bundle.scheme.average_grant_nok
            return rate, bundle.budget_nok, average, bundle.reference_persons
        average = self.release.average_grant_nok or bundle.scheme.average_grant_nok
        scheme = bundle.scheme.model_copy(update={"average_grant_nok": average})
        persons = self.snapshot.n_persons
        return rate, scheme.budget_for(persons), average, persons

    def release_named(self, name: str) -> Release:
        """This service's release by its name, or a shipped release; refused otherwise."""
        if name == self.release.name:
            return self.release
        found = self._releases.get(name)
        if found is None:
            shipped = shipped_releases()
            if name not in shipped:
                known = ", ".join(dict.fromkeys([self.release.name, *shipped]))
                raise ScenarioError(
                    f"reference_release: no release {name!r}; known: {known}",
                    field="reference_release",
                    problems=[("reference_release", f"no release {name!r}; known: {known}")],
                )
            found = self._releases.setdefault(name, Release.named(name))
        return found

    def bundle(self, model: LoadedModel, release: str | None = None) -> ModelBundle:
        """The model's bundle with this release's facts and the period's rate, for what-if;
        with ``release``, on that release's facts instead (a scenario's other geography)."""
        views = model.views
        key = (*self.key, release)
        found = views.bundles.get(key)
        if found is None:
            found = on_release(model.bundle, self.release, self.scorer(model).rate_nok)
            if release is not None:
                found = on_release(found, self.release_named(release))
            with views.lock:
                found = views.bundles.setdefault(key, found)
        return found


def on_release(bundle: ModelBundle, release: Release, rate_nok: float | None = None) -> ModelBundle:
    """The same effects, bands and scheme priced with ``release``'s facts (and a given rate)."""
    return replace(
        bundle,
        reference=release.reference,
        rate_nok=bundle.rate_nok if rate_nok is None else float(rate_nok),
    )
