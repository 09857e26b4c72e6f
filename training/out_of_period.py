"""How a trained model predicts another period: predictive ratios on a later data set.

The yearly cycle trains on year t - 1 and pays year t. Whether that is fair shows in the
predictive ratios of the model on year t's persons, derived with year t's reference release:
sum of what the model expects over sum of what the persons cost, per subgroup. Cross-validated
ratios (``training.validation``) show the fit within one period; these show that the effects
carry over to another period's persons and areas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import (
    Dataset,
    ModelBundle,
    Release,
    derive_features,
    factors,
    persons_with_practice,
)
from training.calibrate import annualised_cost
from training.metrics import predictive_ratios
from training.validation import validation_groups


def out_of_period_ratios(
    bundle: ModelBundle, dataset: Dataset, release: Release | None = None
) -> pd.DataFrame:
    """Predictive ratios of ``bundle`` on a training-layout ``dataset`` of another period.

    The persons' levels come from ``release`` (default: the data set's own tables); the
    prediction is the model's expected annual cost in NOK, compared with the annualised cost
    weighted by months listed. Columns as ``training.metrics.predictive_ratios``, plus an
    ``age_10y`` grouping (age groups regardless of sex).
    """
    release = release or Release.from_dataset(dataset, "priced data set")
    persons = persons_with_practice(dataset)
    features = derive_features(persons, release.reference, bundle.indicators)
    expected = bundle.tariff.expected_cost(features)
    y, exposure = annualised_cost(persons["cost"].to_numpy(), persons["months_listed"].to_numpy())
    groups = validation_groups(persons, features, factors(bundle.indicators))
    age = persons["age"].to_numpy(dtype="int64")
    decade = np.minimum(age // 10, 9)
    labels = [f"{10 * d}-{10 * d + 9}" for d in range(9)] + ["90+"]
    age_10y = pd.Series(pd.Categorical.from_codes(decade, categories=pd.Index(labels)))
    groups.insert(0, "age_10y", age_10y.set_axis(groups.index))
    return predictive_ratios(groups, y, expected, exposure)
