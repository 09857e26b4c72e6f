"""Liveness and readiness: ``GET /healthz``, ``GET /readyz``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.dependencies import StateDep
from serving.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(state: StateDep, response: Response) -> Readiness:
    """200 once the serving model (and snapshot, if any) are loaded; 503 until then."""
    if state.status != "ready" or state.model is None:
        response.status_code = 503
        return Readiness(status=state.status, error=state.error)
    snapshot = state.snapshot
    return Readiness(
        status="ready",
        model_version=state.model.version,
        model_name=state.model.name,
        snapshot_lists=None if snapshot is None else snapshot.n_lists,
    )
