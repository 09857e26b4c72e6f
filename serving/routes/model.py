"""The serving model: ``GET /v1/model``."""

from __future__ import annotations

import math

from fastapi import APIRouter

from serving.dependencies import ModelDep
from serving.model_store import LoadedModel
from serving.routes.grants import ERRORS, scheme_info
from serving.schemas import ModelInfo, WeightRow

router = APIRouter(prefix="/v1", tags=["model"])


def _value(value):
    """A table cell for JSON: NaN (a reference level's standard error) becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def weight_rows(model: LoadedModel) -> list[WeightRow]:
    """The weight table as rows, built once per loaded version."""
    found = model.memo.get("weight_rows")
    if found is None:
        fields = set(WeightRow.model_fields)
        found = [
            WeightRow(**{k: _value(v) for k, v in record.items() if k in fields})
            for record in model.bundle.weight_table.to_dict(orient="records")
        ]
        model.memo["weight_rows"] = found
    return found


@router.get("/model", response_model=ModelInfo, responses=ERRORS)
async def model_info(model: ModelDep) -> ModelInfo:
    """Version, training run, weight table and scheme parameters of the serving model."""
    bundle = model.bundle
    return ModelInfo(
        model_version=model.version,
        model_name=model.name,
        model_alias=model.alias,
        run_id=model.run_id,
        trained_on=bundle.trained_on,
        mean_cost_nok=bundle.mean_cost_nok,
        indicators=bundle.indicators.model_dump(mode="json"),
        scheme=scheme_info(model),
        weight_table=weight_rows(model),
    )
