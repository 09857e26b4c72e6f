"""Out-of-sample validation of a tariff or a challenger, as the regulators publish it.

Every measure here is computed on out-of-fold predictions: each person is predicted by a model
fitted without them. In-sample figures flatter the model, and for the additive least-squares
tariff the in-sample predictive ratio of every indicator level is exactly 1 by construction (the
residuals are orthogonal to every dummy), so only out-of-sample ratios can show where the
tariff under- or overcompensates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from features import Factor, IndicatorConfig, factors
from training.metrics import (
    cumming_prediction_measure,
    list_level_fit,
    mean_absolute_prediction_error,
    predictive_ratios,
    r_squared,
)

DECILES = tuple(f"D{d}" for d in range(1, 11))
AGE_GROUP_YEARS = 10
OPEN_AGE_GROUP = 90  # the last 10-year group is open: 90+


class Estimator(Protocol):
    """What cross-validation needs: the tariff's ``fit``/``predict`` signature."""

    def fit(self, features: pd.DataFrame, y: np.ndarray, weight: np.ndarray) -> Estimator: ...

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class ValidationReport:
    """Out-of-sample fit of one model.

    ``metrics`` holds ``r2``, ``cpm``, ``mape_nok`` (NOK per person-year), the list-level
    ``list_r2``, ``list_cpm``, ``list_mape_pct``, ``list_share_pr_95_105``,
    ``list_share_pr_90_110`` and ``pr_min``/``pr_max``, the extreme predictive ratios over group
    levels with at least ``min_persons`` persons. ``predictive_ratios`` is the full table (see
    ``training.metrics.predictive_ratios``); ``out_of_fold`` the prediction for each person, in
    NOK per year, from the model fitted without that person's fold.
    """

    metrics: dict[str, float]
    predictive_ratios: pd.DataFrame = field(repr=False)
    out_of_fold: np.ndarray = field(repr=False)


def fold_assignment(n_persons: int, folds: int, seed: int) -> np.ndarray:
    """Fold number per person: a seeded random permutation dealt round-robin into equal folds."""
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if n_persons < folds:
        raise ValueError(f"{n_persons} persons cannot fill {folds} folds")
    fold = np.empty(n_persons, dtype="int64")
    fold[np.random.default_rng(seed).permutation(n_persons)] = np.arange(n_persons) % folds
    return fold


def predicted_decile(yhat: np.ndarray, weight: np.ndarray) -> pd.Categorical[str]:
    """Decile of predicted cost, "D1" (lowest) to "D10", each holding a tenth of the exposure.

    Persons are ranked by prediction (ties in a stable order) and cut where the cumulative
    exposure crosses each tenth, measured at the person's midpoint.
    """
    yhat = np.asarray(yhat, dtype="float64")
    weight = np.asarray(weight, dtype="float64")
    order = np.argsort(yhat, kind="stable")
    w_sorted = weight[order]
    midpoint = np.cumsum(w_sorted) - w_sorted / 2
    decile_sorted = np.minimum((midpoint / np.sum(w_sorted) * 10).astype("int64"), 9)
    decile = np.empty(len(yhat), dtype="int64")
    decile[order] = decile_sorted
    return pd.Categorical.from_codes(decile, categories=pd.Index(DECILES))


