"""Synthetic population: persons on GP lists in Norway's 357 kommuner, with a known cost model.

The product is trained, tested and benchmarked on this population because registry data
(FLO, KUHR) cannot leave the registry. Kommuner and their centrality classes are real (SSB);
everything below them is drawn. The cost model is additive in the indicators the tariff uses,
so a calibration can be checked against the truth: see ``docs/cost-model.md``. Every constant
is read from ``features/reference/synth_cost_model.yaml``.

Generation is vectorised: a person is a row in a handful of numpy arrays, and "pick one item
per person in proportion to weights within a group" is one ``searchsorted`` on cumulative
weights, so the whole country (5.55 million persons) takes seconds, not hours.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import expit, logit

from features.contract import Dataset
from features.cost_model import (
    age_cost_curve,
    by_centrality_class,
    draw_costs,
    expected_annual_cost,
    load_parameters,
)
from features.synth_practice import draw_practice, length_factor_by_kommune, lists_table

STEPS = ("kommuner", "grunnkretser", "persons", "lists", "costs")
__all__ = ["age_cost_curve", "expected_annual_cost", "load_parameters", "synthesise"]


def _reference_csv(name: str) -> pd.DataFrame:
    with resources.files("features").joinpath("reference", name).open("rb") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that add up to ``total`` (largest remainder)."""
    quota = weights / weights.sum() * total
    counts = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _pick_within(
    cumulative: np.ndarray, first: np.ndarray, last: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Per person, an item in ``first..last`` (inclusive) drawn in proportion to its weight.

    ``cumulative`` is the running sum of item weights with each group's items contiguous, so
    one ``searchsorted`` on a point inside the group's stretch draws for every person at once.
    """
    low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    target = low + u * (cumulative[last] - low)
    return np.clip(np.searchsorted(cumulative, target, side="right"), first, last)


def _string_column(values: pa.Array, index: np.ndarray | None = None) -> pd.Series:
    """A pandas string column over Arrow memory (optionally ``values[index]``), no per-row str."""
    return pd.Series(pd.arrays.ArrowStringArray(values if index is None else values.take(index)))


def _numbered_ids(prefix: str, count: int, width: int) -> pa.Array:
    """``prefix`` plus zero-padded 1..count ("P0000001"), computed by Arrow, not per row."""
    digits = pd.Series(np.arange(1, count + 1)).astype("string").str.zfill(width)
    return pa.array(prefix + digits)


class _Steps:
    """An optional rich progress bar with one tick per generation step."""

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._progress: Any = None

    @contextlib.contextmanager
    def running(self) -> Iterator[_Steps]:
        if not self._enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("synthesising {task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            self._progress = progress
            self._task = progress.add_task(STEPS[0], total=len(STEPS))
            yield self

    def done(self, step: str) -> None:
        if self._progress is not None:
            following = STEPS.index(step) + 1
            label = STEPS[following] if following < len(STEPS) else "done"
            self._progress.update(self._task, advance=1, description=label)


def _kommuner(params: dict) -> pd.DataFrame:
    """The 357 real kommuner with centrality and a population scaled to the simulated year."""
    pop_params = params["population"]
    raw = _reference_csv(pop_params["kommuner_file"])
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


def _grunnkretser(kommuner: pd.DataFrame, n_persons: int, params: dict, rng) -> dict:
    """Grunnkretser per kommune (proportional to population, at least one) and their shares."""
    gk = params["grunnkretser"]
    n_kommuner = len(kommuner)
    wanted = round(gk["country_count"] * n_persons / params["population"]["total"])
    total = int(np.clip(wanted, n_kommuner, gk["country_count"]))
    per_kommune = 1 + _apportion(kommuner["population"].to_numpy(), total - n_kommuner)
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


def _suppressed(gk: dict, residence: np.ndarray, params: dict) -> np.ndarray:
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


def _age_distributions(params: dict, kommune_class_weight: np.ndarray) -> tuple:
    """Per centrality class, the chance of each single-year age; and P(male | age).

    Each class tilts the national pyramid towards old (rural) or young (central) ages; the
    base is refitted a few times so that the classes together keep the national pyramid.
    """
    pyramid = _reference_csv(params["population"]["age_pyramid_file"]).astype(np.int64)
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


def _persons(kommuner: pd.DataFrame, gk: dict, n_persons: int, params: dict, rng) -> dict:
    """Residence, age, sex, refugee status and months listed for every person."""
    population = kommuner["population"].to_numpy()
    centrality = kommuner["centrality"].to_numpy()
    residents = _apportion(population, n_persons)
    home = np.repeat(np.arange(len(kommuner), dtype=np.int16), residents)
    draw = rng["persons"]
    grunnkrets = _pick_within(
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
        return _apportion(target, n_lists)
    extra = np.maximum(target - 1.0, 0.0)
    extra = extra if extra.sum() > 0 else target
    return has_residents + _apportion(extra, n_lists - int(has_residents.sum()))


def _lists(kommuner: pd.DataFrame, persons: dict, params: dict, rng) -> dict:
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
    list_of = _pick_within(
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


def synthesise(
    n_persons: int | None = None,
    seed: int = 2026,
    *,
    progress: bool = False,
    include_expected_cost: bool = False,
) -> Dataset:
    """A synthetic data set in the contract's layout, with a known cost model.

    Parameters
    ----------
    n_persons : int or None
        Listed persons; None is the whole country (5,550,203, SSB 1 January 2024).
    seed : int
        The same seed gives identical tables.
    progress : bool
        Show a rich progress bar, one tick per step.
    include_expected_cost : bool
        Add ``persons.expected_cost``: the true annual expected cost mu_i in NOK per year
        (E[cost * 12 / months_listed]), for checking what a calibration recovers.
    """
    params = load_parameters()
    n = params["population"]["total"] if n_persons is None else int(n_persons)
    if n < 1:
        raise ValueError(f"n_persons must be at least 1, got {n_persons}")
    streams = ("kommune", "grunnkrets", "persons", "lists", "costs", "practice")
    spawned = np.random.SeedSequence(seed).spawn(len(streams))
    rng = dict(zip(streams, map(np.random.default_rng, spawned), strict=True))
    with _Steps(progress).running() as steps:
        kommuner = _kommuner(params)
        steps.done("kommuner")
        gk = _grunnkretser(kommuner, n, params, rng)
        steps.done("grunnkretser")
        persons = _persons(kommuner, gk, n, params, rng)
        steps.done("persons")
        published_share = _suppressed(gk, persons["grunnkrets"], params["grunnkretser"])
        listing = _lists(kommuner, persons, params, rng)
        steps.done("lists")
        centrality = kommuner["centrality"].to_numpy()
        share = gk["primary_only_share"][persons["grunnkrets"]]
        cost, copayment, expected = draw_costs(
            persons, share, centrality[listing["practice"]], params, rng
        )
        width = max(7, len(str(n)))
        list_width = max(5, len(str(listing["n_lists"])))
        list_ids = _numbered_ids("L", listing["n_lists"], list_width)
        table = {
            "person_id": _string_column(_numbered_ids("P", n, width)),
            "list_id": _string_column(list_ids, listing["list_of"]),
            "age": persons["age"],
            "sex": _string_column(pa.array(["F", "M"]), persons["male"].astype(np.int8)),
            "grunnkrets": _string_column(pa.array(gk["codes"]), persons["grunnkrets"]),
            "copayment_prev_year": copayment,
            "refugee_first_year": persons["refugee"],
            "months_listed": persons["months"],
            "cost": cost,
        }
        if include_expected_cost:
            table["expected_cost"] = expected
        lists = lists_table(
            _string_column(list_ids),
            kommuner["kommune"].repeat(listing["counts"]).array,
            listing["facts"],
            np.bincount(listing["list_of"], minlength=listing["n_lists"]),
            params,
            rng["practice"],
        )
        dataset = Dataset(
            persons=pd.DataFrame(table),
            lists=lists,
            kommuner=kommuner[["kommune", "name", "centrality"]].assign(
                # Residents in the simulated year (not the sample): 2021 figures scaled.
                population=_apportion(
                    kommuner["population"].to_numpy(), params["population"]["total"]
                )
            ),
            grunnkretser=pd.DataFrame(
                {
                    "grunnkrets": _string_column(pa.array(gk["codes"])),
                    "primary_only_share": published_share,
                    "bydel": pd.array(gk["bydel"], dtype="string"),
                }
            ),
        )
        steps.done("costs")
    return dataset
