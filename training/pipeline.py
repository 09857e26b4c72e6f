"""``ptb train``: calibrate, validate out of sample, log to MLflow and register, all or nothing.

One parent run per training, with a child run per model: the 2026 rule (``challenger``, and
``champion`` if it is the first version and passes the gate), model 0, the 2023 rule, trained
on the same data as the incumbent baseline (``incumbent``), the finer-bands challenger
``model_2026_fine_bands`` (``fine_bands``: evidence, not a rule), and the scikit-learn
challengers (logged for comparison, not registered). Each tariff's run records the gate's
training-time result; an alias moves only when its candidate passed the gate's data checks.
Registration is the last step inside the parent run, skipped with ``register=False``: a run
that fails or is interrupted (SIGINT, SIGTERM; ``training.interrupt``) registers nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from features import CONTRACT_VERSION, Dataset, PtbError, Release, factors, fingerprint
from training.calibrate import CapitationRegressor
from training.challengers import CHALLENGERS
from training.compare import ModelFacts, facts_of_version
from training.decisions import AliasMove
from training.fit import Calibration, TrainingInputs, calibrate, calibrate_reform
from training.gate import GateBounds, GateResult, evaluate
from training.interrupt import Interruption
from training.lineage import log_extracts_lineage
from training.model_card import log_card_and_comparison, log_card_version
from training.provenance import Provenance, command_text, log_provenance
from training.registration import Candidate, register
from training.registry import (
    CHALLENGER,
    CHAMPION,
    FINE_BANDS,
    INCUMBENT,
    Registry,
    ensure_experiment,
    use_tracking,
)
from training.run_records import (
    describe_version,
    log_band_evidence,
    log_gate,
    log_pyfunc,
    log_tariff,
    log_validation_plots,
)
from training.sufficient_stats import validate_on_engine
from training.validation import (
    ValidationReport,
    cross_validate,
    list_size_bands,
    validation_groups,
)

MODEL_ALIASES = {
    "model_2026": CHALLENGER,
    "model0_2023": INCUMBENT,
    "model_2026_fine_bands": FINE_BANDS,
}


@dataclass(frozen=True)
class TrainingOptions:
    """How a training run validates, whether it registers, and the gate its aliases need."""

    folds: int = 5
    seed: int = 0
    challengers: bool = True
    challenger_sample: int = 200_000
    models: tuple[str, ...] = ("model_2026", "model0_2023", "model_2026_fine_bands")
    register: bool = True
    gate: GateBounds = field(default_factory=GateBounds)
    reason: str = ""  # needed when ``gate`` is looser than the defaults; recorded
    engine: str | None = None  # duckdb or spark: cross-validation sums from the files on disk
    master: str | None = None


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training produced: runs, versions (by alias slot), moves, gates and metrics."""

    parent_run_id: str
    run_ids: dict[str, str]
    versions: dict[str, str]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    moves: tuple[AliasMove, ...] = ()
    held_back: dict[str, str] = field(default_factory=dict)
    gates: dict[str, GateResult] = field(default_factory=dict)


def train_and_register(
    dataset: Dataset,
    *,
    tracking_uri: str,
    artifact_root: str = "mlruns/artifacts",
    experiment: str = "ptb",
    options: TrainingOptions | None = None,
    on_step: Callable[[str], None] = lambda message: None,
    data_path: str | None = None,
    snapshot: Dataset | None = None,
    interruption: Interruption | None = None,
    command: list[str] | None = None,
    release: Release | None = None,
) -> TrainingOutcome:
    """Train every model on a validated data set and register the tariffs; see module doc.

    ``interruption``: the caller's signal guard (``ptb train`` holds one over the whole
    command); without one, the training installs its own while it runs.
    """
    options = options or TrainingOptions()
    options.gate.checked(options.reason)
    guard = interruption or Interruption()
    with nullcontext(guard) if interruption is not None else guard:
        return _train(
            dataset, tracking_uri, artifact_root, experiment, options, on_step,
            data_path, snapshot, guard, command, release,
        )  # fmt: skip


