"""``ptb train``: calibrate, validate out of sample, log to MLflow and register, all or nothing.

One parent run per training, with a child run per model: the 2026 rule (registered as
``challenger``, and ``champion`` if it is the first version), model 0, the 2023 rule, trained on
the same data as the incumbent baseline (registered as ``incumbent``), the finer-bands
challenger ``model_2026_fine_bands`` (registered as ``fine_bands``: evidence, not a rule), and
the scikit-learn challengers (logged for comparison, not registered). Registration is the last step inside the
parent run: a run that fails or is interrupted before it registers nothing.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

import features
from features import CONTRACT_VERSION, Dataset, Release, factors, fingerprint
from features.pyfunc import BUNDLE_ARTIFACT, SIGNATURE
from training.calibrate import CapitationRegressor
from training.challengers import CHALLENGERS
from training.fit import Calibration, TrainingInputs, calibrate, calibrate_reform
from training.plots import plot_predictive_ratios, plot_weights
from training.registry import (
    CHALLENGER,
    FINE_BANDS,
    INCUMBENT,
    PREDICTIVE_RATIOS,
    Candidate,
    ensure_experiment,
    register,
    use_tracking,
)
from training.validation import ValidationReport, cross_validate, validation_groups

MODEL_ALIASES = {
    "model_2026": CHALLENGER,
    "model0_2023": INCUMBENT,
    "model_2026_fine_bands": FINE_BANDS,
}
PYFUNC_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "scipy")


@dataclass(frozen=True)
class TrainingOptions:
    """How a training run validates: folds, seed and the sample the challengers see."""

    folds: int = 5
    seed: int = 0
    challengers: bool = True
    challenger_sample: int = 200_000
    models: tuple[str, ...] = ("model_2026", "model0_2023", "model_2026_fine_bands")


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training produced: the runs, the registered versions and the headline metrics."""

    parent_run_id: str
    run_ids: dict[str, str]
    versions: dict[str, str]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def train_and_register(
    dataset: Dataset,
    *,
    tracking_uri: str,
    artifact_root: str = "mlruns/artifacts",
    experiment: str = "ptb",
    options: TrainingOptions | None = None,
    on_step: Callable[[str], None] = lambda message: None,
    release: Release | None = None,
) -> TrainingOutcome:
    """Train every model on a validated data set and register the tariffs; see module doc."""
    options = options or TrainingOptions()
    use_tracking(tracking_uri, artifact_root)
    experiment_id = ensure_experiment(experiment, tracking_uri, artifact_root)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs follow the active experiment
    data_fingerprint = fingerprint(dataset)
    run_ids: dict[str, str] = {}
    metrics: dict[str, dict[str, float]] = {}
    candidates: list[Candidate] = []
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train {data_fingerprint[:8]}"
    ) as parent:
        _log_dataset(dataset, data_fingerprint, options)
        calibrations: dict[str, Calibration] = {}
        reports: dict[str, ValidationReport] = {}
        release = release or Release.from_dataset(dataset, f"training data {data_fingerprint[:12]}")
        inputs = TrainingInputs.from_dataset(dataset, release)
        # The release the models are trained on, and how many shares fell back (provenance).
        mlflow.set_tags({"reference_release": release.name, **release.reference.fallback.as_dict()})
        for name in options.models:
            on_step(f"calibrating {name}")
            with mlflow.start_run(run_name=name, nested=True) as run:
                calibration = calibrate(
                    dataset, name=name, data_fingerprint=data_fingerprint, inputs=inputs
                )
                if name == "model_2026":
                    on_step("calibrating the reform step by step")
                    steps = calibrate_reform(
                        dataset, inputs=inputs, data_fingerprint=data_fingerprint
                    )
                    calibration = replace(
                        calibration, bundle=replace(calibration.bundle, steps=steps)
                    )
                report = _validate_tariff(calibration, options)
                reports[name] = report
                _log_tariff(calibration, report, dataset, data_fingerprint, options)
                on_step(f"logging {name} as an MLflow pyfunc")
                model_uri = _log_pyfunc(calibration)
                calibrations[name] = calibration
                run_ids[name] = run.info.run_id
                metrics[name] = report.metrics
                candidates.append(Candidate(model_uri, run.info.run_id, MODEL_ALIASES[name], name))
        if options.challengers and "model_2026" in calibrations:
            # The tariff is cross-validated again on the challengers' sample, so the three
            # compare on the same persons and the same lists.
            tariff = calibrations["model_2026"]
            comparison = {
                "additive_tariff": lambda: CapitationRegressor(indicators=tariff.bundle.indicators),
                **CHALLENGERS,
            }
            for name, make in comparison.items():
                on_step(f"cross-validating {name} on the comparison sample")
                with mlflow.start_run(run_name=f"comparison {name}", nested=True) as run:
                    key = f"comparison_{name}"
                    metrics[key] = _validate_on_sample(name, make, tariff, options)
                    run_ids[key] = run.info.run_id
        _log_band_evidence(reports)
        on_step("registering")
        versions = register(tracking_uri, candidates)
        mlflow.set_tags({f"registered_{alias}": v for alias, v in versions.items()})
    return TrainingOutcome(parent.info.run_id, run_ids, versions, metrics)


BAND_EVIDENCE = "evidence/age_bands_10y.csv"


def _log_band_evidence(reports: dict[str, ValidationReport]) -> None:
    """Out-of-sample predictive ratios of 10-year age and sex groups, one column per model.

    The evidence policy teams read beside the legislated rules: how the six age groups of the
    rules and the finer bands of the challenger fit each 10-year group.
    """
    columns = []
    for name, report in reports.items():
        ratios = report.predictive_ratios
        rows = ratios[ratios["group"] == "age_sex_10y"].set_index("level")
        columns.append(rows["predictive_ratio"].rename(f"predictive_ratio_{name}"))
        persons = rows["persons"]
    if not columns:
        return
    table = pd.concat([persons, *columns], axis=1).rename_axis("age_sex_10y").reset_index()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(BAND_EVIDENCE).name
        table.to_csv(path, index=False)
        mlflow.log_artifact(str(path), str(Path(BAND_EVIDENCE).parent))


