import numpy as np
import pandas as pd
import pytest

from features.scheme import (
    SchemeParameters,
    budget_neutral_rate,
    grant_per_list,
    person_grant,
    relative_weight,
    round_nok,
)


def test_dampening_half_gives_the_mean_of_weight_and_one():
    w = np.array([0.2, 1.0, 3.5])
    undampened = relative_weight(w * 2000.0, 2000.0, 0.0)
    assert np.allclose(relative_weight(w * 2000.0, 2000.0, 0.5), (undampened + 1) / 2)


def test_full_dampening_pays_everyone_the_same():
    assert np.allclose(relative_weight(np.array([100.0, 9000.0]), 2500.0, 1.0), 1.0)


def test_budget_neutral_rate_spends_the_budget_exactly():
    rng = np.random.default_rng(0)
    weights = rng.gamma(2.0, 0.5, 100_000)
    supplements = np.where(rng.random(100_000) < 0.005, 5000.0, 0.0)
    budget = 841.80 * 100_000
    rate = budget_neutral_rate(weights, budget, supplements.sum())
    assert abs(person_grant(weights, rate, supplements).sum() - budget) < 1.0


def test_default_budget_is_the_average_grant_per_listed_person():
    assert SchemeParameters().budget_for(1000) == pytest.approx(841_800.0)
    assert SchemeParameters(budget_nok=5.0).budget_for(1000) == 5.0


@pytest.mark.parametrize(
    "field,value",
    [("dampening", 1.2), ("dampening", -0.1), ("budget_nok", -1.0), ("refugee_rate_nok", -5.0)],
)
def test_scheme_bounds_are_enforced(field, value):
    with pytest.raises(ValueError, match=field):
        SchemeParameters(**{field: value})


def test_rounding_is_to_ore_half_away_from_zero():
    assert round_nok(0.125) == 0.13
    assert round_nok(-0.125) == -0.13
    assert list(round_nok(np.array([1.004, 1.005, 2.675]))) == [1.0, 1.01, 2.68]


def test_list_total_equals_sum_of_person_grants():
    lists = pd.Series(["B", "A", "B", "A", "C"])
    grants = np.array([100.0, 200.0, 300.0, 50.0, 10.0])
    table = grant_per_list(lists, grants, grants / 100)
    assert table.set_index("list_id")["total_nok"].to_dict() == {"A": 250.0, "B": 400.0, "C": 10.0}
    assert table.set_index("list_id")["persons"].to_dict() == {"A": 2, "B": 2, "C": 1}
