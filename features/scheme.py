"""From expected cost to money: relative weight, dampening, budget-neutral rate, grants.

The chain, per person ``i`` (all amounts annual NOK):

- expected cost ``c_i``: the tariff's additive NOK effects summed over the person's indicators;
- relative weight ``w_i = (1 - d) * c_i / m + d``, with ``m`` the reference population's mean
  expected cost, so the mean weight is 1 at any dampening ``d``;
- rate ``R = (B - S) / sum(w_i)`` over the reference population (budget neutrality), with ``B``
  the budget and ``S`` the fixed-rate supplements (a refugee rate in NOK);
- person grant ``G_i = R * w_i + s_i`` and list grant ``G_l = sum of G_i over the list``.

Rounding: grants are computed unrounded and rounded to øre (two decimals, half away from zero)
only when reported; a list total is the sum of unrounded person grants, rounded once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

AVERAGE_GRANT_2023_NOK = 841.80  # national average per listed person per year from 1 July 2023


class SchemeParameters(BaseModel):
    """How weights become money; the bounds are declared once and shared by CLI, API and MLflow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dampening: float = Field(
        0.0, ge=0, le=1, description="share of the grant kept flat: weight (1 - d) * w + d"
    )
    budget_nok: float | None = Field(
        None,
        ge=0,
        description="annual budget in NOK; default: average_grant_nok times the listed persons",
    )
    average_grant_nok: float = Field(
        AVERAGE_GRANT_2023_NOK, gt=0, description="NOK per listed person per year behind the budget"
    )
    refugee_rate_nok: float | None = Field(
        None,
        ge=0,
        description="fixed annual NOK per first-year refugee, replacing the estimated effect",
    )
    utjamning_moved_nok: float | None = Field(
        None,
        ge=0,
        description="2026 rule: the utjamningstilskudd money U (annual NOK) added to the budget "
        "and spent on the centrality supplement of lists in class 5-6 practice kommuner",
    )
    utjamning_class6_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="share of U spent on class 6 practice kommuner; the rest goes to class 5 "
        "(a product choice: the white paper leaves the split open)",
    )
    centrality_strengthening_nok: dict[int, float] | None = Field(
        None,
        description="derived at calibration: annual NOK per person listed in a practice kommune "
        "of class 5 and of class 6 that spends U",
    )

    def strengthening_for(self, class5_persons: int, class6_persons: int) -> SchemeParameters:
        """The scheme with U divided into NOK per person of class 5 and class 6 lists.

        A class without persons passes its share to the other, so all of U is spent.
        """
        if self.utjamning_moved_nok is None:
            return self
        share6 = self.utjamning_class6_share
        if class6_persons == 0:
            share6 = 0.0
        elif class5_persons == 0:
            share6 = 1.0
        money = self.utjamning_moved_nok
        per_person = {
            5: money * (1 - share6) / class5_persons if class5_persons else 0.0,
            6: money * share6 / class6_persons if class6_persons else 0.0,
        }
        return self.model_copy(update={"centrality_strengthening_nok": per_person})

    def budget_for(self, persons: int) -> float:
        """The budget in NOK for a population of ``persons`` listed persons."""
        if self.budget_nok is not None:
            return float(self.budget_nok)
        return self.average_grant_nok * persons


@dataclass(frozen=True)
class Tariff:
    """Additive NOK effects per indicator level: the model a person reads.

    ``effects[factor][level]`` is annual NOK; the age-and-sex cells carry the base amount and
    the other factors add to it, their first level being 0.
    """

    effects: dict[str, np.ndarray]
    mean_cost_nok: float

    @classmethod
    def from_table(cls, table: pd.DataFrame, mean_cost_nok: float) -> Tariff:
        effects = {
            str(factor): rows.sort_values("level_code")["effect_nok"].to_numpy(dtype="float64")
            for factor, rows in table.groupby("factor", sort=False)
        }
        return cls(effects, float(mean_cost_nok))

    def contributions(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Expected annual NOK per factor and person; they add up to the expected cost."""
        return {
            factor: effect[features[factor].to_numpy()] for factor, effect in self.effects.items()
        }

    def expected_cost(self, features: pd.DataFrame) -> np.ndarray:
        """Expected annual cost in NOK per person: the sum of the factor effects."""
        return np.sum(list(self.contributions(features).values()), axis=0)


def budget_neutral_rate(weights: np.ndarray, budget_nok: float, supplements_nok: float) -> float:
    """NOK per weight unit such that weights times rate plus supplements spend the budget."""
    total_weight = float(np.sum(weights))
    if total_weight <= 0:
        raise ValueError("the reference population has no weight to spread the budget over")
    return (budget_nok - supplements_nok) / total_weight


def person_grant(weights: np.ndarray, rate_nok: float, supplements: np.ndarray) -> np.ndarray:
    """Annual grant in NOK per person, unrounded."""
    return rate_nok * weights + supplements


@overload
def round_nok(amount: float) -> float: ...
@overload
def round_nok(amount: np.ndarray | pd.Series) -> np.ndarray: ...
def round_nok(amount: np.ndarray | pd.Series | float) -> np.ndarray | float:
    """Round to øre, half away from zero, as money is reported.

    The amount is first cleaned of binary noise at 1e-6 øre, so 1.005 rounds to 1.01 as a
    person reading the decimal figure expects, not to 1.00 as its float representation would.
    """
    if isinstance(amount, float | int) and math.isfinite(amount):
        # One amount (every answer rounds a few): the same arithmetic as below, in Python's
        # floats, as numpy's round(x, 6) is x * 1e6 rounded half to even, divided by 1e6.
        ore = round(float(amount) * 100.0 * 1e6) / 1e6
        whole = math.floor(abs(ore) + 0.5)
        return (-whole if ore < 0 else whole) / 100.0
    scaled = np.round(np.asarray(amount, dtype="float64") * 100.0, 6)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / 100.0
    return float(rounded) if np.ndim(rounded) == 0 else rounded