def _log_dataset(dataset: Dataset, data_fingerprint: str, options: TrainingOptions) -> None:
    mlflow.log_params(
        {
            "data_fingerprint": data_fingerprint,
            "contract_version": CONTRACT_VERSION,
            "folds": options.folds,
            "seed": options.seed,
            **{f"rows_{table}": n for table, n in dataset.row_counts.items()},
        }
    )


def _groups(calibration: Calibration) -> pd.DataFrame:
    return validation_groups(
        calibration.persons, calibration.features, factors(calibration.bundle.indicators)
    )


def _validate_tariff(calibration: Calibration, options: TrainingOptions) -> ValidationReport:
    """k-fold out-of-sample validation of the tariff exactly as it is configured."""
    indicators = calibration.bundle.indicators
    return cross_validate(
        lambda: CapitationRegressor(indicators=indicators),
        calibration.features,
        calibration.y,
        calibration.exposure,
        groups=_groups(calibration),
        list_ids=calibration.persons["list_id"].to_numpy(),
        folds=options.folds,
        seed=options.seed,
    )


def _log_tariff(
    calibration: Calibration,
    report: ValidationReport,
    dataset: Dataset,
    data_fingerprint: str,
    options: TrainingOptions,
) -> None:
    bundle, regressor = calibration.bundle, calibration.regressor
    in_sample = regressor.predict(calibration.features)
    weighted_mean = np.average(calibration.y, weights=calibration.exposure)
    mlflow.log_params(
        {
            "model": bundle.name,
            "estimator": "additive WLS on annualised cost, weighted by months listed / 12",
            "data_fingerprint": data_fingerprint,
            **{f"indicator_{k}": v for k, v in bundle.indicators.model_dump().items()},
            **{f"scheme_{k}": v for k, v in bundle.scheme.model_dump().items()},
            "rate_nok": round(bundle.rate_nok, 6),
            "budget_nok": round(bundle.budget_nok, 2),
            "reference_persons": bundle.reference_persons,
            **{f"rows_{table}": n for table, n in dataset.row_counts.items()},
        }
    )
    reference = bundle.reference
    mlflow.set_tags({"reference_release": reference.release, **reference.fallback.as_dict()})
    r2_in = 1 - np.sum(calibration.exposure * (calibration.y - in_sample) ** 2) / np.sum(
        calibration.exposure * (calibration.y - weighted_mean) ** 2
    )
    mlflow.log_metrics(
        {
            **{f"cv_{k}": float(v) for k, v in report.metrics.items()},
            "in_sample_r2": float(r2_in),
            "mean_cost_nok": bundle.mean_cost_nok,
            "rate_nok": bundle.rate_nok,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle.weight_table.to_csv(folder / "weight_table.csv", index=False)
        regressor.coefficient_table().to_csv(folder / "coefficients.csv", index=False)
        (folder / "coefficients.txt").write_text(str(regressor.result_.summary()))
        mlflow.log_artifacts(str(folder), "tariff")
        validation = folder / "validation"
        validation.mkdir()
        report.predictive_ratios.to_csv(folder / PREDICTIVE_RATIOS, index=False)
        plot_predictive_ratios(report.predictive_ratios, validation / "predictive_ratios.png")
        plot_weights(bundle.weight_table, validation / "weights.png")
        mlflow.log_artifacts(str(validation), "validation")
        bundle.save(folder / BUNDLE_ARTIFACT)
        mlflow.log_artifacts(str(folder / BUNDLE_ARTIFACT), BUNDLE_ARTIFACT)


def _log_pyfunc(calibration: Calibration) -> str:
    """Log the bundle as a pyfunc (input: person fields; output: weight and grant)."""
    requirements = [f"{name}=={importlib.metadata.version(name)}" for name in PYFUNC_REQUIREMENTS]
    package = Path(features.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        calibration.bundle.save(Path(tmp) / BUNDLE_ARTIFACT)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(package / "pyfunc_model.py"),
            artifacts={BUNDLE_ARTIFACT: str(Path(tmp) / BUNDLE_ARTIFACT)},
            code_paths=[str(package)],
            pip_requirements=requirements,
            signature=SIGNATURE,
        )
    return info.model_uri


def _validate_on_sample(
    name: str, make: Callable, calibration: Calibration, options: TrainingOptions
) -> dict[str, float]:
    """Cross-validate a model on a random sample with the tariff's features and metrics."""
    n = len(calibration.y)
    rng = np.random.default_rng(options.seed)
    rows = np.sort(rng.choice(n, size=min(n, options.challenger_sample), replace=False))
    features_ = calibration.features.iloc[rows].reset_index(drop=True)
    persons = calibration.persons.iloc[rows].reset_index(drop=True)
    groups = validation_groups(persons, features_, factors(calibration.bundle.indicators))
    report = cross_validate(
        make,
        features_,
        calibration.y[rows],
        calibration.exposure[rows],
        groups=groups,
        list_ids=persons["list_id"].to_numpy(),
        folds=options.folds,
        seed=options.seed,
    )
    mlflow.log_params({"model": name, "sample_persons": len(rows), "folds": options.folds})
    mlflow.log_metrics({f"cv_{k}": float(v) for k, v in report.metrics.items()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictive_ratios.csv"
        report.predictive_ratios.to_csv(path, index=False)
        mlflow.log_artifacts(tmp, "validation")
    return report.metrics
