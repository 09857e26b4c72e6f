"""Predictive ratios of a model on another period's data set: the figures behind the yearly cycle.

Trains the 2026 rule on one synthetic data set (seed 31, without Vestland) and prints its
predictive ratios on another (seed 32, without Nordland), priced with the second data set's
own release, for every group of at least ``--min-persons`` persons.

Usage: ``PYTHONPATH=. python bench/bench_out_of_period.py [--persons N] [--min-persons M]``
(the synthetic geographies of other years live with the tests).
"""

from __future__ import annotations

import argparse

import pandas as pd

from features import Release, synthesise
from tests.integration.geography import without_counties
from training.fit import calibrate
from training.out_of_period import out_of_period_ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=300_000)
    parser.add_argument("--min-persons", type=int, default=1_000)
    args = parser.parse_args()
    year_one = without_counties(synthesise(args.persons, 31), ("46",))
    year_two = without_counties(synthesise(args.persons, 32), ("18",))
    bundle = calibrate(year_one).bundle
    ratios = out_of_period_ratios(bundle, year_two, Release.from_dataset(year_two, "year two"))
    shown = ratios[ratios["persons"] >= args.min_persons]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(shown[["group", "level", "persons", "predictive_ratio"]].to_string(index=False))
    paid = shown[~shown["group"].isin(["age_10y", "age_sex_10y"])]["predictive_ratio"]
    tens = shown[shown["group"].isin(["age_10y", "age_sex_10y"])]["predictive_ratio"]
    print(
        f"trained on {len(year_one.persons):,} persons, priced {len(year_two.persons):,}: "
        f"{len(paid)} groups the grant is paid on, predictive ratios {paid.min():.4f} to "
        f"{paid.max():.4f}; 10-year groups (band evidence, not paid on) {tens.min():.4f} to "
        f"{tens.max():.4f}"
    )


if __name__ == "__main__":
    main()
