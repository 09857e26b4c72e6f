"""The one error body every refusal of the API has."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    field: str = Field(description="where: a field name or path such as persons.3.age")
    rule: str = Field(description="the rule broken, e.g. less_than_equal, string_pattern_mismatch")
    message: str


class ErrorBody(BaseModel):
    """Every error the API returns."""

    error: str = Field(description="machine-readable kind, e.g. validation_error, unknown_code")
    message: str
    field: str | None = None
    codes: list[str] | None = Field(None, description="unknown codes, for unknown_code")
    available_versions: list[str] | None = Field(
        None, description="registered versions, for model_not_found"
    )
    details: list[ErrorDetail] | None = None
