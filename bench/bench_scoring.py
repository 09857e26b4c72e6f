"""Benchmark: every person and every list of a national snapshot priced in process.

Run by hand: ``.venv/bin/python bench/bench_scoring.py [--persons N] [--repeat R]``.
The national data set (about 5.5 million persons, 5,400 lists) and its calibrated bundle are
built once and cached under ``$TMPDIR/ptb-bench``; the figures time the pricing of a loaded
snapshot (``Snapshot.score``, what the service does once per model version), not synthesis or
calibration. Target: under 0.5 s for the country.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from features import ModelBundle, load_dataset, synthesise, write_dataset
from features.grants import PersonColumns, PersonScorer, list_grants, person_grants
from serving.snapshot import Snapshot


def national_dataset(persons: int | None, seed: int, root: Path) -> Path:
    """The synthetic data set directory, written on first use and then reused."""
    data = root / f"national-{persons or 'all'}-seed{seed}" / "data"
    if not (data / "persons.parquet").exists():
        started = time.perf_counter()
        write_dataset(synthesise(persons, seed), data)
        print(f"synthesised and wrote {data} in {time.perf_counter() - started:.1f} s")
    return data


def national_data(persons: int | None, seed: int, root: Path) -> tuple[Path, Path]:
    """The data set directory and bundle directory, built on first use and then reused."""
    data = national_dataset(persons, seed, root)
    bundle = data.parent / "bundle"
    if not (bundle / "bundle.json").exists():
        from training.fit import calibrate  # the bench may train; serving never does

        started = time.perf_counter()
        calibrate(load_dataset(data, training=True)).bundle.save(bundle)
        print(f"calibrated and saved {bundle} in {time.perf_counter() - started:.1f} s")
    return data, bundle


def timed(repeat: int, work) -> tuple[list[float], object]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def report(label: str, seconds: list[float], persons: int | None = None) -> None:
    best, median = min(seconds), statistics.median(seconds)
    rate = f", {persons / median / 1e6:.1f} M persons/s" if persons else ""
    print(f"{label:<44} best {best * 1e3:8.1f} ms   median {median * 1e3:8.1f} ms{rate}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=None, help="default: the whole country")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ptb-bench")
    args = parser.parse_args()

    data, bundle_dir = national_data(args.persons, args.seed, args.cache)
    bundle = ModelBundle.load(bundle_dir)
    started = time.perf_counter()
    snapshot = Snapshot.load(data)
    print(
        f"snapshot: {snapshot.n_persons:,} persons on {snapshot.n_lists:,} lists "
        f"(load and validate {time.perf_counter() - started:.1f} s, once per process)"
    )

    seconds, scorer = timed(args.repeat, lambda: PersonScorer(bundle))
    report("compile the model (PersonScorer, per version)", seconds)
    seconds, grants = timed(args.repeat, lambda: snapshot.score("bench", scorer))
    report("price every person and list (Snapshot.score)", seconds, snapshot.n_persons)
    total = float(np.sum(grants.list_total_nok))
    print(f"  lists add up to {total:,.2f} NOK; budget {bundle.budget_nok:,.2f} NOK")

    seconds, _ = timed(
        max(1, args.repeat // 3),
        lambda: list_grants(person_grants(bundle, snapshot.dataset, scorer=scorer)),
    )
    report("ptb grants path (factorise + price + lists)", seconds, snapshot.n_persons)

    one = snapshot.dataset.persons.iloc[0]
    kommune = snapshot.table.practice_kommune[snapshot.table.list_codes[0]]

    def single() -> None:
        columns = PersonColumns.from_records(
            age=[int(one["age"])],
            sex=[str(one["sex"])],
            grunnkrets=[str(one["grunnkrets"])],
            copayment_prev_year=[float(one["copayment_prev_year"])],
            refugee_first_year=[bool(one["refugee_first_year"])],
            practice_kommune=[str(kommune)],
        )
        scorer.score(columns, contributions=True)

    seconds, _ = timed(2000, single)
    print(
        f"{'one person (API path, in process)':<44} median {statistics.median(seconds) * 1e6:8.1f} us"
    )


if __name__ == "__main__":
    main()
