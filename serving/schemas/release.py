"""The reference release an answer was priced with, and the old codes it mapped."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RateBasis = Literal["snapshot", "model"]
RATE_BASIS = (
    "snapshot: the rate makes the snapshot's persons spend the period's budget; "
    "model: the model's own rate (no snapshot)"
)


class CodeChangeOut(BaseModel):
    """An old code in the request priced under the release's new code."""

    field: str = Field(description="the request field, e.g. grunnkrets or practice_kommune")
    old: str
    new: str
    valid_from: str = Field(description="date of the change (ISO)")


class ReleaseInfo(BaseModel):
    """A reference release: its name, period, size and the education fallback it applies."""

    name: str
    valid_from: str | None = Field(description="first day the release is valid (ISO date)")
    valid_to: str | None = Field(description="last day, or null while no later release exists")
    kommuner: int
    grunnkretser: int
    education_fallback_grunnkretser_bydel: int = Field(
        description="grunnkretser without a share that take their bydel's"
    )
    education_fallback_grunnkretser_kommune: int = Field(
        description="grunnkretser without a share that take their kommune's"
    )
    education_fallback_persons_bydel: int
    education_fallback_persons_kommune: int
