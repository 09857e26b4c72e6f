"""The synthetic country drawn step by step and laid out as the data contract's tables.

``synthesise`` draws the areas (``areas``), the persons (``persons``), the lists and their
practice facts (``lists``, ``practice``) and the costs (``cost_model``) from random streams
spawned from one seed, and returns them as a ``Dataset``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract import Dataset
from features.synth.areas import draw_grunnkretser, kommune_table, suppressed_shares
from features.synth.cost_model import draw_costs
from features.synth.draws import apportion
from features.synth.lists import draw_lists
from features.synth.parameters import load_parameters
from features.synth.persons import draw_persons
from features.synth.practice import lists_table
from features.synth.progress import Steps


def _string_column(values: pa.Array, index: np.ndarray | None = None) -> pd.Series:
    """A pandas string column over Arrow memory (optionally ``values[index]``), no per-row str."""
    return pd.Series(pd.arrays.ArrowStringArray(values if index is None else values.take(index)))


def _numbered_ids(prefix: str, count: int, width: int) -> pa.Array:
    """``prefix`` plus zero-padded 1..count ("P0000001"), computed by Arrow, not per row."""
    digits = pd.Series(np.arange(1, count + 1)).astype("string").str.zfill(width)
    return pa.array(prefix + digits)


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
    with Steps(progress).running() as steps:
        kommuner = kommune_table(params)
        steps.done("kommuner")
        gk = draw_grunnkretser(kommuner, n, params, rng)
        steps.done("grunnkretser")
        persons = draw_persons(kommuner, gk, n, params, rng)
        steps.done("persons")
        published_share = suppressed_shares(gk, persons["grunnkrets"], params["grunnkretser"])
        listing = draw_lists(kommuner, persons, params, rng)
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
                population=apportion(
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
