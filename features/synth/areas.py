"""The synthetic country's areas: the real kommuner, drawn grunnkretser and bydeler, and the
grunnkretser's education shares (true, and as SSB publishes them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from features.synth.draws import apportion
from features.synth.parameters import by_centrality_class, reference_csv


def kommune_table(params: dict) -> pd.DataFrame:
    """The 357 real kommuner with centrality and a population scaled to the simulated year."""
    pop_params = params["population"]
    raw = reference_csv(pop_params["kommuner_file"])
    population = pd.to_numeric(raw["befolkning_2021"].replace("", np.nan)).to_numpy(
        float, copy=True
    )
    index = {code: i for i, code in enumerate(raw["kommunenummer"])}
    for entry in pop_params["imputed_population"]:
        population[index[entry["kommune"]]] = entry["persons"]
        population[index[entry["taken_from"]]] -= entry["persons"]
    return pd.DataFrame(
        {
            "kommune": raw["kommunenummer"].astype("string"),
            "name": raw["kommune"].astype(object),
            "centrality": raw["sentralitetsklasse"].astype(np.int64),
            "population": population * pop_params["total"] / population.sum(),
        }
    )


def draw_grunnkretser(kommuner: pd.DataFrame, n_persons: int, params: dict, rng) -> dict:
    """Grunnkretser per kommune (proportional to population, at least one) and their shares."""
    gk = params["grunnkretser"]
    n_kommuner = len(kommuner)
    wanted = round(gk["country_count"] * n_persons / params["population"]["total"])
    total = int(np.clip(wanted, n_kommuner, gk["country_count"]))
    per_kommune = 1 + apportion(kommuner["population"].to_numpy(), total - n_kommuner)
    kommune_of = np.repeat(np.arange(n_kommuner), per_kommune)
    first = np.concatenate([[0], np.cumsum(per_kommune)[:-1]])
    rank = np.arange(total) - first[kommune_of]
    # Real codes are kommune (4) + delområde (2) + grunnkrets (2); keep both parts under 100.
    per_delomrade = np.maximum(10, np.ceil(per_kommune / 99).astype(np.int64))[kommune_of]
    number = kommuner["kommune"].astype(int).to_numpy()[kommune_of] * 10_000
    number += (rank // per_delomrade + 1) * 100 + rank % per_delomrade + 1
    share_params = gk["primary_only_share"]
    centrality = kommuner["centrality"].to_numpy()
    kommune_logit = logit(by_centrality_class(share_params["mean_by_centrality"], centrality))
    kommune_logit += rng["kommune"].normal(0.0, share_params["kommune_sd_logit"], n_kommuner)
    _, delomrade = np.unique(number // 100, return_inverse=True)
    delomrade_logit = rng["grunnkrets"].normal(
        0.0, share_params["delomrade_sd_logit"], delomrade.max() + 1
    )
    share = expit(
        kommune_logit[kommune_of]
        + delomrade_logit[delomrade]
        + rng["grunnkrets"].normal(0.0, share_params["grunnkrets_sd_logit"], total)
    )
    return {
        "codes": np.char.zfill(number.astype(str), 8),
        "bydel": _bydeler(kommuner, kommune_of, rank, per_kommune, gk["bydeler"]),
        "kommune_of": kommune_of,
        "first": first,
        "last": first + per_kommune - 1,
        "size_cumulative": np.cumsum(rng["grunnkrets"].gamma(gk["size_gamma_shape"], 1.0, total)),
        "primary_only_share": np.round(share, 4),
    }


def _bydeler(
    kommuner: pd.DataFrame,
    kommune_of: np.ndarray,
    rank: np.ndarray,
    per_kommune: np.ndarray,
    bydeler: dict[str, int],
) -> np.ndarray:
    """The bydel of each grunnkrets in the kommuner that have bydeler, else None.

    A kommune's grunnkretser are cut into as many runs of consecutive codes as it has bydeler
    (fewer when a small sample has fewer grunnkretser); bydel codes are kommune + 2 digits.
    """
    codes = kommuner["kommune"].to_numpy(dtype=object)
    found = np.full(len(kommune_of), None, dtype=object)
    for kommune, count in bydeler.items():
        position = np.flatnonzero(codes == kommune)
        if not position.size:
            continue
        mine = kommune_of == position[0]
        groups = min(int(count), int(per_kommune[position[0]]))
        number = rank[mine] * groups // per_kommune[position[0]] + 1
        found[mine] = [f"{kommune}{n:02d}" for n in number]
    return found


def suppressed_shares(gk: dict, residence: np.ndarray, params: dict) -> np.ndarray:
    """The shares as SSB publishes them: empty for grunnkretser with few residents.

    A kommune's most populous grunnkrets always keeps its share, so every kommune has one to
    fall back to. The cost model uses the true shares; only the published table has gaps.
    """
    share = gk["primary_only_share"]
    residents = np.bincount(residence, minlength=len(share))
    hidden = residents < params["suppress_share_below_residents"]
    kommune_of = gk["kommune_of"]
    order = np.lexsort((-residents, kommune_of))  # by kommune, most residents first
    first = np.r_[True, kommune_of[order][1:] != kommune_of[order][:-1]]
    hidden[order[first]] = False
    return np.where(hidden, np.nan, share)
