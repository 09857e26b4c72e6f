"""What every request model shares: unknown fields refused, and how a model version is named."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

VERSION_PATTERN = r"^(\d{1,9}|[A-Za-z][A-Za-z0-9_-]{0,63})$"
VersionNumber = Annotated[int, Field(strict=True, ge=1, le=999_999_999)]
VersionName = Annotated[str, Field(strict=True, pattern=VERSION_PATTERN)]
ModelRef = Annotated[
    VersionNumber | VersionName | None,
    Field(
        description="pin a model version (number) or alias; default: the serving model",
        examples=["3", "champion"],
    ),
]


class StrictRequest(BaseModel):
    """A request body: unknown fields are refused, so a misspelt field is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)