def _train(
    dataset: Dataset,
    tracking_uri: str,
    artifact_root: str,
    experiment: str,
    options: TrainingOptions,
    on_step: Callable[[str], None],
    data_path: str | None,
    snapshot: Dataset | None,
    guard: Interruption,
    command: list[str] | None,
    release: Release | None,
) -> TrainingOutcome:
    use_tracking(tracking_uri, artifact_root)
    experiment_id = ensure_experiment(experiment, tracking_uri, artifact_root)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs follow the active experiment
    data_fingerprint = fingerprint(dataset)
    # The champion, for the gate's data-size check and the comparison: asked before any
    # work, so a registry that cannot answer stops the training at once.
    champion = _champion(tracking_uri)
    champion_size = champion.bundle.reference_persons if champion is not None else None
    run_ids: dict[str, str] = {}
    metrics: dict[str, dict[str, float]] = {}
    gates: dict[str, GateResult] = {}
    candidates: list[Candidate] = []
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train {data_fingerprint[:8]} {stamp}"
    ) as parent:
        provenance = _log_dataset(dataset, data_fingerprint, options, data_path, command)
        # A data set from `ptb build` names its extracts.
        log_extracts_lineage(Path(data_path) if data_path else None)
        calibrations: dict[str, Calibration] = {}
        reports: dict[str, ValidationReport] = {}
        release = release or Release.from_dataset(dataset, f"training data {data_fingerprint[:12]}")
        inputs = TrainingInputs.from_dataset(dataset, release)
        # The release the models are trained on, and how many shares fell back (provenance).
        mlflow.set_tags({"reference_release": release.name, **release.reference.fallback.as_dict()})
        for name in options.models:
            guard.check()
            on_step(f"calibrating {name}")
            run_name = f"{name} {data_fingerprint[:8]} seed {options.seed}"
            with mlflow.start_run(run_name=run_name, nested=True) as run:
                provenance.log_on_model_run(dataset)
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
                report = (
                    validate_on_engine(
                        Path(data_path),
                        calibration.bundle.indicators,
                        engine=options.engine,
                        master=options.master,
                        folds=options.folds,
                        seed=options.seed,
                    )
                    if options.engine and data_path is not None
                    else _validate_tariff(calibration, options)
                )
                reports[name] = report
                log_tariff(calibration, report, dataset, data_fingerprint, bounds=options.gate)
                gate = evaluate(
                    name,
                    calibration.bundle,
                    predictive_ratios=report.predictive_ratios,
                    champion_persons=champion_size,
                    snapshot=snapshot,
                    bounds=options.gate,
                    reason=options.reason,
                    stage="training",
                )
                log_gate(gate)
                description = describe_version(calibration, report, data_fingerprint)
                on_step(f"comparing {name} with the champion; model card")
                log_card_and_comparison(
                    calibration,
                    report,
                    gate,
                    description,
                    provenance.profile,
                    command_text(command),
                    champion,
                    snapshot if snapshot is not None else dataset,
                )
                guard.check()
                on_step(f"logging {name} as an MLflow pyfunc")
                model_uri = log_pyfunc(calibration)
                calibrations[name] = calibration
                run_ids[name] = run.info.run_id
                metrics[name] = report.metrics
                gates[name] = gate
                candidates.append(
                    Candidate(
                        model_uri, run.info.run_id, MODEL_ALIASES[name], name, description, gate
                    )
                )
        if options.challengers and "model_2026" in calibrations:
            # The tariff is cross-validated again on the challengers' sample, so the three
            # compare on the same persons and the same lists.
            tariff = calibrations["model_2026"]
            comparison = {
                "additive_tariff": lambda: CapitationRegressor(indicators=tariff.bundle.indicators),
                **CHALLENGERS,
            }
            for name, make in comparison.items():
                guard.check()
                on_step(f"cross-validating {name} on the comparison sample")
                with mlflow.start_run(run_name=f"comparison {name}", nested=True) as run:
                    key = f"comparison_{name}"
                    metrics[key] = _validate_on_sample(name, make, tariff, options)
                    run_ids[key] = run.info.run_id
        log_band_evidence(reports)
        guard.check()
        if not options.register:
            mlflow.set_tag("ptb.registered", "no (--no-register)")
            return TrainingOutcome(parent.info.run_id, run_ids, {}, metrics, gates=gates)
        on_step("registering")
        with guard.deferred():
            registration = register(tracking_uri, candidates, check_interrupted=guard.check)
            guard.commit()
        mlflow.set_tags({f"registered_{alias}": v for alias, v in registration.versions.items()})
        _name_the_versions(tracking_uri, registration.versions, run_ids, reports, calibrations,
                           options, on_step)  # fmt: skip
    return TrainingOutcome(
        parent.info.run_id,
        run_ids,
        registration.versions,
        metrics,
        registration.moves,
        registration.held_back,
        gates,
    )


def _name_the_versions(
    tracking_uri: str,
    versions: dict[str, str],
    run_ids: dict[str, str],
    reports: dict[str, ValidationReport],
    calibrations: dict[str, Calibration],
    options: TrainingOptions,
    on_step: Callable[[str], None],
) -> None:
    """Title each registered version's card and plots with its number, now that it has one.

    After the commit point: the training is complete, so a failure here is said, not raised.
    """
    registry = Registry(tracking_uri)
    for name, calibration in calibrations.items():
        version = versions.get(MODEL_ALIASES[name])
        if version is None:
            continue
        try:
            log_card_version(registry, version)
            log_validation_plots(
                calibration.bundle,
                reports[name].predictive_ratios,
                run_id=run_ids[name],
                version=version,
                bounds=options.gate,
            )
        except (MlflowException, PtbError, OSError) as exc:
            on_step(f"warning: version {version}'s card and plots keep the run's name: {exc}")


def _champion(tracking_uri: str) -> ModelFacts | None:
    """The current champion's facts, or None when no version holds the alias."""
    registry = Registry(tracking_uri)
    number = registry.alias_version(CHAMPION)
    return facts_of_version(registry, number) if number is not None else None


def _log_dataset(
    dataset: Dataset,
    data_fingerprint: str,
    options: TrainingOptions,
    data_path: str | None,
    command: list[str] | None,
) -> Provenance:
    """What the training saw and ran with: parameters, provenance and the data's profile."""
    mlflow.log_params(
        {
            "data_fingerprint": data_fingerprint,
            "contract_version": CONTRACT_VERSION,
            "folds": options.folds,
            "seed": options.seed,
            "challengers": options.challengers,
            "register": options.register,
            "gate_bounds": str(options.gate.as_dict()),
            **{f"rows_{table}": n for table, n in dataset.row_counts.items()},
        }
    )
    # Issue 13's extract lineage is logged here too (another mlflow.log_input).
    return log_provenance(dataset, data_fingerprint, data_path, command)


def _groups(calibration: Calibration) -> pd.DataFrame:
    """The legislated groups, and the lists' sizes (reported, not gated)."""
    groups = validation_groups(
        calibration.persons, calibration.features, factors(calibration.bundle.indicators)
    )
    groups["list_size"] = list_size_bands(calibration.persons["list_id"].to_numpy())
    return groups


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