def cross_validate(
    make_estimator: Callable[[], Estimator],
    features: pd.DataFrame,
    y: np.ndarray,
    weight: np.ndarray,
    *,
    groups: pd.DataFrame | None,
    list_ids: np.ndarray | pd.Series,
    folds: int = 5,
    seed: int = 0,
    min_persons: int = 1000,
) -> ValidationReport:
    """Random person-level k-fold cross-validation with the regulators' fit measures.

    Each fold is predicted by a fresh estimator from ``make_estimator()`` fitted on the other
    folds, so every person gets exactly one out-of-fold prediction; all measures use those, since
    in-sample predictive ratios of the additive tariff are 1 by construction.

    Parameters
    ----------
    make_estimator : callable
        Returns an unfitted estimator with ``fit(features, y, weight)`` and ``predict(features)``.
    features : DataFrame
        One row per person, as ``features.indicators.derive_features`` returns.
    y : ndarray
        Annualised cost, NOK per year.
    weight : ndarray
        Exposure, months listed / 12.
    groups : DataFrame or None
        Groupings for the predictive ratios, one row per person in the order of ``features``
        (``validation_groups`` builds the standard ones). ``predicted_decile`` is added here from
        the out-of-fold predictions.
    list_ids : array-like
        The GP list of each person, for the list-level fit.
    folds, seed : int
        Number of folds and the seed of the permutation that deals persons into folds.
    min_persons : int
        Group levels with fewer persons are left out of ``pr_min`` and ``pr_max`` (their ratios
        are noisy), but stay in the table.
    """
    y = np.asarray(y, dtype="float64")
    weight = np.asarray(weight, dtype="float64")
    n = len(features)
    if len(y) != n or len(weight) != n or len(list_ids) != n:
        raise ValueError("features, y, weight and list_ids must have one row per person")
    if groups is not None and len(groups) != n:
        raise ValueError("groups must have one row per person")
    fold = fold_assignment(n, folds, seed)
    out_of_fold = np.empty(n, dtype="float64")
    for k in range(folds):
        held_out = fold == k
        estimator = make_estimator()
        estimator.fit(features.iloc[~held_out], y[~held_out], weight[~held_out])
        out_of_fold[held_out] = np.asarray(estimator.predict(features.iloc[held_out]))

    frame = pd.DataFrame(index=pd.RangeIndex(n))
    if groups is not None:
        frame = groups.reset_index(drop=True).copy()
    frame["predicted_decile"] = predicted_decile(out_of_fold, weight)
    ratios = predictive_ratios(frame, y, out_of_fold, weight)
    person_fit = {
        "r2": r_squared(y, out_of_fold, weight),
        "cpm": cumming_prediction_measure(y, out_of_fold, weight),
        "mape_nok": mean_absolute_prediction_error(y, out_of_fold, weight),
    }
    list_fit = list_level_fit(list_ids, y, out_of_fold, weight)
    metrics = report_metrics(person_fit, list_fit, ratios, min_persons)
    return ValidationReport(metrics, ratios, out_of_fold)


def report_metrics(
    person_fit: dict[str, float],
    list_fit: dict[str, float],
    ratios: pd.DataFrame,
    min_persons: int,
) -> dict[str, float]:
    """The report's headline figures from the person-level fit (``r2``, ``cpm``,
    ``mape_nok``), the list-level fit and the predictive ratios, however they were summed."""
    # List sizes are reported beside the legislated groups, never part of the headline.
    legislated = ratios["group"] != "list_size"
    reliable = ratios.loc[
        legislated & (ratios["persons"] >= min_persons), "predictive_ratio"
    ].dropna()
    return {
        **person_fit,
        "list_r2": list_fit["r2"],
        "list_cpm": list_fit["cpm"],
        "list_mape_pct": list_fit["mape_pct"],
        "list_share_pr_95_105": list_fit["share_pr_95_105"],
        "list_share_pr_90_110": list_fit["share_pr_90_110"],
        "pr_min": float(reliable.min()) if len(reliable) else float("nan"),
        "pr_max": float(reliable.max()) if len(reliable) else float("nan"),
    }


def _age_sex_10y(age: np.ndarray, sex: np.ndarray) -> pd.Categorical[str]:
    starts = range(0, OPEN_AGE_GROUP, AGE_GROUP_YEARS)
    age_labels = [f"{lo}-{lo + AGE_GROUP_YEARS - 1}" for lo in starts] + [f"{OPEN_AGE_GROUP}+"]
    group = np.minimum(age // AGE_GROUP_YEARS, len(age_labels) - 1)
    male = sex == "M"
    labels = [f"F {a}" for a in age_labels] + [f"M {a}" for a in age_labels]
    return pd.Categorical.from_codes(
        np.asarray(group + male * len(age_labels), dtype="int64"), categories=pd.Index(labels)
    )


def _factor_labels(features: pd.DataFrame, factor: Factor) -> pd.Categorical[str]:
    codes = features[factor.name].to_numpy(dtype="int64")
    if codes.size and (codes.min() < 0 or codes.max() >= len(factor.levels)):
        raise ValueError(f"features.{factor.name}: codes outside 0-{len(factor.levels) - 1}")
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(factor.levels)))


