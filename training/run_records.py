"""What a training run records in MLflow for each tariff: its parameters and metrics, the weight
table and coefficients, the out-of-sample ratios and plots, the gate, the bundle and the pyfunc;
and, on the parent run, the 10-year age-group evidence that compares band choices.

``training.pipeline`` decides what is trained and registered; this module only writes records.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

import features
from features import BUNDLE_ARTIFACT, Dataset, IndicatorConfig, ModelBundle
from features.pyfunc import SIGNATURE
from training.fit import Calibration
from training.gate import GateBounds, GateResult
from training.plots import DOCUMENTED_GATE, plot_predictive_ratios, plot_weights
from training.provenance import pyfunc_requirements, source
from training.registry import PREDICTIVE_RATIOS, REGISTERED_MODEL
from training.validation import ValidationReport, informative_groups

MODEL_TITLES = {
    "model_2026": "the 2026 rule",
    "model0_2023": "model 0, the 2023 rule",
    "model_2026_fine_bands": "the 2026 rule with finer bands (a challenger)",
}

BAND_EVIDENCE = "evidence/age_bands_10y.csv"


def log_band_evidence(reports: dict[str, ValidationReport]) -> None:
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


def log_gate(gate: GateResult) -> None:
    """The training-time gate on the model's run: tags and the report, beside the metrics."""
    mlflow.set_tags(gate.tags())
    mlflow.log_dict(gate.report(), "gate/training.json")
    mlflow.log_text(gate.markdown(), "gate/training.md")


def describe_version(
    calibration: Calibration, report: ValidationReport, data_fingerprint: str
) -> str:
    """One line that says what a version is."""
    bundle = calibration.bundle
    return (
        f"{MODEL_TITLES.get(bundle.name, bundle.name)} trained "
        f"{datetime.now(UTC):%Y-%m-%d} on {bundle.reference_persons:,} persons "
        f"(data {data_fingerprint[:12]}); cross-validated R² {report.metrics['r2']:.3f}; "
        f"{source().label}"
    )


def log_tariff(
    calibration: Calibration,
    report: ValidationReport,
    dataset: Dataset,
    data_fingerprint: str,
    *,
    bounds: GateBounds = DOCUMENTED_GATE,
) -> None:
    """The tariff's run: parameters, metrics, weight table, coefficients, ratios, plots, bundle.

    The plots are titled with the run until registration gives the version its number; then
    ``log_validation_plots`` draws them again with it. ``bounds`` is the gate the ratios face.
    """
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
        (folder / "coefficients.txt").write_text(coefficient_summary(calibration, float(r2_in)))
        mlflow.log_artifacts(str(folder), "tariff")
        validation = folder / "validation"
        validation.mkdir()
        report.predictive_ratios.to_csv(folder / PREDICTIVE_RATIOS, index=False)
        mlflow.log_artifacts(str(validation), "validation")
        active = mlflow.active_run()
        assert active is not None  # the tariff's run: log_params above logged into it
        log_validation_plots(
            bundle, report.predictive_ratios, run_id=active.info.run_id, bounds=bounds
        )
        bundle.save(folder / BUNDLE_ARTIFACT)
        mlflow.log_artifacts(str(folder / BUNDLE_ARTIFACT), BUNDLE_ARTIFACT)


def log_validation_plots(
    bundle: ModelBundle,
    ratios: pd.DataFrame,
    *,
    run_id: str,
    version: str | None = None,
    bounds: GateBounds = DOCUMENTED_GATE,
) -> None:
    """Draw the weights and the informative predictive ratios into the run's ``validation/``,
    titled with the model and its version (replacing figures drawn before it had one)."""
    title = figure_title(bundle.name, version, run_id)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plot_predictive_ratios(
            informative_ratios(ratios, bundle.indicators),
            folder / "predictive_ratios.png",
            bounds=bounds,
            title=title,
        )
        plot_weights(bundle.weight_table, folder / "weights.png", title=title)
        MlflowClient().log_artifacts(run_id, str(folder), "validation")


def figure_title(model: str, version: str | None, run_id: str) -> str:
    """The model and its registered version; before registration, the run it will come from."""
    named = f"{model} ({MODEL_TITLES[model]})" if model in MODEL_TITLES else model
    if version is not None:
        return f"{named}, {REGISTERED_MODEL} version {version}"
    return f"{named}, run {run_id} (not yet registered)"


def informative_ratios(ratios: pd.DataFrame, indicators: IndicatorConfig) -> pd.DataFrame:
    """The ratios that can show misfit: not those of the model's own dummies, which least
    squares holds at 1. Of centrality, the supplement classes are dummies; the classes pooled
    in the reference level are not, so they are shown one by one."""
    groups = informative_groups(indicators, list(dict.fromkeys(ratios["group"])))
    supplements = [str(c) for c in indicators.centrality_supplement_classes]
    dummies = (ratios["group"] == "centrality") & ratios["level"].astype(str).isin(supplements)
    return ratios[ratios["group"].isin(groups) & ~dummies]


def coefficient_summary(calibration: Calibration, r2_in: float) -> str:
    """The coefficients as what they are: a person-level WLS, with robust standard errors."""
    regressor = calibration.regressor
    table = regressor.coefficient_table()[
        ["term", "coef_nok", "robust_std_err", "std_err", "ci_low", "ci_high"]
    ]
    return (
        f"{calibration.bundle.name}: additive WLS of annual cost (NOK) on the indicators, "
        "weighted by months listed / 12\n"
        f"persons: {regressor.n_persons_:,}; residual df: {int(regressor.result_.df_resid):,}; "
        f"person-level in-sample R²: {r2_in:.4f} (cross-validated figures: the run's metrics)\n"
        "robust_std_err: HC1, robust to heteroscedasticity (used for the weights' intervals); "
        "std_err, ci_low, ci_high: classical, shown for comparison\n"
        "(fitted from per-cell sufficient statistics: the same estimates as the regression on "
        "the persons)\n\n" + table.to_string(index=False, float_format=lambda v: f"{v:,.2f}")
    )


def log_pyfunc(calibration: Calibration) -> str:
    """Log the bundle as a pyfunc (input: person fields; output: weight and grant)."""
    requirements = pyfunc_requirements()
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
