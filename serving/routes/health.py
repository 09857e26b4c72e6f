"""Liveness and readiness: ``GET /healthz``, ``GET /readyz``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.dependencies import StateDep
from serving.schemas import Health, Readiness, WorkerModel

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(state: StateDep, response: Response) -> Readiness:
    """200 once the serving model (and snapshot, if any) are loaded and the keys file, the
    audit log and the model cache work; 503 otherwise, naming why. Lists every worker."""
    if state.instance is not None:
        state.instance.follow()
    workers = [WorkerModel(**worker) for worker in state.workers()]
    if state.status != "ready" or state.model is None:
        response.status_code = 503
        return Readiness(
            status=state.status, error=state.error, problems=state.problems(), workers=workers
        )
    problems = state.problems()
    if state.instance is not None:
        problems += state.instance.unready_workers()
    if problems:
        response.status_code = 503
    snapshot = state.snapshot
    return Readiness(
        status="degraded" if problems else "ready",
        problems=problems,
        model_version=state.model.version,
        model_name=state.model.name,
        snapshot_lists=None if snapshot is None else snapshot.n_lists,
        reference_release=None if state.pricing is None else state.pricing.release.name,
        rate_basis=None if state.pricing is None else state.pricing.rate_basis,
        workers=workers,
    )
