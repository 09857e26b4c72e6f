"""Training: calibrate the models on a data set, validate them, and register them in MLflow.

- ``calibrate``: ``CapitationRegressor``, the regression behind the weights;
- ``fit``: ``calibrate``, a model calibrated from a data set (import it from ``training.fit``:
  the name is also the module's);
- ``challengers``: the challenger models validated beside it;
- ``validation`` and ``metrics``: cross-validation and the fit measures;
- ``plots``: the charts logged with a run;
- ``registry``: the registered model's versions and aliases, registry errors kept apart;
- ``gate``: the promotion gate's checks, bounds and recorded result;
- ``decisions``: every alias move recorded on the versions, and the champion's lineage;
- ``registration``: the all-or-nothing registration at the end of a training;
- ``promote``: ``promote``, moving ``champion`` through the gate (the name is also the
  module's: import the module's other names from ``training.promote``);
- ``interrupt``: SIGINT and SIGTERM never leave a half-registered training;
- ``provenance``: source, packages, command and data profile on every run;
- ``pipeline``: ``train_and_register``, the whole training run.
"""

from training.calibrate import (
    CalibrationError,
    CapitationRegressor,
    annualised_cost,
    cell_statistics,
    design_matrix,
)
from training.challengers import CHALLENGERS, Challenger, gradient_boosting, tweedie_glm
from training.decisions import AliasMove, champion_lineage, recorded_moves
from training.fit import MODELS, Calibration, TrainingInputs, model_spec
from training.gate import LEGISLATED_GROUPS, GateBounds, GateResult
from training.interrupt import Interruption, TrainingInterrupted
from training.metrics import (
    cumming_prediction_measure,
    list_level_fit,
    mean_absolute_prediction_error,
    predictive_ratios,
    r_squared,
)
from training.pipeline import TrainingOptions, TrainingOutcome, train_and_register
from training.plots import plot_predictive_ratios, plot_weights
from training.promote import Promotion, promote
from training.provenance import source
from training.registration import Candidate, Registration, register
from training.registry import (
    CHALLENGER,
    CHAMPION,
    INCUMBENT,
    REGISTERED_MODEL,
    Registry,
    bounded_registry_calls,
    use_tracking,
)
from training.validation import ValidationReport, cross_validate, validation_groups

__all__ = [
    "CHALLENGER",
    "CHALLENGERS",
    "CHAMPION",
    "INCUMBENT",
    "LEGISLATED_GROUPS",
    "MODELS",
    "REGISTERED_MODEL",
    "AliasMove",
    "Calibration",
    "CalibrationError",
    "Candidate",
    "CapitationRegressor",
    "Challenger",
    "GateBounds",
    "GateResult",
    "Interruption",
    "Promotion",
    "Registration",
    "Registry",
    "TrainingInputs",
    "TrainingInterrupted",
    "TrainingOptions",
    "TrainingOutcome",
    "ValidationReport",
    "annualised_cost",
    "bounded_registry_calls",
    "cell_statistics",
    "champion_lineage",
    "cross_validate",
    "cumming_prediction_measure",
    "design_matrix",
    "gradient_boosting",
    "list_level_fit",
    "mean_absolute_prediction_error",
    "model_spec",
    "plot_predictive_ratios",
    "plot_weights",
    "predictive_ratios",
    "promote",
    "r_squared",
    "recorded_moves",
    "register",
    "source",
    "train_and_register",
    "tweedie_glm",
    "use_tracking",
    "validation_groups",
]
