"""``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from serving.schemas.release import RateBasis


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class WorkerModel(BaseModel):
    """One worker process of the instance and the model it serves."""

    pid: int
    worker: int | None = Field(description="the worker's number in its instance (0, 1, ...)")
    status: Literal["ready", "loading", "failed", "degraded"]
    model_version: str | None
    model_ref: str = Field(description="the alias or version the worker was asked to serve")
    generation: int = Field(description="the instance's switch this worker follows (0: start)")
    problems: list[str] = Field(
        default_factory=list, description="why the worker is not ready though its model is"
    )


class Readiness(BaseModel):
    """Whether the serving model (and snapshot) are loaded and the files a request needs work.

    ``degraded``: the model serves, but the keys file could not be re-read, the audit log cannot
    be written or the model cache is not writable (``problems`` says which and why).
    """

    status: Literal["ready", "loading", "failed", "degraded"]
    model_version: str | None = None
    model_name: str | None = None
    snapshot_lists: int | None = None
    reference_release: str | None = None
    rate_basis: RateBasis | None = None
    error: str | None = None
    problems: list[str] = Field(default_factory=list, description="what keeps it from ready")
    workers: list[WorkerModel] = Field(
        default_factory=list, description="each worker of this instance and its model"
    )
