"""``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class WorkerModel(BaseModel):
    """One worker process of the instance and the model it serves."""

    pid: int
    worker: int | None = Field(description="the worker's number in its instance (0, 1, ...)")
    status: Literal["ready", "loading", "failed"]
    model_version: str | None
    model_ref: str = Field(description="the alias or version the worker was asked to serve")
    generation: int = Field(description="the instance's switch this worker follows (0: start)")


class Readiness(BaseModel):
    """Whether the serving model (and snapshot) are loaded."""

    status: Literal["ready", "loading", "failed"]
    model_version: str | None = None
    model_name: str | None = None
    snapshot_lists: int | None = None
    error: str | None = None
    workers: list[WorkerModel] = Field(
        default_factory=list, description="each worker of this instance and its model"
    )
