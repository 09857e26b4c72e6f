"""Every person's and every list's grant, one vectorised path for ``ptb grants`` and the API.

The API's request is a batch of one through the same code that prices five million persons. Two
observations make that path fast without a second pricing rule:

- *codes repeat*: 5.5 million persons live in 14,000 grunnkretser, are listed in 357 kommuner
  and paid a few thousand distinct copayment amounts, so each column is factorised once
  (``PersonColumns``) and each distinct value is looked up once;
- *the tariff is a table of cells*: every indicator is categorical, so a person's weight, grant
  and contributions depend only on the combination of factor levels, a few thousand cells.
  ``PersonScorer`` prices every cell once with ``features.bundle.score_features`` (the one
  pricing path) and a person's scores are read from their cell.

Rounding: amounts are carried unrounded. A person's ``grant_nok`` is rounded to øre (half away
from zero) only where it is reported; a list total is the sum of the unrounded person grants,
rounded once; reported contributions are apportioned so they add up exactly to the rounded grant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.bundle import ModelBundle, score_features
from features.code_changes import CodeChange
from features.contract import Dataset
from features.errors import UnknownCodeError
from features.indicators import Coded, PersonColumns, in_release, indicator_levels
from features.releases import ReferenceTables, Release
from features.scheme import budget_neutral_rate, round_nok

PERSON_GRANTS_FILE = "person_grants.parquet"
LIST_GRANTS_FILE = "list_grants.parquet"
# Above this many cells the tariff is priced person by person instead of cell by cell.
MAX_CELLS = 2_000_000


@dataclass(frozen=True)
class PersonTable:
    """A data set's persons as columns, with each person's position in the ``lists`` table."""

    person_id: pd.Series
    list_ids: np.ndarray  # lists.list_id as str, the order of list codes
    practice_kommune: np.ndarray  # lists.practice_kommune as str, per list
    list_codes: np.ndarray  # position of each person's list in list_ids
    columns: PersonColumns

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> PersonTable:
        persons, lists = dataset.persons, dataset.lists
        list_ids = lists["list_id"].astype("string").to_numpy(dtype=object)
        practice = lists["practice_kommune"].astype("string").to_numpy(dtype=object)
        by_person = Coded.from_series(persons["list_id"].astype("string"))
        positions = pd.Index(list_ids).get_indexer(by_person.values)
        if (positions < 0).any():
            unknown = [str(code) for code in by_person.values[positions < 0]]
            raise UnknownCodeError("list_id", unknown, "list")
        list_codes = positions[by_person.codes]
        # A person's practice kommune is their list's: factorise per list, then take per person.
        kommune = Coded.from_values(practice.tolist())
        columns = PersonColumns.from_frame(
            persons, Coded(kommune.values, kommune.codes[list_codes])
        )
        return cls(persons["person_id"], list_ids, practice, list_codes, columns)


@dataclass(frozen=True)
class Scores:
    """Per person: relative weight, unrounded annual grant in NOK, and the cell priced."""

    weight: np.ndarray
    grant_nok: np.ndarray
    cell: np.ndarray | None
    contributions: dict[str, np.ndarray] | None = None
    code_changes: tuple[CodeChange, ...] = ()  # old codes priced under the release's codes


class PersonScorer:
    """A bundle compiled for scoring: indicator lookups as dictionaries, the tariff as cells.

    Built once per loaded model and release (it also holds the bundle's ``Tariff``, which is
    costly to rebuild); thread-safe, as nothing changes after construction. ``features`` equals
    ``indicators.derive_features`` and ``score`` equals ``ModelBundle.score``, column for
    column (``tests/features/test_grants.py`` holds them to it for every indicator option).

    ``reference`` is the release of the period being paid (default: the release the model was
    trained on); ``rate_nok`` the period's rate (default: the model's).
    """

    def __init__(
        self,
        bundle: ModelBundle,
        reference: ReferenceTables | None = None,
        rate_nok: float | None = None,
    ):
        self.bundle = bundle
        self.reference = bundle.reference if reference is None else reference
        self.rate_nok = bundle.rate_nok if rate_nok is None else float(rate_nok)
        self.tariff = bundle.tariff
        self.factors = tuple(self.tariff.effects)
        self.dims = tuple(len(effect) for effect in self.tariff.effects.values())
        self.cell_scores = self._price_cells() if math.prod(self.dims) <= MAX_CELLS else None

    def _price_cells(self) -> Scores:
        """Every combination of factor levels priced once through ``score_features``."""
        levels = np.unravel_index(np.arange(math.prod(self.dims)), self.dims)
        cells = pd.DataFrame(
            {
                factor: level.astype("int16")
                for factor, level in zip(self.factors, levels, strict=True)
            }
        )
        scored = score_features(cells, self.tariff, self.bundle.scheme, self.rate_nok)
        return Scores(scored.weight, scored.grant_nok, None, scored.contributions)

    def features(self, persons: PersonColumns) -> dict[str, np.ndarray]:
        """One integer level per factor per person and the education share."""
        return indicator_levels(persons, self.reference, self.bundle.indicators)

    def score(self, persons: PersonColumns, *, contributions: bool = False) -> Scores:
        """Weight and unrounded annual grant per person; each factor's NOK on request.

        Old codes are priced under the release's new codes and listed in ``code_changes``.
        """
        persons, changes = in_release(persons, self.reference)
        features = self.features(persons)
        if self.cell_scores is None:
            frame = pd.DataFrame({factor: features[factor] for factor in self.factors})
            scored = score_features(frame, self.tariff, self.bundle.scheme, self.rate_nok)
            shares = scored.contributions if contributions else None
            return Scores(scored.weight, scored.grant_nok, None, shares, tuple(changes))
        cell = np.ravel_multi_index([features[factor] for factor in self.factors], self.dims)
        shares = None
        if contributions:
            priced = self.cell_scores.contributions or {}  # _price_cells always prices them
            shares = {name: nok[cell] for name, nok in priced.items()}
        return Scores(
            self.cell_scores.weight[cell],
            self.cell_scores.grant_nok[cell],
            cell,
            shares,
            tuple(changes),
        )

    def for_period(self, persons: PersonColumns, release: Release) -> PersonScorer:
        """A scorer on the same model whose rate makes ``persons`` spend the period's budget.

        The budget is the release's average grant (else the model's) times the persons, or the
        scheme's fixed budget; fixed supplements (a refugee rate) are paid before the rest is
        spread over the weights: ``R = (B - S) / sum(w)``. The 2026 rule's centrality
        strengthening is the utjamningstilskudd money U, paid on top of the budget as in
        calibration (``features.bundle.calibrate_rate``), so it is not taken out of ``B``.
        """
        scores = self.score(persons, contributions=True)
        scheme = self.bundle.scheme
        if release.average_grant_nok is not None:
            scheme = scheme.model_copy(update={"average_grant_nok": release.average_grant_nok})
        on_top = (scores.contributions or {}).get("centrality_strengthening")
        paid = scores.grant_nok if on_top is None else scores.grant_nok - on_top
        supplements = float(np.sum(paid - self.rate_nok * scores.weight))
        rate = budget_neutral_rate(scores.weight, scheme.budget_for(len(persons)), supplements)
        return PersonScorer(self.bundle, self.reference, rate)


def apportion_nok(contributions: dict[str, float], grant_nok: float) -> dict[str, float]:
    """Round each contribution to øre so that they add up exactly to the rounded grant.

    Largest-remainder method: every contribution is rounded down to øre, and the øre still
    missing to ``round_nok(grant_nok)`` go one each to the largest remainders.
    """
    target = round(round_nok(grant_nok) * 100)
    scaled = {name: nok * 100.0 for name, nok in contributions.items()}
    floors = {name: math.floor(value) for name, value in scaled.items()}
    missing = min(max(target - sum(floors.values()), 0), len(floors))
    by_remainder = sorted(scaled, key=lambda name: floors[name] - scaled[name])
    for name in by_remainder[:missing]:
        floors[name] += 1
    return {name: ore / 100 for name, ore in floors.items()}


def list_totals(
    list_codes: np.ndarray, n_lists: int, weight: np.ndarray, grant_nok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per list: persons, unrounded total annual NOK and mean weight (NaN for an empty list).

    Sums run in person order, so a list's total is the same whether it is priced alone or
    inside a data set.
    """
    persons = np.bincount(list_codes, minlength=n_lists)
    total = np.bincount(list_codes, weights=grant_nok, minlength=n_lists)
    weight_sum = np.bincount(list_codes, weights=weight, minlength=n_lists)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_weight = weight_sum / persons
    return persons, total, mean_weight


