"""Operating the service: ``POST /v1/admin/reload`` switches the serving model (role admin)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from features import ReloadRefused
from serving.dependencies import StateDep
from serving.json_body import json_request_body, read_json_body
from serving.reload import reload_model
from serving.schemas import ErrorBody, ModelCheck, ReloadIn, ReloadResult, WorkerModel
from serving.schemas.errors import Responses

router = APIRouter(prefix="/v1/admin", tags=["admin"])

ERRORS: Responses = {
    404: {"model": ErrorBody, "description": "no such model version or alias"},
    409: {"model": ErrorBody, "description": "another reload is in progress"},
    422: {"model": ErrorBody, "description": "the version failed to load or failed its checks"},
    503: {"model": ErrorBody, "description": "the model registry is unreachable"},
}


RELOAD_BODY = json_request_body(
    ReloadIn,
    required=False,
    description="which model to serve; no body (or {}) reloads the configured serving alias",
)


@router.post("/reload", response_model=ReloadResult, responses=ERRORS, openapi_extra=RELOAD_BODY)
async def reload(request: Request, state: StateDep) -> ReloadResult:
    """Load a model version beside the serving one, check it, then switch to it atomically.

    On any failure the serving model is unchanged and the answer says why.
    """
    body = await read_json_body(request, ReloadIn, empty=ReloadIn())
    ref = None if body.model is None else str(body.model)
    metrics = getattr(request.app.state, "metrics", None)
    try:
        outcome = await run_in_threadpool(reload_model, state, ref)
    except ReloadRefused:
        if metrics is not None:
            metrics.reloads.labels("admin", "refused").inc()
        raise
    except Exception:
        if metrics is not None:
            metrics.reloads.labels("admin", "failed").inc()
        raise
    if metrics is not None:
        metrics.reloads.labels("admin", "switched" if outcome.switched else "unchanged").inc()
    model = outcome.current
    return ReloadResult(
        requested=outcome.requested,
        switched=outcome.switched,
        model_version=model.version,
        model_name=model.name,
        model_alias=model.alias,
        run_id=model.run_id,
        previous_version=None if outcome.previous is None else outcome.previous.version,
        checks=[ModelCheck(name=c.name, passed=c.passed, detail=c.detail) for c in outcome.checks],
        seconds=round(outcome.seconds, 3),
        workers=[WorkerModel(**worker) for worker in outcome.workers],
    )
