"""Operating the service: ``POST /v1/admin/reload`` switches the serving model (role admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool

from features import ReloadRefused
from serving.dependencies import StateDep
from serving.reload import reload_model
from serving.schemas import ErrorBody, ModelCheck, ReloadIn, ReloadResult

router = APIRouter(prefix="/v1/admin", tags=["admin"])

ERRORS = {
    404: {"model": ErrorBody, "description": "no such model version or alias"},
    409: {"model": ErrorBody, "description": "another reload is in progress"},
    422: {"model": ErrorBody, "description": "the version failed to load or failed its checks"},
    503: {"model": ErrorBody, "description": "the model registry is unreachable"},
}


@router.post("/reload", response_model=ReloadResult, responses=ERRORS)
async def reload(
    request: Request, state: StateDep, body: Annotated[ReloadIn | None, Body()] = None
) -> ReloadResult:
    """Load a model version beside the serving one, check it, then switch to it atomically.

    On any failure the serving model is unchanged and the answer says why.
    """
    ref = None if body is None or body.model is None else str(body.model)
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
    )
