"""The pyfunc's entry point for MLflow's models-from-code logging (no pickled objects)."""

import mlflow.models

from features.pyfunc import CapitationPyfunc

mlflow.models.set_model(CapitationPyfunc())
