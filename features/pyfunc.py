"""The bundle as an MLflow pyfunc, so ``mlflow models serve`` can score persons too.

Kept apart from ``features.bundle`` so that computing a grant never imports MLflow.
Input: one row per person with the fields of ``features.indicators.PERSON_FIELDS``.
Output: the person's relative weight and annual grant in NOK under the bundle's scheme.

Rows are checked with the data contract's rules before scoring (``features.person_rows``), as
the API checks its requests: a bad row is refused with an MLflow ``INVALID_PARAMETER_VALUE``
error naming the column, the rule and the rows, which ``mlflow models serve`` answers with 400.
The copayment column is typed ``Any`` in the signature because MLflow's own check refuses a
whole-number (int64) column for a ``double``; the contract check takes both and refuses text.
"""

from __future__ import annotations

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from features.bundle import BUNDLE_ARTIFACT, ModelBundle
from features.errors import ContractError, UnknownCodeError
from features.grants import PersonScorer
from features.indicators import PersonColumns
from features.person_rows import check_person_rows

SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("long", "age"),
            ColSpec("string", "sex"),
            ColSpec("string", "grunnkrets"),
            ColSpec(AnyType(), "copayment_prev_year"),
            ColSpec("boolean", "refugee_first_year"),
            ColSpec("string", "practice_kommune"),
        ]
    ),
    outputs=Schema([ColSpec("double", "weight"), ColSpec("double", "grant_nok")]),
)


class CapitationPyfunc(PythonModel):
    """Scores persons with the bundle shipped as the model's ``bundle`` artifact."""

    def load_context(self, context: PythonModelContext) -> None:
        self.scorer = PersonScorer(ModelBundle.load(context.artifacts[BUNDLE_ARTIFACT]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            persons = check_person_rows(pd.DataFrame(model_input))
            scores = self.scorer.score(PersonColumns.from_frame(persons))
        except ContractError as exc:
            lines = "".join(f"\n  {violation}" for violation in exc.violations)
            message = f"model input breaks the data contract:{lines}"
            raise MlflowException(message, error_code=INVALID_PARAMETER_VALUE) from exc
        except UnknownCodeError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc
        return pd.DataFrame({"weight": scores.weight, "grant_nok": scores.grant_nok})
