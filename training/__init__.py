"""Training: calibrate the models on a data set, validate them, and register them in MLflow.

- ``calibrate``: ``CapitationRegressor``, the regression behind the weights;
- ``fit``: ``calibrate``, a model calibrated from a data set (import it from ``training.fit``:
  the name is also the module's);
- ``challengers``: the challenger models validated beside it;
- ``validation`` and ``metrics``: cross-validation and the fit measures;
- ``plots``: the charts logged with a run;
- ``registry``: registering and promoting versions, and the promotion gate;
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
from training.fit import MODELS, Calibration, TrainingInputs, model_spec
from training.metrics import (
    cumming_prediction_measure,
    list_level_fit,
    mean_absolute_prediction_error,
    predictive_ratios,
    r_squared,
)
from training.pipeline import TrainingOptions, TrainingOutcome, train_and_register
from training.plots import plot_predictive_ratios, plot_weights
from training.registry import (
    CHAMPION,
    REGISTERED_MODEL,
    Candidate,
    PromotionGate,
    promote,
    register,
    registered_versions,
    resolve_version,
    use_tracking,
)
from training.validation import ValidationReport, cross_validate, validation_groups

__all__ = [
    "CHALLENGERS",
    "CHAMPION",
    "MODELS",
    "REGISTERED_MODEL",
    "Calibration",
    "CalibrationError",
    "Candidate",
    "CapitationRegressor",
    "Challenger",
    "PromotionGate",
    "TrainingInputs",
    "TrainingOptions",
    "TrainingOutcome",
    "ValidationReport",
    "annualised_cost",
    "cell_statistics",
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
    "register",
    "registered_versions",
    "resolve_version",
    "train_and_register",
    "tweedie_glm",
    "use_tracking",
    "validation_groups",
]
