"""A model version once loaded: its bundle and compiled scorer, and what the API derives from
it once and keeps (``ModelViews``). ``serving.model_store`` loads versions from the registry."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from features import ModelBundle, PersonScorer
from serving.snapshot_kept import KeptPerSnapshot

if TYPE_CHECKING:  # the API's models; serving.schemas imports this module's LoadedModel
    from serving.payments import ListPayments
    from serving.schemas.model import SchemeInfo, WeightRow

# What a version is priced on: the reference release's name and the rate basis (snapshot or model).
PricingKey = tuple[str, str]

KEEP_PAYMENT_DATES = 4  # scheme dates whose snapshot payments a version keeps


@dataclass(eq=False)
class ModelViews:
    """What the API derives from a version once and keeps: per release priced on, the scorer,
    the what-if bundle and the scheme; the weight table; each snapshot's payments per date. One
    object, shared by the copies of a version made for each alias; ``lock`` guards the dicts
    (two first requests may both build, one result is kept)."""

    weight_rows: list[WeightRow] | None = None
    scheme_info: dict[PricingKey, SchemeInfo] = field(default_factory=dict)
    scorers: dict[PricingKey, PersonScorer] = field(default_factory=dict)
    bundles: dict[tuple[str, str, str | None], ModelBundle] = field(default_factory=dict)
    # Every list's payments in a snapshot, per scheme date (serving.payments).
    payments: KeptPerSnapshot[ListPayments] = field(
        default_factory=lambda: KeptPerSnapshot(KEEP_PAYMENT_DATES)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model version ready to score: its bundle, compiled scorer and where it came from.

    ``alias`` is the name the version was asked for by, if any (``champion``); copies made for
    another alias share the bundle, the scorer and the views.
    """

    bundle: ModelBundle
    version: str
    run_id: str
    scorer: PersonScorer = field(repr=False)
    alias: str | None = None
    views: ModelViews = field(default_factory=ModelViews, repr=False)

    @classmethod
    def build(
        cls, bundle: ModelBundle, version: str, run_id: str, alias: str | None = None
    ) -> LoadedModel:
        return cls(bundle, str(version), run_id, PersonScorer(bundle), alias)

    @property
    def name(self) -> str:
        return self.bundle.name
