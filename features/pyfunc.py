"""The bundle as an MLflow pyfunc, so ``mlflow models serve`` can score persons too.

Kept apart from ``features.bundle`` so that computing a grant never imports MLflow.
Input: one row per person with the fields of ``features.indicators.PERSON_FIELDS``.
Output: the person's relative weight and annual grant in NOK under the bundle's scheme.
"""

from __future__ import annotations

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema

from features.bundle import BUNDLE_ARTIFACT, ModelBundle
from features.grants import PersonScorer
from features.indicators import PERSON_FIELDS, PersonColumns

SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("long", "age"),
            ColSpec("string", "sex"),
            ColSpec("string", "grunnkrets"),
            ColSpec("double", "copayment_prev_year"),
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
        persons = pd.DataFrame(model_input)
        missing = [name for name in PERSON_FIELDS if name not in persons.columns]
        if missing:
            raise ValueError(f"person fields missing: {', '.join(missing)}")
        scores = self.scorer.score(PersonColumns.from_frame(persons))
        return pd.DataFrame({"weight": scores.weight, "grant_nok": scores.grant_nok})
