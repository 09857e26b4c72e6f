"""Synthetic data sets of other years and other places, for pricing with another release.

- ``without_counties``: a synthetic data set with the kommuner of some counties left out, so two
  data sets can cover different kommuner;
- ``year_2023``: the 2023 geography, Haram (1580) still inside Ålesund (then 1507);
- ``year_2024``: the 2024 geography with part of the grunnkretser renumbered, some persons still
  recorded on their old code, and the code changes that map 2023 codes to 2024 ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features.contract import Dataset, validate_dataset, write_dataset
from features.synth import synthesise

SPLIT_OLD, SPLIT_NEW = "1507", ("1508", "1580")


def without_counties(dataset: Dataset, counties: tuple[str, ...]) -> Dataset:
    """The data set without the kommuner (and their areas, lists, persons) of ``counties``."""
    kommuner = dataset.kommuner[~dataset.kommuner["kommune"].str.slice(0, 2).isin(counties)]
    grunnkretser = dataset.grunnkretser[
        dataset.grunnkretser["grunnkrets"].str.slice(0, 4).isin(kommuner["kommune"])
    ]
    lists = dataset.lists[dataset.lists["practice_kommune"].isin(kommuner["kommune"])]
    persons = dataset.persons[
        dataset.persons["grunnkrets"].isin(grunnkretser["grunnkrets"])
        & dataset.persons["list_id"].isin(lists["list_id"])
    ]
    return validate_dataset(
        Dataset(
            *(frame.reset_index(drop=True) for frame in (persons, lists, kommuner, grunnkretser))
        ),
        training=True,
    )


def _haram_in_alesund(code: str) -> str:
    """A 2024 grunnkrets of Ålesund or Haram as its 2023 code in Ålesund 1507.

    Haram's delområder move up by 90 so they do not collide with Ålesund's.
    """
    if code.startswith("1580"):
        return f"1507{int(code[4:6]) + 90:02d}{code[6:]}"
    if code.startswith("1508"):
        return "1507" + code[4:]
    return code


def year_2023(n_persons: int, seed: int) -> Dataset:
    """A synthetic year on the 2023 geography: Haram is part of Ålesund, numbered 1507."""
    dataset = synthesise(n_persons, seed)
    kommuner = dataset.kommuner.copy()
    merged = kommuner["kommune"].isin(SPLIT_NEW)
    population = int(kommuner.loc[merged, "population"].sum())
    kommuner = kommuner[kommuner["kommune"] != "1580"].copy()
    alesund = kommuner["kommune"] == "1508"
    kommuner.loc[alesund, ["kommune", "population"]] = [SPLIT_OLD, population]
    grunnkretser = dataset.grunnkretser.assign(
        grunnkrets=dataset.grunnkretser["grunnkrets"].map(_haram_in_alesund).astype("string")
    )
    persons = dataset.persons.assign(
        grunnkrets=dataset.persons["grunnkrets"].map(_haram_in_alesund).astype("string")
    )
    lists = dataset.lists.assign(
        practice_kommune=dataset.lists["practice_kommune"].replace(
            dict.fromkeys(SPLIT_NEW, SPLIT_OLD)
        )
    )
    return validate_dataset(
        Dataset(persons, lists, kommuner.sort_values("kommune", ignore_index=True), grunnkretser),
        training=True,
    )


def year_2024(n_persons: int, seed: int) -> tuple[Dataset, pd.DataFrame]:
    """A synthetic year on the 2024 geography with every 7th grunnkrets renumbered.

    A renumbered grunnkrets keeps its kommune and delområde and gets 50 added to its last two
    digits. A third of its persons are still recorded on the old code. Returns the data set and
    its code changes: the renumberings and Haram's 2023 codes in Ålesund.
    """
    dataset = synthesise(n_persons, seed)
    codes = dataset.grunnkretser["grunnkrets"]
    renumbered = (pd.Series(range(len(codes))) % 7 == 3).to_numpy() & ~codes.str.startswith(
        SPLIT_NEW
    ).to_numpy()
    new_code = {
        code: code[:6] + f"{int(code[6:]) + 50:02d}" for code in codes[renumbered].astype(str)
    }
    grunnkretser = dataset.grunnkretser.assign(grunnkrets=codes.replace(new_code))
    persons = dataset.persons.copy()
    moved = persons["grunnkrets"].isin(list(new_code)) & (persons.index % 3 != 0)
    persons.loc[moved, "grunnkrets"] = persons.loc[moved, "grunnkrets"].map(new_code)
    haram = [c for c in codes.astype(str) if c.startswith("1580")]
    changes = pd.DataFrame(
        {
            "kind": "grunnkrets",
            "old": list(new_code) + [_haram_in_alesund(c) for c in haram],
            "new": list(new_code.values()) + haram,
            "valid_from": "2024-01-01",
        }
    )
    return Dataset(persons, dataset.lists, dataset.kommuner, grunnkretser), changes


def write_year(
    dataset: Dataset, directory: Path, name: str, changes: pd.DataFrame | None = None
) -> Path:
    """Write a data set with its ``release.json`` (name, calendar year) and code changes."""
    write_dataset(dataset, directory)
    manifest = {"name": name, "valid_from": f"{name}-01-01", "valid_to": f"{name}-12-31"}
    (directory / "release.json").write_text(json.dumps(manifest))
    if changes is not None:
        changes.to_csv(directory / "code_changes.csv", index=False)
    return directory