def period_scorer(bundle: ModelBundle, dataset: Dataset, release: Release) -> PersonScorer:
    """The scorer that prices a snapshot: the release's facts, the period's budget-neutral rate."""
    table = PersonTable.from_dataset(dataset)
    return PersonScorer(bundle, release.reference).for_period(table.columns, release)


def person_grants(
    bundle: ModelBundle, dataset: Dataset, *, scorer: PersonScorer | None = None
) -> pd.DataFrame:
    """Every person's relative weight and annual grant in NOK, unrounded.

    Columns ``person_id``, ``list_id`` (categorical over the data set's lists), ``weight``,
    ``grant_nok``. Amounts are unrounded so that ``list_grants`` can sum them; round with
    ``features.scheme.round_nok`` to report them (``write_grants`` does).
    """
    table = PersonTable.from_dataset(dataset)
    scores = (scorer or PersonScorer(bundle)).score(table.columns)
    return pd.DataFrame(
        {
            "person_id": table.person_id.to_numpy(),
            "list_id": pd.Categorical.from_codes(
                table.list_codes.astype("int64"), categories=pd.Index(table.list_ids)
            ),
            "weight": scores.weight,
            "grant_nok": scores.grant_nok,
        }
    )


def list_grants(person_grants: pd.DataFrame) -> pd.DataFrame:
    """Per list, from unrounded person grants: ``list_id``, ``persons``, ``total_nok``,
    ``mean_weight``.

    ``total_nok`` is the sum of the unrounded person grants, rounded once to øre. Lists are in
    ``list_id`` order; with a categorical ``list_id`` (as ``person_grants`` gives), lists with
    no persons are kept with ``persons`` 0 and ``total_nok`` 0.
    """
    ids = person_grants["list_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, categories = ids.cat.codes.to_numpy(), np.asarray(ids.cat.categories, dtype=object)
    else:
        codes, found = pd.factorize(ids.astype("string"), sort=True)
        categories = np.asarray(found, dtype=object)
    persons, total, mean_weight = list_totals(
        codes.astype(np.intp),
        len(categories),
        person_grants["weight"].to_numpy(dtype=np.float64),
        person_grants["grant_nok"].to_numpy(dtype=np.float64),
    )
    frame = pd.DataFrame(
        {
            "list_id": pd.array(categories, dtype="string"),
            "persons": persons.astype(np.int64),
            "total_nok": round_nok(total),
            "mean_weight": mean_weight,
        }
    )
    return frame.sort_values("list_id", ignore_index=True)


def write_grants(
    bundle: ModelBundle,
    dataset: Dataset,
    out_dir: str | Path,
    *,
    scorer: PersonScorer | None = None,
    model_version: str | None = None,
) -> tuple[Path, Path]:
    """Write ``person_grants.parquet`` and ``list_grants.parquet`` (what ``ptb grants`` does).

    With ``model_version`` every row of both files names the registered version it was priced
    with (column ``model_version``), so a file cannot be mistaken for another model's.

    Person grants are written rounded to øre; list totals are the unrounded person grants
    summed, rounded once, so a list total can differ from the sum of its rounded person grants
    by at most half an øre per person.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    persons = person_grants(bundle, dataset, scorer=scorer)
    lists = list_grants(persons)
    written = persons.assign(
        list_id=persons["list_id"].astype("string"), grant_nok=round_nok(persons["grant_nok"])
    )
    if model_version is not None:
        written = written.assign(model_version=pd.array([model_version] * len(written), "string"))
        lists = lists.assign(model_version=pd.array([model_version] * len(lists), "string"))
    person_path, list_path = out / PERSON_GRANTS_FILE, out / LIST_GRANTS_FILE
    written.to_parquet(person_path, index=False)
    lists.to_parquet(list_path, index=False)
    return person_path, list_path


__all__ = [
    "Coded",
    "PersonColumns",
    "PersonScorer",
    "PersonTable",
    "Scores",
    "apportion_nok",
    "list_grants",
    "list_totals",
    "period_scorer",
    "person_grants",
    "write_grants",
]
