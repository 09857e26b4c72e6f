"""Fit measures the regulators publish: R², CPM, mean absolute error, predictive ratios.

Every measure is computed on annualised cost ``y`` (NOK per year), a prediction ``yhat`` (NOK per
year) and the exposure weight ``w = months listed / 12`` (person-years). Weighting by exposure
makes a person listed for three months count a quarter, exactly as in the tariff's least squares,
and makes ``w * y`` the cost the person actually incurred in NOK. So a weight of 2 equals two
identical rows of weight 1, and every sum below is a sum of NOK or of person-years.

The measures describe whatever predictions they are given; to judge a model they should be given
out-of-sample predictions (see ``training.validation``), because in-sample least squares
predictive ratios are exactly 1 by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile
PREDICTIVE_RATIO_COLUMNS = (
    "group",
    "level",
    "persons",
    "exposure",
    "actual_nok",
    "predicted_nok",
    "predictive_ratio",
    "std_err",
    "ci_low",
    "ci_high",
)


def _as_arrays(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    converted = tuple(np.asarray(a, dtype="float64") for a in arrays)
    if len({a.shape for a in converted}) != 1 or converted[0].ndim != 1:
        raise ValueError("y, yhat and w must be one-dimensional and of one length")
    return converted


def _weighted_mean(y: np.ndarray, w: np.ndarray) -> float:
    total = float(np.sum(w))
    if total <= 0:
        raise ValueError("the exposure weights must have a positive sum")
    return float(np.dot(w, y)) / total


def r_squared(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    r"""Exposure-weighted coefficient of determination.

    .. math:: R^2 = 1 - \frac{\sum_i w_i (y_i - \hat y_i)^2}{\sum_i w_i (y_i - \bar y_w)^2},
              \quad \bar y_w = \frac{\sum_i w_i y_i}{\sum_i w_i}

    Parameters
    ----------
    y : ndarray
        Actual annualised cost per person, NOK per year.
    yhat : ndarray
        Predicted annual cost per person, NOK per year.
    w : ndarray
        Exposure, person-years (months listed / 12), non-negative with a positive sum.

    Returns
    -------
    float
        At most 1; 1 for a perfect prediction, 0 for predicting the weighted mean for everyone,
        negative for a prediction worse than that. Demographic-plus-prior-use models of
        primary-care cost typically reach 0.1 to 0.3 per person.
    """
    y, yhat, w = _as_arrays(y, yhat, w)
    mean = _weighted_mean(y, w)
    total = float(np.dot(w, (y - mean) ** 2))
    if total == 0:
        raise ValueError("y has no variance under the weights; R² is undefined")
    return 1.0 - float(np.dot(w, (y - yhat) ** 2)) / total


def cumming_prediction_measure(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    r"""Cumming's Prediction Measure (CPM): R² with absolute instead of squared errors.

    .. math:: CPM = 1 - \frac{\sum_i w_i |y_i - \hat y_i|}{\sum_i w_i |y_i - \bar y_w|}

    Absolute errors make CPM less dominated by the few persons with very high cost than R².
    Arguments as in ``r_squared`` (NOK per year and person-years).

    Returns
    -------
    float
        At most 1; 1 for a perfect prediction, 0 for predicting the weighted mean.
    """
    y, yhat, w = _as_arrays(y, yhat, w)
    mean = _weighted_mean(y, w)
    total = float(np.dot(w, np.abs(y - mean)))
    if total == 0:
        raise ValueError("y has no variance under the weights; CPM is undefined")
    return 1.0 - float(np.dot(w, np.abs(y - yhat))) / total


def mean_absolute_prediction_error(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    r"""Exposure-weighted mean absolute prediction error, NOK per person-year.

    .. math:: MAPE = \frac{\sum_i w_i |y_i - \hat y_i|}{\sum_i w_i}

    Arguments as in ``r_squared``. Returns a non-negative amount in NOK per person-year; 0 for a
    perfect prediction.
    """
    y, yhat, w = _as_arrays(y, yhat, w)
    total = float(np.sum(w))
    if total <= 0:
        raise ValueError("the exposure weights must have a positive sum")
    return float(np.dot(w, np.abs(y - yhat))) / total


def _level_codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer code per person and the levels in display order (categories keep their order)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(dtype="int64"), pd.Index(column.cat.categories)
    codes, levels = pd.factorize(column, sort=True)
    return codes.astype("int64"), pd.Index(levels)


def predictive_ratios(
    groups: pd.DataFrame, y: np.ndarray, yhat: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    r"""Predictive ratio per level of each grouping: predicted over actual NOK.

    .. math:: PR_g = \frac{\sum_{i \in g} w_i \hat y_i}{\sum_{i \in g} w_i y_i}

    ``w * y`` is the cost the person incurred (NOK) and ``w * yhat`` what the model expects for the
    time the person was listed, so a ratio above 1 means the group is paid for more workload than
    it brought (overcompensated), below 1 undercompensated.

    Parameters
    ----------
    groups : DataFrame
        One row per person (in the order of ``y``), one column per grouping, for example
        ``age_sex_10y`` or ``centrality``. Categorical columns report their levels in category
        order; other columns in sorted order. Missing values belong to no level.
    y, yhat, w : ndarray
        Actual and predicted NOK per year, exposure in person-years.

    Returns
    -------
    DataFrame
        One row per grouping and observed level, with ``group``, ``level`` (text), ``persons``,
        ``exposure`` (person-years), ``actual_nok`` (sum of ``w * y``), ``predicted_nok`` (sum of
        ``w * yhat``), ``predictive_ratio`` (NaN where the actual cost is 0) and its
        delta-method ``std_err`` with the 95 % interval ``ci_low``-``ci_high``.
    """
    y, yhat, w = _as_arrays(y, yhat, w)
    if len(groups) != len(y):
        raise ValueError("groups must have one row per person")
    wy, wyhat = w * y, w * yhat
    tables = []
    for name in groups.columns:
        codes, levels = _level_codes(groups[name])
        known = codes >= 0
        codes_known = codes[known]
        size = len(levels)
        persons = np.bincount(codes_known, minlength=size)
        actual = np.bincount(codes_known, weights=wy[known], minlength=size)
        predicted = np.bincount(codes_known, weights=wyhat[known], minlength=size)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(actual > 0, predicted / actual, np.nan)
            std_err = _ratio_std_err(codes_known, wyhat[known], wy[known], ratio, actual, persons)
        table = pd.DataFrame(
            {
                "group": str(name),
                "level": [str(level) for level in levels],
                "persons": persons.astype("int64"),
                "exposure": np.bincount(codes_known, weights=w[known], minlength=size),
                "actual_nok": actual,
                "predicted_nok": predicted,
                "predictive_ratio": ratio,
                "std_err": std_err,
                "ci_low": ratio - Z_95 * std_err,
                "ci_high": ratio + Z_95 * std_err,
            }
        )
        tables.append(table[persons > 0])
    if not tables:
        return pd.DataFrame({column: [] for column in PREDICTIVE_RATIO_COLUMNS})
    return pd.concat(tables, ignore_index=True)


def _ratio_std_err(
    codes: np.ndarray,
    predicted: np.ndarray,
    actual: np.ndarray,
    ratio: np.ndarray,
    actual_sum: np.ndarray,
    persons: np.ndarray,
) -> np.ndarray:
    r"""Standard error of each level's ratio of sums, by the delta method (linearisation).

    .. math:: \widehat{\mathrm{Var}}(PR_g) = \frac{n_g}{n_g - 1}
        \frac{\sum_{i \in g} (w_i \hat y_i - PR_g\, w_i y_i)^2}{(\sum_{i \in g} w_i y_i)^2}

    The survey statistician's interval for a ratio estimator; it widens as a group thins out,
    which is how the gate takes a small group's uncertainty into account instead of dropping it.
    """
    residual = predicted - np.nan_to_num(ratio)[codes] * actual
    squares = np.bincount(codes, weights=residual**2, minlength=len(persons))
    correction = np.where(persons > 1, persons / np.maximum(persons - 1, 1), np.nan)
    return np.sqrt(correction * squares) / np.where(actual_sum > 0, actual_sum, np.nan)


def list_totals(
    list_ids: np.ndarray | pd.Series, y: np.ndarray, yhat: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    """Per list: persons, exposure (person-years), actual and predicted NOK (sums of ``w*y``)."""
    y, yhat, w = _as_arrays(y, yhat, w)
    codes, lists = pd.factorize(np.asarray(list_ids), sort=True)
    if len(codes) != len(y):
        raise ValueError("list_ids must have one entry per person")
    if (codes < 0).any():
        raise ValueError("list_ids must not be missing")
    size = len(lists)
    return pd.DataFrame(
        {
            "list_id": lists,
            "persons": np.bincount(codes, minlength=size),
            "exposure": np.bincount(codes, weights=w, minlength=size),
            "actual_nok": np.bincount(codes, weights=w * y, minlength=size),
            "predicted_nok": np.bincount(codes, weights=w * yhat, minlength=size),
        }
    )


def list_level_fit(
    list_ids: np.ndarray | pd.Series, y: np.ndarray, yhat: np.ndarray, w: np.ndarray
) -> dict[str, float]:
    r"""How well the predictions match each GP list's actual cost: the list is what is paid.

    For list ``l`` with exposure ``E_l`` (person-years), actual cost ``A_l = sum w_i y_i`` and
    predicted cost ``P_l = sum w_i yhat_i`` (NOK), and the national mean ``ybar_w`` (NOK per
    person-year):

    - ``r2`` :math:`= 1 - \sum_l (A_l - P_l)^2 / \sum_l (A_l - E_l \bar y_w)^2`;
    - ``cpm`` :math:`= 1 - \sum_l |A_l - P_l| / \sum_l |A_l - E_l \bar y_w|`;
    - ``mape_pct``: mean over lists of :math:`100 |P_l - A_l| / A_l`, in percent;
    - ``share_pr_95_105`` and ``share_pr_90_110``: share of lists whose predictive ratio
      :math:`P_l / A_l` lies within 0.95-1.05 and 0.9-1.1 (bounds included);
      lists with no cost at all have no ratio and are left out of these three;
    - ``lists``: the number of lists.

    The baseline in the R² and CPM denominators is the flat per-capita grant (exposure times the
    national mean), not the mean list total: list totals vary mostly with list size, which any
    per-capita grant captures, so the textbook R² of totals is close to 1 even for a flat grant
    and would say nothing about the adjustment. With this baseline a flat grant scores 0 and a
    perfect prediction 1.

    Parameters
    ----------
    list_ids : array-like
        The GP list of each person.
    y, yhat, w : ndarray
        Actual and predicted NOK per year, exposure in person-years.
    """
    y, yhat, w = _as_arrays(y, yhat, w)
    totals = list_totals(list_ids, y, yhat, w)
    actual = totals["actual_nok"].to_numpy()
    predicted = totals["predicted_nok"].to_numpy()
    flat = totals["exposure"].to_numpy() * _weighted_mean(y, w)
    positive = actual > 0
    ratio = predicted[positive] / actual[positive]
    nan = float("nan")
    return {
        "r2": _skill(np.square(actual - predicted), np.square(actual - flat)),
        "cpm": _skill(np.abs(actual - predicted), np.abs(actual - flat)),
        "mape_pct": float(np.mean(np.abs(ratio - 1.0))) * 100.0 if ratio.size else nan,
        "share_pr_95_105": _share_within(ratio, 0.95, 1.05),
        "share_pr_90_110": _share_within(ratio, 0.9, 1.1),
        "lists": float(len(totals)),
    }


def _skill(model_loss: np.ndarray, baseline_loss: np.ndarray) -> float:
    """One minus the model's total loss over the flat grant's; NaN when the baseline is exact."""
    baseline = float(np.sum(baseline_loss))
    return 1.0 - float(np.sum(model_loss)) / baseline if baseline > 0 else float("nan")


def _share_within(ratio: np.ndarray, low: float, high: float) -> float:
    return float(np.mean((ratio >= low) & (ratio <= high))) if ratio.size else float("nan")
