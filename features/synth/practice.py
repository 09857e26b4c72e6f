"""The lists' practice facts in the synthetic population: form of practice, list cap, start.

They decide the two list-level lines of the basistilskudd (``features.basistilskudd``), so they
are drawn where those rules bite: small kommuner have more salaried GPs (who get no
utjamningstilskudd) and shorter lists, and a share of lists is new (agreement in its first two
years) and short, some with a list cap of at least 500 (grunntilskudd). Constants are under
``lists.practice`` in ``features/reference/synth_cost_model.yaml``; docs/cost-model.md explains
each one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIZE_BANDS = ("small", "medium", "large")  # under 5,000 / 5,000-20,000 / over 20,000 inhabitants


def size_band(population: np.ndarray) -> np.ndarray:
    """0, 1 or 2: kommune under 5,000, from 5,000 to 20,000, over 20,000 inhabitants."""
    return np.searchsorted(np.array([5_000, 20_000]), population, side="right")


def length_factor_by_kommune(population: np.ndarray, params: dict) -> np.ndarray:
    """Relative list length per kommune: lists are shorter in kommuner under 5,000."""
    small = size_band(population) == 0
    return np.where(small, params["lists"]["practice"]["small_kommune_length_factor"], 1.0)


def draw_practice(practice_population: np.ndarray, params: dict, rng) -> dict:
    """Per list (given its practice kommune's inhabitants): salaried, new, agreement start.

    New lists start uniformly in the ``new_list_months`` months before the reference date,
    established ones from 2 to ``established_years_max`` years before it.
    """
    practice = params["lists"]["practice"]
    n = len(practice_population)
    band = size_band(practice_population)
    salaried_share = np.array([practice["salaried_share_by_size"][name] for name in SIZE_BANDS])
    salaried = rng.random(n) < salaried_share[band]
    new = rng.random(n) < practice["new_list_share"]
    reference = pd.Timestamp(practice["agreement_reference_date"])
    months_before = np.where(
        new,
        rng.integers(0, practice["new_list_months"], n),
        rng.integers(24, 12 * practice["established_years_max"], n),
    )
    start = pd.DatetimeIndex(
        [reference - pd.DateOffset(months=int(m)) for m in months_before]
    ).normalize()
    length = np.where(new, practice["new_list_length_factor"], 1.0)
    return {"salaried": salaried, "new": new, "start": start, "length_factor": length}


def draw_list_caps(persons: np.ndarray, new: np.ndarray, params: dict, rng) -> np.ndarray:
    """A cap above each list's length (rounded up to 50), never below 500 for a new list;
    a few established GPs work part time with a cap under 500."""
    practice = params["lists"]["practice"]
    n = len(persons)
    headroom = rng.uniform(1.0, practice["cap_headroom_max"], n)
    cap = np.ceil(np.maximum(persons * headroom, 500) / 50) * 50
    part_time = ~new & (rng.random(n) < practice["part_time_share"]) & (persons < 450)
    low_caps = np.array(practice["part_time_caps"])
    cap = np.where(part_time, low_caps[rng.integers(0, len(low_caps), n)], cap)
    return cap.astype(np.int64)


def lists_table(
    list_ids: pd.Series, practice_kommune, facts: dict, persons: np.ndarray, params, rng
) -> pd.DataFrame:
    """The ``lists`` table with the practice facts of contract 1.1."""
    return pd.DataFrame(
        {
            "list_id": list_ids,
            "practice_kommune": practice_kommune,
            "form_of_practice": np.where(facts["salaried"], "salaried", "self_employed"),
            "list_cap": draw_list_caps(persons, facts["new"], params, rng),
            "agreement_start": facts["start"].date,
        }
    )
