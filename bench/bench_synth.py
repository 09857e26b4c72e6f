"""Benchmark the synthetic population: generate, write as Parquet, print timings and sanity figures.

Run by hand:  .venv/bin/python bench/bench_synth.py [N_PERSONS] [--seed SEED]
(no N_PERSONS = the whole country, 5,550,203 persons).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from features import write_dataset
from features.synth import load_parameters, synthesise


def _peak_memory_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _directory_mb(directory: Path) -> float:
    return sum(path.stat().st_size for path in directory.iterdir()) / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n_persons", nargs="?", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    dataset = synthesise(args.n_persons, args.seed, progress=not args.no_progress)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="ptb-synth-") as tmp:
        started = time.perf_counter()
        write_dataset(dataset, tmp, fmt="parquet")
        written = time.perf_counter() - started
        size_mb = _directory_mb(Path(tmp))

    persons, lists, kommuner = dataset.persons, dataset.lists, dataset.kommuner
    n = len(persons)
    params = load_parameters()
    threshold = params["cost_model"]["education_threshold"]
    share = dataset.grunnkretser.set_index("grunnkrets")["primary_only_share"]
    person_share = share.reindex(persons["grunnkrets"]).to_numpy()
    centrality = kommuner.set_index("kommune")["centrality"]
    list_length = persons["list_id"].value_counts()
    list_class = lists.set_index("list_id")["practice_kommune"].map(centrality)
    by_class = list_length.reindex(lists["list_id"], fill_value=0).groupby(
        list_class.reindex(lists["list_id"]).to_numpy()
    )
    annualised = persons["cost"] * 12 / persons["months_listed"]

    print(f"persons            {n:>12,}")
    print(f"lists              {len(lists):>12,}")
    print(f"kommuner           {len(kommuner):>12,}")
    print(f"grunnkretser       {len(dataset.grunnkretser):>12,}")
    print(f"generate           {generated:>12.2f} s  ({n / generated:,.0f} persons/s)")
    print(f"write parquet      {written:>12.2f} s  ({size_mb:,.0f} MB on disk)")
    print(f"peak memory        {_peak_memory_mb():>12,.0f} MB (ru_maxrss)")
    print(f"mean list length   {n / len(lists):>12,.0f}")
    for klass, lengths in by_class:
        print(
            f"  centrality {klass}     {lengths.mean():>8,.0f}  "
            f"(p10 {lengths.quantile(0.1):,.0f}, p90 {lengths.quantile(0.9):,.0f}, "
            f"{len(lengths):,} lists)"
        )
    practice = persons["list_id"].map(lists.set_index("list_id")["practice_kommune"])
    print(f"listed at home     {np.mean(practice == persons['grunnkrets'].str.slice(0, 4)):>12.3f}")
    print(f"share zero cost    {np.mean(persons['cost'] == 0):>12.3f}")
    print(f"share refugees     {persons['refugee_first_year'].mean():>12.4f}")
    print(f"share > {threshold:.2f} educ.  {np.mean(person_share > threshold):>12.3f}")
    print(f"share 12 months    {np.mean(persons['months_listed'] == 12):>12.3f}")
    print(f"mean cost          {persons['cost'].mean():>12,.0f} NOK")
    print(
        f"mean annualised    {np.average(annualised, weights=persons['months_listed']):>12,.0f} NOK"
    )
    print(f"mean copayment     {persons['copayment_prev_year'].mean():>12,.0f} NOK")
    ceiling = params["copayment"]["ceiling_nok"]
    print(f"at copay ceiling   {np.mean(persons['copayment_prev_year'] >= ceiling):>12.3f}")
    corr = np.corrcoef(persons["copayment_prev_year"], persons["cost"])[0, 1]
    print(f"corr(copay, cost)  {corr:>12.3f}")
    print(f"mean age           {persons['age'].mean():>12.1f}")


if __name__ == "__main__":
    main()
