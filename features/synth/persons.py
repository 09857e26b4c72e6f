"""The synthetic country's persons: residence, age and sex, first-year refugees, months listed.

Ages follow the national pyramid (SSB), tilted towards old ages in rural kommuner and young
ones in central kommuner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.synth.draws import apportion, pick_within
from features.synth.parameters import by_centrality_class, reference_csv


def _age_distributions(params: dict, kommune_class_weight: np.ndarray) -> tuple:
    """Per centrality class, the chance of each single-year age; and P(male | age).

    Each class tilts the national pyramid towards old (rural) or young (central) ages; the
    base is refitted a few times so that the classes together keep the national pyramid.
    """
    pyramid = reference_csv(params["population"]["age_pyramid_file"]).astype(np.int64)
    males, females = pyramid["males"].to_numpy(float), pyramid["females"].to_numpy(float)
    national = (males + females) / (males + females).sum()
    ages = pyramid["age"].to_numpy()
    tilt = by_centrality_class(params["population"]["age_tilt_by_centrality"], np.arange(1, 7))
    factor = np.exp(np.outer(tilt, (ages - 40) / 40))
    base = national.copy()
    for _ in range(20):
        by_class = base * factor
        by_class /= by_class.sum(axis=1, keepdims=True)
        base *= national / (kommune_class_weight @ by_class)
    by_class = base * factor
    by_class /= by_class.sum(axis=1, keepdims=True)
    return ages, by_class, males / (males + females)


def draw_persons(kommuner: pd.DataFrame, gk: dict, n_persons: int, params: dict, rng) -> dict:
    """Residence, age, sex, refugee status and months listed for every person."""
    population = kommuner["population"].to_numpy()
    centrality = kommuner["centrality"].to_numpy()
    residents = apportion(population, n_persons)
    home = np.repeat(np.arange(len(kommuner), dtype=np.int16), residents)
    draw = rng["persons"]
    grunnkrets = pick_within(
        gk["size_cumulative"], gk["first"][home], gk["last"][home], draw.random(n_persons)
    )
    class_weight = np.bincount(centrality - 1, weights=population, minlength=6)
    ages, by_class, male_share = _age_distributions(params, class_weight / class_weight.sum())
    home_class = centrality[home]
    # Inverse CDF for six distributions at once: row c of the CDF is shifted by c.
    shifted = (np.cumsum(by_class, axis=1) + np.arange(6)[:, None]).reshape(-1)
    position = np.searchsorted(shifted, home_class - 1 + draw.random(n_persons), side="right")
    age = ages[np.minimum(position - (home_class - 1) * len(ages), len(ages) - 1)]
    male = draw.random(n_persons) < male_share[age]
    refugee = _refugees(age, home, centrality, params["refugees"], rng)
    months = np.full(n_persons, 12, dtype=np.int8)
    # Exposure: newborns and refugees join during the year, movers leave and come back.
    joined = (age == 0) | refugee
    months[joined] = draw.integers(1, 13, int(joined.sum()))
    mover = ~joined & (draw.random(n_persons) < params["months_listed"]["mover_share"])
    months[mover] = draw.integers(1, 12, int(mover.sum()))
    return {
        "residents": residents,
        "home": home,
        "grunnkrets": grunnkrets,
        "age": age.astype(np.int16),
        "male": male,
        "refugee": refugee,
        "months": months,
    }


def _refugees(age, home, centrality, refugee_params: dict, rng) -> np.ndarray:
    """First-year refugees: about ``share`` of persons, younger, more in some kommuner."""
    steps = np.array(refugee_params["age_weights"], dtype=float)
    by_age = steps[np.searchsorted(steps[:, 0], age, side="right") - 1, 1]
    by_kommune = by_centrality_class(refugee_params["by_centrality"], centrality) * np.exp(
        rng["kommune"].normal(0.0, refugee_params["kommune_sd_log"], len(centrality))
    )
    relative = by_age * by_kommune[home]
    chance = np.minimum(1.0, relative * refugee_params["share"] * len(age) / relative.sum())
    return rng["persons"].random(len(age)) < chance
