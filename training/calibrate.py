"""The tariff estimator: additive weighted least squares of annualised cost on the indicators.

Regulators of comparable schemes (CMS-HCC, Morbi-RSA, Dutch risk equalisation) fit additive
linear least squares on annualised cost weighted by the months enrolled: the coefficients read
as NOK, and the budget balances exactly. Because every indicator is categorical, the estimate
depends on the persons only through per-cell sufficient statistics (exposure, exposure-weighted
sum and sum of squares of annualised cost), so the whole country is fitted from a few thousand
cells in well under a second with the very coefficients and standard errors of a patient-level
statsmodels WLS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from features import Factor, IndicatorConfig, PtbError, Tariff, factors


class CalibrationError(PtbError, ValueError):
    """The data cannot identify the tariff as configured (for example an empty age band)."""


def annualised_cost(cost: np.ndarray, months_listed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Annual cost ``y = cost * 12 / months`` and exposure ``months / 12`` as the WLS weight.

    A person listed for three months who cost 600 NOK stands for 2,400 NOK a year, but with a
    quarter of the weight: short spells are noisier, and weighting by exposure keeps the
    estimate unbiased for the annual cost of a full year on the list.
    """
    months = np.asarray(months_listed, dtype="float64")
    return np.asarray(cost, dtype="float64") * 12.0 / months, months / 12.0


def cell_statistics(
    features: pd.DataFrame, y: np.ndarray, weight: np.ndarray, model_factors: tuple[Factor, ...]
) -> pd.DataFrame:
    """Per combination of factor levels: persons, exposure, weighted sum and sum of squares of y."""
    sizes = [len(factor.levels) for factor in model_factors]
    # Every person's cell as one integer in the (small) space of all level combinations, so
    # the sums are single passes of bincount rather than a sort of five million keys.
    key = np.ravel_multi_index([features[f.name].to_numpy() for f in model_factors], sizes)
    n_cells = int(np.prod(sizes))
    persons = np.bincount(key, minlength=n_cells)
    seen = np.flatnonzero(persons)
    stats_ = pd.DataFrame(
        {
            "persons": persons[seen],
            "exposure": np.bincount(key, weights=weight, minlength=n_cells)[seen],
            "sum_wy": np.bincount(key, weights=weight * y, minlength=n_cells)[seen],
            "sum_wyy": np.bincount(key, weights=weight * y * y, minlength=n_cells)[seen],
            # squared weights: the heteroscedasticity-robust (sandwich) standard errors
            "sum_wwyy": np.bincount(key, weights=(weight * y) ** 2, minlength=n_cells)[seen],
            "sum_wwy": np.bincount(key, weights=weight * weight * y, minlength=n_cells)[seen],
            "sum_ww": np.bincount(key, weights=weight * weight, minlength=n_cells)[seen],
        }
    )
    for factor, level in zip(model_factors, np.unravel_index(seen, sizes), strict=True):
        stats_[factor.name] = level.astype("int16")
    return stats_


def design_matrix(
    codes: pd.DataFrame,
    model_factors: tuple[Factor, ...],
    centrality_classes: tuple[int, ...] = (2, 3, 4, 5, 6),
) -> pd.DataFrame:
    """Additive design: one dummy per age-and-sex cell (no intercept), treatment-coded supplements.

    The age-and-sex coefficient is then the expected NOK of a person in the first level of every
    other factor, and each supplement coefficient is NOK added on top. Centrality is a
    supplement for ``centrality_classes`` only: the other classes share the reference level.
    """
    columns: dict[str, np.ndarray] = {}
    for position, factor in enumerate(model_factors):
        values = codes[factor.name].to_numpy()
        first = 0 if position == 0 else 1
        for level_code in range(first, len(factor.levels)):
            if factor.name == "centrality" and level_code + 1 not in centrality_classes:
                continue
            columns[f"{factor.name}[{factor.levels[level_code]}]"] = (values == level_code).astype(
                "float64"
            )
    return pd.DataFrame(columns, index=codes.index)


