"""Challengers to the additive tariff: a log-link Tweedie GLM and Poisson gradient boosting.

They usually fit better than the tariff, but their effects are multiplicative (the GLM) or not
separable at all (boosting), so they cannot be read as NOK per indicator and are not the tariff.
They show how much fit the additive form gives up. Each is a scikit-learn ``Pipeline`` wrapped in
``Challenger``, whose ``fit(features, y, weight)`` and ``predict(features)`` match the tariff's,
so ``training.validation.cross_validate`` treats them alike.

Both minimise a deviance that allows zero cost (many listed persons do not see their GP in a
year) and weight each person by exposure (months listed / 12), as the tariff does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import TweedieRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from threadpoolctl import threadpool_limits

# Level-code columns ``derive_features`` may return; ``refugee`` is absent when the
# configuration has no refugee factor, so columns are chosen from what the frame holds.
CODE_COLUMNS = ("age_sex", "health_status", "education", "centrality", "refugee")
SHARE_COLUMN = "education_share"


def code_columns(features: pd.DataFrame) -> list[str]:
    """The factor level-code columns present in ``features``."""
    return [name for name in CODE_COLUMNS if name in features.columns]


def share_columns(features: pd.DataFrame) -> list[str]:
    """The education share column, if ``features`` holds it."""
    return [SHARE_COLUMN] if SHARE_COLUMN in features.columns else []


def _as_category(codes: pd.DataFrame) -> pd.DataFrame:
    # Boosting treats category-dtype columns as unordered categories; it maps levels by value,
    # so a fold that lacks a level still predicts the others correctly.
    return codes.astype("category")


class Challenger:
    """A scikit-learn pipeline with the tariff's ``fit(features, y, weight)`` and ``predict``.

    Parameters
    ----------
    name : str
        Short name for reports and MLflow runs, for example ``tweedie_glm``.
    pipeline : Pipeline
        Its last step is the estimator that receives the exposure as ``sample_weight``.
    openmp_threads : int or None
        OpenMP threads while fitting and predicting; None leaves the process default.
    """

    def __init__(self, name: str, pipeline: Pipeline, *, openmp_threads: int | None = None):
        self.name = name
        self.pipeline = pipeline
        self.openmp_threads = openmp_threads

    def _threads(self) -> AbstractContextManager:
        if self.openmp_threads is None:
            return nullcontext()
        return threadpool_limits(limits=self.openmp_threads, user_api="openmp")

    def __repr__(self) -> str:
        return f"Challenger({self.name!r})"

    def fit(self, features: pd.DataFrame, y: np.ndarray, weight: np.ndarray) -> Challenger:
        """Fit on annual cost ``y`` (NOK) with exposure ``weight`` (months listed / 12)."""
        if len(features) != len(y) or len(y) != len(weight):
            raise ValueError("features, y and weight must have one row per person")
        last_step = self.pipeline.steps[-1][0]
        fit_params = {f"{last_step}__sample_weight": np.asarray(weight, dtype="float64")}
        with self._threads():
            self.pipeline.fit(features, np.asarray(y, dtype="float64"), **fit_params)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Expected annual cost in NOK per person (positive: both models use a log link)."""
        with self._threads():
            return np.asarray(self.pipeline.predict(features), dtype="float64")


def tweedie_glm(alpha: float = 1e-6) -> Challenger:
    """Log-link Tweedie GLM (power 1.5) on one-hot indicator levels: multiplicative main effects.

    Power 1.5 is a compound Poisson-gamma distribution: a point mass at zero cost plus a
    continuous positive part, the usual shape of annual GP claims. ``alpha`` is a small ridge
    penalty that only keeps rare levels finite. Newton-Cholesky solves the few dozen dummy
    columns in a handful of iterations.
    """
    encode = ColumnTransformer(
        [("levels", OneHotEncoder(handle_unknown="ignore"), code_columns)],
        remainder="drop",
    )
    glm = TweedieRegressor(
        power=1.5, link="log", alpha=alpha, solver="newton-cholesky", max_iter=200
    )
    return Challenger("tweedie_glm", Pipeline([("encode", encode), ("glm", glm)]))


def gradient_boosting(max_iter: int = 300, learning_rate: float = 0.1) -> Challenger:
    """Histogram gradient boosting with Poisson loss (log link) on the levels as categories.

    The education share enters as a number as well as through the education class, so trees may
    find a better cut than the policy threshold. Interactions are allowed, so this is the upper
    benchmark of what the indicators can predict. Early stopping on a seeded 10 % validation split
    keeps one fit on 200,000 persons to a few seconds. It runs on one OpenMP thread: on a small
    machine that is busy with other work, two spinning OpenMP threads made a fit up to ten times
    slower (60 s instead of 2 s), while on an idle machine the second thread saved well under a
    second.
    """
    prepare = ColumnTransformer(
        [
            (
                "levels",
                FunctionTransformer(_as_category, feature_names_out="one-to-one"),
                code_columns,
            ),
            ("share", "passthrough", share_columns),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    boosting = HistGradientBoostingRegressor(
        loss="poisson",
        learning_rate=learning_rate,
        max_iter=max_iter,
        max_leaf_nodes=31,
        min_samples_leaf=50,
        categorical_features="from_dtype",
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=0,
    )
    pipeline = Pipeline([("prepare", prepare), ("boosting", boosting)])
    return Challenger("gradient_boosting", pipeline, openmp_threads=1)


CHALLENGERS: dict[str, Callable[[], Challenger]] = {
    "tweedie_glm": tweedie_glm,
    "gradient_boosting": gradient_boosting,
}
