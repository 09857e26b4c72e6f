"""Benchmark: whole-country training, and the cell-statistics fit against a direct WLS fit.

Prints, in one run:
- the wall time of the full ``ptb train`` pipeline (validation, calibration of both models,
  5-fold cross-validation, challengers, MLflow logging and registration) on a fresh store;
- the time of the tariff fit from cell sufficient statistics and of a direct patient-level
  statsmodels WLS fit of the same design, their ratio, and the largest coefficient difference.

Usage: ``python bench/bench_train.py [--data DIR] [--persons N] [--skip-direct]``
(without ``--data`` the national synthetic data set is generated first, not timed).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import statsmodels.api as sm

from features import (
    ReferenceTables,
    derive_features,
    factors,
    load_dataset,
    persons_with_practice,
    synthesise,
    validate_dataset,
    write_dataset,
)
from training import (
    CapitationRegressor,
    TrainingOptions,
    annualised_cost,
    design_matrix,
    model_spec,
    train_and_register,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an existing training data set")
    parser.add_argument(
        "--persons", type=int, default=None, help="synthetic persons (default: country)"
    )
    parser.add_argument("--skip-direct", action="store_true", help="skip the patient-level fit")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = write_dataset(synthesise(args.persons, 2026), Path(tmp) / "data")
        started = time.perf_counter()
        dataset = load_dataset(data, training=True)
        load_s = time.perf_counter() - started
        persons_n = len(dataset.persons)
        print(f"persons: {persons_n:,}  lists: {len(dataset.lists):,}")
        print(f"read + validate data set:          {load_s:8.2f} s")

        store = Path(tmp) / "mlruns"
        started = time.perf_counter()
        outcome = train_and_register(
            validate_dataset(dataset, training=True),
            tracking_uri=f"sqlite:///{store}/mlflow.db",
            artifact_root=str(store / "artifacts"),
            options=TrainingOptions(),
        )
        train_s = time.perf_counter() - started
        print(
            f"ptb train pipeline (after load):   {train_s:8.2f} s   -> total {load_s + train_s:.2f} s"
        )
        print(f"  registered versions: {outcome.versions}")

        indicators, _ = model_spec("model_2026")
        persons = persons_with_practice(dataset)
        features = derive_features(persons, ReferenceTables.from_dataset(dataset), indicators)
        y, exposure = annualised_cost(
            persons["cost"].to_numpy(), persons["months_listed"].to_numpy()
        )

        started = time.perf_counter()
        cells = CapitationRegressor(indicators=indicators).fit(features, y, exposure)
        cell_s = time.perf_counter() - started
        print(f"tariff fit from cell statistics:   {cell_s:8.3f} s")
        if args.skip_direct:
            return
        started = time.perf_counter()
        design = design_matrix(features, factors(indicators))[cells.result_.params.index]
        direct = sm.WLS(y, design.to_numpy(), weights=exposure).fit()
        direct_s = time.perf_counter() - started
        gap = float(np.max(np.abs(direct.params - cells.result_.params.to_numpy())))
        se_gap = float(np.max(np.abs(direct.bse / cells.result_.bse.to_numpy() - 1)))
        print(f"direct patient-level statsmodels:  {direct_s:8.3f} s")
        print(f"speed-up:                          {direct_s / cell_s:8.1f} x")
        print(f"largest coefficient difference:    {gap:.2e} NOK (SE relative gap {se_gap:.1e})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory (this process):        {peak:8.2f} GB")


if __name__ == "__main__":
    main()