def validation_groups(
    persons: pd.DataFrame, features: pd.DataFrame, factors: Sequence[Factor]
) -> pd.DataFrame:
    """The regulators' standard subgroups for predictive ratios, one row per person.

    Columns, as categoricals whose categories keep a natural order for tables and plots:
    ``age_sex`` (the model's own age and sex cells, as the grant pays them), ``age_sex_10y``
    ("F 0-9", ..., "F 90+", "M 0-9", ..., "M 90+": the same groups for every model, so models
    with different bands compare), ``sex``, ``health_status``
    (copayment band labels), ``education`` (class labels), ``centrality`` ("1" to "6") and
    ``refugee`` ("no" or "first year", from ``persons.refugee_first_year`` so it is there even
    when the model has no refugee factor).
    Age and sex come from the person fields, the rest from the features and the model's factors.
    """
    if len(persons) != len(features):
        raise ValueError("persons and features must have one row per person")
    by_name = {factor.name: factor for factor in factors}
    age = persons["age"].to_numpy(dtype="int64")
    sex = persons["sex"].astype("string").to_numpy(dtype=object)
    refugee = persons["refugee_first_year"].to_numpy(dtype=bool)
    columns: dict[str, pd.Categorical[str]] = {
        "age_sex": _factor_labels(features, by_name["age_sex"]),
        "age_sex_10y": _age_sex_10y(age, sex),
        "sex": pd.Categorical.from_codes(
            np.asarray(sex == "M", dtype="int64"), categories=pd.Index(["F", "M"])
        ),
    }
    for name in ("health_status", "education", "centrality"):
        columns[name] = _factor_labels(features, by_name[name])
    columns["refugee"] = pd.Categorical.from_codes(
        np.asarray(refugee, dtype="int64"), categories=pd.Index(["no", "first year"])
    )
    return pd.DataFrame(columns, index=persons.index)


LIST_SIZE_EDGES = (0, 500, 1000, 1500)


def list_size_bands(list_ids: np.ndarray | pd.Series) -> pd.Categorical[str]:
    """Each person's list by its size in persons: "< 500", "500-999", "1000-1499", "1500+"."""
    ids = pd.Series(np.asarray(list_ids))
    size = ids.map(ids.value_counts()).to_numpy()
    labels = ["< 500", "500-999", "1000-1499", "1500+"]
    code = np.searchsorted(np.array(LIST_SIZE_EDGES[1:]), size, side="right")
    return pd.Categorical.from_codes(code.astype("int64"), categories=pd.Index(labels))


def informative_groups(indicators: IndicatorConfig, groups: Sequence[str]) -> list[str]:
    """The groups whose predictive ratios can show something about this model.

    A group that is a union of the model's own cells (its factors' levels, or 10-year age
    groups made of its age bands) sits near 1 by construction: least squares balances every
    dummy. What informs are the other legislated groups, the deciles and the list sizes, and
    centrality when some classes share the reference level (classes 1-4 under the rules): only
    the supplement classes are the model's own dummies, so their levels are left out of a plot
    (``training.run_records.informative_ratios``) and the pooled classes are shown.
    """
    names = {factor.name for factor in factors(indicators)}
    tens = set(range(0, OPEN_AGE_GROUP + 1, AGE_GROUP_YEARS))
    pooled = set(range(2, 7)) - set(indicators.centrality_supplement_classes)
    own = {"age_sex", "sex"} | ({"age_sex_10y"} if tens <= set(indicators.age_edges) else set())
    own |= {group for group in ("health_status", "education") if group in names}
    own |= {"centrality"} if "centrality" in names and not pooled else set()
    own |= {"refugee"} if "refugee" in names else set()
    return [group for group in groups if group not in own]
