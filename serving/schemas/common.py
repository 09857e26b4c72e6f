"""What the API's models share: unknown request fields refused, how a model version is named,
which version an answer comes from, and table cells as JSON (NaN as null).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from serving.loaded_model import LoadedModel

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


class ModelProvenance(BaseModel):
    """The registered model version an answer comes from."""

    model_version: str = Field(description="registered model version the answer comes from")
    model_name: str = Field(description="the calibrated model, e.g. model_2026 or model0_2023")
    model_alias: str | None = Field(None, description="the alias the version was resolved by")
    run_id: str = Field(description="MLflow run that trained the version")


def provenance(model: LoadedModel) -> dict[str, str | None]:
    """``ModelProvenance``'s fields for a loaded version."""
    return {
        "model_version": model.version,
        "model_name": model.name,
        "model_alias": model.alias,
        "run_id": model.run_id,
    }


def json_number(value: Any) -> Any:
    """A table cell for JSON: a float NaN (no value: a reference level's standard error, a change
    in per cent of a zero baseline) becomes None, i.e. null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def json_records(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of ``frame``'s ``columns`` as dicts ready for JSON, NaN as None."""
    # Column by column: ``to_dict(orient="records")`` indexes the frame row by row, which made up
    # most of a what-if answer's time in the worker that also answers grants.
    columns = list(columns)
    names = [str(column) for column in columns]
    values = [frame[column].tolist() for column in columns]
    return [
        dict(zip(names, map(json_number, row), strict=True)) for row in zip(*values, strict=True)
    ]
