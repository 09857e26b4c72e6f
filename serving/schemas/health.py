"""``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the serving model (and snapshot) are loaded."""

    status: Literal["ready", "loading", "failed"]
    model_version: str | None = None
    model_name: str | None = None
    snapshot_lists: int | None = None
    error: str | None = None
