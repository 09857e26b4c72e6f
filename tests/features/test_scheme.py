import numpy as np
import pytest

from features.scheme import (
    SchemeParameters,
    budget_neutral_rate,
    person_grant,
    round_nok,
)


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


def test_one_amount_rounds_to_the_same_ore_as_an_array_of_them():
    """An answer rounds its few amounts one by one, a settlement rounds arrays: same øre."""
    rng = np.random.default_rng(7)
    amounts = np.concatenate(
        [
            rng.normal(0, 1e4, 20_000),
            rng.uniform(-1e9, 1e9, 20_000),
            np.round(rng.uniform(-1e5, 1e5, 20_000), 3),  # exact halves of an øre
            [1.005, -1.005, 2.675, 0.005, -0.005, 0.0, -0.0, 1e-9, 5e15, float("nan")],
        ]
    )
    one_by_one = np.array([round_nok(float(amount)) for amount in amounts])
    np.testing.assert_array_equal(one_by_one, round_nok(amounts))
