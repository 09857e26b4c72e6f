"""The synthetic country's GP lists: how many in each kommune, and the list of every person.

Lists are longer in central kommuner and shorter under 5,000 inhabitants; nine persons in ten
are listed in their own kommune, the rest elsewhere in their county. Each list's practice facts
are drawn by ``features.synth.practice``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.synth.draws import apportion, pick_within
from features.synth.parameters import by_centrality_class
from features.synth.practice import draw_practice, length_factor_by_kommune


def _target_length(kommuner: pd.DataFrame, params: dict) -> np.ndarray:
    """Relative list length per kommune: by centrality class, shorter under 5,000 inhabitants."""
    by_class = by_centrality_class(
        params["lists"]["target_length_by_centrality"], kommuner["centrality"].to_numpy()
    )
    return by_class * length_factor_by_kommune(kommuner["population"].to_numpy(), params)


def _list_counts(residents: np.ndarray, length: np.ndarray, params: dict) -> np.ndarray:
    """Lists per kommune: n / persons_per_list in all, longer lists in central kommuner."""
    list_params = params["lists"]
    n_lists = max(1, round(residents.sum() / list_params["persons_per_list"]))
    target = residents / length
    target *= n_lists / target.sum()
    has_residents = residents > 0
    if n_lists < has_residents.sum():
        # Too few lists for one per kommune (a small sample): plain proportional shares, so
        # small kommuner have none and their residents are listed in a neighbouring kommune.
        return apportion(target, n_lists)
    extra = np.maximum(target - 1.0, 0.0)
    extra = extra if extra.sum() > 0 else target
    return has_residents + apportion(extra, n_lists - int(has_residents.sum()))


def draw_lists(kommuner: pd.DataFrame, persons: dict, params: dict, rng) -> dict:
    """Lists in practice kommuner, and the list of every person (90 % in their own kommune)."""
    list_params = params["lists"]
    length = _target_length(kommuner, params)
    counts = _list_counts(persons["residents"], length, params)
    capacity = counts * length
    home = persons["home"].astype(np.int64)
    n_persons = len(home)
    draw = rng["lists"]
    # Persons listed outside their kommune go to another kommune of the same county
    # (first two digits), chosen by its list capacity, excluding their own kommune.
    county = kommuner["kommune"].str.slice(0, 2).to_numpy()
    starts = np.flatnonzero(np.r_[True, county[1:] != county[:-1]])
    county_first = np.repeat(starts, np.diff(np.r_[starts, len(county)]))
    county_last = np.repeat(np.r_[starts[1:], len(county)] - 1, np.diff(np.r_[starts, len(county)]))
    cumulative = np.cumsum(capacity)
    before = np.where(county_first > 0, cumulative[np.maximum(county_first - 1, 0)], 0.0)
    elsewhere = cumulative[county_last] - before - capacity
    at_home = draw.random(n_persons) < list_params["share_listed_in_residence_kommune"]
    no_list = counts[home] == 0
    away = (~at_home & (elsewhere[home] > 0)) | no_list
    origin = home[away]
    u = draw.random(origin.size)
    point = u * elsewhere[origin]
    own_start = np.where(origin > 0, cumulative[np.maximum(origin - 1, 0)], 0.0) - before[origin]
    point = np.where(point >= own_start, point + capacity[origin], point) + before[origin]
    # A kommune without lists in a county without other lists (tiny samples only): anywhere.
    point = np.where(elsewhere[origin] > 0, point, u * cumulative[-1])
    practice = home.copy()
    practice[away] = np.searchsorted(cumulative, point, side="right")
    practice = np.minimum(practice, len(counts) - 1)
    list_first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    facts = draw_practice(
        np.repeat(kommuner["population"].to_numpy(), counts), params, rng["practice"]
    )
    list_weights = np.cumsum(
        draw.gamma(list_params["length_gamma_shape"], 1.0, counts.sum()) * facts["length_factor"]
    )
    list_of = pick_within(
        list_weights,
        list_first[practice],
        list_first[practice] + counts[practice] - 1,
        draw.random(n_persons),
    )
    # The practice kommune is the list's: centrality follows the list, whatever the rounding.
    practice = np.repeat(np.arange(len(counts)), counts)[list_of]
    return {
        "counts": counts,
        "practice": practice,
        "list_of": list_of,
        "n_lists": len(list_weights),
        "facts": facts,
    }