class CapitationRegressor:
    """Additive WLS tariff on categorical indicators, fitted from cell sufficient statistics.

    Parameters
    ----------
    indicators : IndicatorConfig
        The bands, threshold and areas that define the factors.
    alpha : float
        One minus the confidence level of the reported intervals.

    Attributes (after ``fit``)
    --------------------------
    weight_table_ : DataFrame
        One row per factor level: ``effect_nok`` (annual NOK), ``std_err`` (HC1, robust to
        heteroscedasticity), ``ci_low``, ``ci_high``, ``persons`` (persons in the level); first
        supplement levels are 0 NOK.
    cell_table_ : DataFrame
        The sufficient statistics per cell the fit used.
    result_ : statsmodels RegressionResults
        The WLS fit on the cells, its scale set to the patient-level residual variance.
    """

    def __init__(self, *, indicators: IndicatorConfig, alpha: float = 0.05):
        self.indicators = indicators
        self.alpha = alpha

    def fit(self, features: pd.DataFrame, y: np.ndarray, weight: np.ndarray) -> CapitationRegressor:
        """Fit on annual cost ``y`` (NOK) with exposure ``weight`` (months listed / 12)."""
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must lie strictly between 0 and 1")
        if len(features) != len(y) or len(y) != len(weight):
            raise ValueError("features, y and weight must have one row per person")
        model_factors = factors(self.indicators)
        cells = cell_statistics(
            features, np.asarray(y, "float64"), np.asarray(weight, "float64"), model_factors
        )
        return self.fit_cells(cells)

    def fit_cells(self, cells: pd.DataFrame) -> CapitationRegressor:
        """Fit from per-cell sufficient statistics (``cell_statistics``' columns), however they
        were summed: in memory, or by an engine over a data set on disk."""
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must lie strictly between 0 and 1")
        model_factors = factors(self.indicators)
        self._check_identified(cells, model_factors)
        design, fitted = self._fit_supplements(cells, model_factors)
        # Patient-level residual sum of squares from the cell statistics:
        # sum_i w_i (y_i - x_i b)^2 = sum_g [sum_wyy_g - 2 b'x_g sum_wy_g + n_g (b'x_g)^2].
        predicted = design.to_numpy() @ fitted.params.to_numpy()
        ssr = float(
            np.sum(
                cells["sum_wyy"]
                - 2 * predicted * cells["sum_wy"]
                + cells["exposure"] * predicted**2
            )
        )
        n_persons = int(cells["persons"].sum())
        df_resid = n_persons - int(np.linalg.matrix_rank(design.to_numpy()))
        scale = ssr / df_resid
        linear_model = sm.regression.linear_model
        result = linear_model.RegressionResults(
            fitted.model, fitted.params.to_numpy(), fitted.normalized_cov_params.to_numpy(), scale
        )
        result.df_resid = df_resid  # persons, not cells, are the observations
        result.scale = scale  # the patient-level residual variance, not the cells'
        self.result_ = linear_model.RegressionResultsWrapper(result)
        self.robust_se_ = self._robust_se(cells, design.to_numpy(), predicted, fitted, df_resid)
        self.n_persons_ = n_persons
        self.rss_ = ssr
        self.cell_table_ = cells
        self.weight_table_ = self._weight_table(model_factors, cells)
        return self

    def _fit_supplements(self, cells: pd.DataFrame, model_factors: tuple[Factor, ...]) -> tuple:
        """WLS on the cells; a centrality supplement estimated below 0 is dropped and refitted.

        The rule pays a supplement (påslag), never a deduction, so a class whose estimate is
        negative gets none and the others are estimated without it.
        """
        classes = self.indicators.centrality_supplement_classes
        cell_mean = (cells["sum_wy"] / cells["exposure"]).to_numpy()
        while True:
            design = design_matrix(cells, model_factors, classes)
            present = design.columns[
                (design.to_numpy() * cells["persons"].to_numpy()[:, None]).sum(axis=0) > 0
            ]
            design = design[present]
            fitted = sm.WLS(cell_mean, design, weights=cells["exposure"].to_numpy()).fit()
            negative = tuple(c for c in classes if fitted.params.get(f"centrality[{c}]", 0.0) < 0)
            if not negative:
                return design, fitted
            classes = tuple(c for c in classes if c not in negative)

    @staticmethod
    def _robust_se(
        cells: pd.DataFrame, design: np.ndarray, predicted: np.ndarray, fitted, df_resid: int
    ) -> pd.Series:
        """HC1 standard errors of the person-level WLS, from the cell statistics.

        Cost is far from homoscedastic (a few persons cost a hundred times the mean), so the
        classical errors misstate the uncertainty of each NOK amount. The sandwich
        (X'WX)^-1 [sum_i w_i^2 e_i^2 x_i x_i'] (X'WX)^-1 * n / (n - k) equals statsmodels'
        ``cov_type="HC1"`` on the persons, and needs only per-cell sums of squared weights.
        """
        squares = (
            cells["sum_wwyy"] - 2 * predicted * cells["sum_wwy"] + predicted**2 * cells["sum_ww"]
        ).to_numpy()
        bread = np.asarray(fitted.normalized_cov_params)
        meat = design.T @ (design * squares[:, None])
        n_persons = int(cells["persons"].sum())
        covariance = bread @ meat @ bread * n_persons / df_resid
        return pd.Series(np.sqrt(np.clip(np.diag(covariance), 0, None)), index=fitted.params.index)

    @staticmethod
    def _check_identified(cells: pd.DataFrame, model_factors: tuple[Factor, ...]) -> None:
        age_sex = model_factors[0]
        seen = set(cells.loc[cells["persons"] > 0, age_sex.name])
        empty = [label for code, label in enumerate(age_sex.levels) if code not in seen]
        if empty:
            raise CalibrationError(
                f"no persons in age and sex cells {', '.join(empty)}: "
                "widen age_edges or use more data"
            )

    def _weight_table(self, model_factors: tuple[Factor, ...], cells: pd.DataFrame) -> pd.DataFrame:
        params, bse = self.result_.params, self.robust_se_
        t = stats.t.ppf(1 - self.alpha / 2, self.result_.df_resid)
        rows = []
        for factor in model_factors:
            persons = cells.groupby(factor.name)["persons"].sum()
            for code, label in enumerate(factor.levels):
                name = f"{factor.name}[{label}]"
                effect = float(params.get(name, 0.0))
                se = float(bse.get(name, np.nan))
                rows.append(
                    {
                        "factor": factor.name,
                        "level_code": code,
                        "level": label,
                        "persons": int(persons.get(code, 0)),
                        "effect_nok": effect,
                        "std_err": se,
                        "ci_low": effect - t * se,
                        "ci_high": effect + t * se,
                    }
                )
        return pd.DataFrame(rows)

    def coefficient_table(self) -> pd.DataFrame:
        """The statsmodels coefficient table: estimate, SE, t, p and confidence interval."""
        ci = self.result_.conf_int(alpha=self.alpha)
        return (
            pd.DataFrame(
                {
                    "coef_nok": self.result_.params,
                    "std_err": self.result_.bse,
                    "t": self.result_.tvalues,
                    "p_value": self.result_.pvalues,
                    "robust_std_err": self.robust_se_,
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                }
            )
            .rename_axis("term")
            .reset_index()
        )

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Expected annual cost in NOK per person."""
        return Tariff.from_table(self.weight_table_, 1.0).expected_cost(features)
