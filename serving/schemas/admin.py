"""``/v1/admin/reload``: which model to serve next, and what the reload did."""

from __future__ import annotations

from pydantic import BaseModel, Field

from serving.schemas.common import StrictRequest, VersionName, VersionNumber
from serving.schemas.health import WorkerModel


class ReloadIn(StrictRequest):
    """Which model to serve from now on: an alias or version; default the configured alias."""

    model: VersionNumber | VersionName | None = Field(
        None,
        description="alias (champion, challenger) or version number; default: the serving "
        "alias the service was started with, resolved afresh",
        examples=["champion", "7"],
    )


class ModelCheck(BaseModel):
    """One check a model version ran before serving."""

    name: str = Field(description="checksums, smoke_score or snapshot_grants")
    passed: bool
    detail: str


class ReloadResult(BaseModel):
    """The model serving after a reload, the one before, and the checks it passed."""

    requested: str
    switched: bool = Field(description="false when the requested model was serving already")
    model_version: str
    model_name: str
    model_alias: str | None
    run_id: str
    previous_version: str | None
    checks: list[ModelCheck]
    seconds: float = Field(description="time to load, check and switch")
    workers: list[WorkerModel] = Field(
        default_factory=list, description="each worker of this instance after the switch"
    )
