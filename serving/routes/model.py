"""The serving model: ``GET /v1/model``."""

from __future__ import annotations

from fastapi import APIRouter

from serving.dependencies import ModelDep, StateDep
from serving.loaded_model import LoadedModel
from serving.routes.grants import ERRORS, scheme_info
from serving.schemas import ModelInfo, ReleaseInfo, WeightRow, WorkerModel
from serving.schemas.common import json_records, provenance

router = APIRouter(prefix="/v1", tags=["model"])


def weight_rows(model: LoadedModel) -> list[WeightRow]:
    """The weight table as rows, built once per loaded version; NaN (a reference level's
    standard error) as null."""
    found = model.views.weight_rows
    if found is None:
        table = model.bundle.weight_table
        columns = [column for column in WeightRow.model_fields if column in table]
        found = [WeightRow(**row) for row in json_records(table, columns)]
        model.views.weight_rows = found
    return found


@router.get("/model", response_model=ModelInfo, responses=ERRORS)
async def model_info(model: ModelDep, state: StateDep) -> ModelInfo:
    """Version, training run, weight table, scheme and the reference release priced with."""
    bundle = model.bundle
    pricing = state.priced()
    return ModelInfo(
        **provenance(model),
        trained_on=bundle.trained_on,
        trained_on_release=bundle.reference.release,
        reference_release=ReleaseInfo(**pricing.release.describe()),
        rate_basis=pricing.rate_basis,
        mean_cost_nok=bundle.mean_cost_nok,
        indicators=bundle.indicators.model_dump(mode="json"),
        scheme=scheme_info(model, pricing),
        weight_table=weight_rows(model),
        workers=[WorkerModel(**worker) for worker in state.workers()],
    )
