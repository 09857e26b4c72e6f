"""A model trained on one synthetic data set predicts another: other seed, other kommuner."""

from __future__ import annotations

import pandas as pd
import pytest

from features.releases import Release
from tests.integration.geography import without_counties
from training.fit import calibrate
from training.out_of_period import out_of_period_ratios

pytestmark = pytest.mark.slow
# Large enough that the refugee group (0.5 % of persons) has over 1,000 persons.
PERSONS = 300_000
MIN_PERSONS = 1_000


@pytest.fixture(scope="module")
def ratios() -> pd.DataFrame:
    from features.synth import synthesise

    year_one = without_counties(synthesise(PERSONS, 31), ("46",))  # no Vestland
    year_two = without_counties(synthesise(PERSONS, 32), ("18",))  # no Nordland
    bundle = calibrate(year_one).bundle
    return out_of_period_ratios(bundle, year_two, Release.from_dataset(year_two, "year two"))


def test_predictive_ratios_on_another_data_set_stay_within_five_percent(ratios):
    groups = ratios[ratios["persons"] >= MIN_PERSONS]
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(groups[["group", "level", "persons", "predictive_ratio"]].to_string(index=False))
    assert set(groups["group"]) == {
        "age_10y",
        "age_sex_10y",
        "sex",
        "health_status",
        "education",
        "centrality",
        "refugee",
    }
    assert "first year" in set(groups.loc[groups["group"] == "refugee", "level"])
    outside = groups[(groups["predictive_ratio"] < 0.95) | (groups["predictive_ratio"] > 1.05)]
    assert outside.empty, outside.to_string()
