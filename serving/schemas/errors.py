"""The one error body every refusal of the API has."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# What a route's ``responses=`` declares: status -> the body model and a description.
Responses = dict[int | str, dict[str, Any]]

# Every kind of error the API answers; docs/errors.md says when each happens.
ErrorKind = Literal[
    "unauthorized",
    "forbidden",
    "model_not_found",
    "no_snapshot",
    "not_found",
    "method_not_allowed",
    "reload_in_progress",
    "too_large",
    "too_many_requests",
    "validation_error",
    "invalid_json",
    "invalid_scenario",
    "unknown_code",
    "split_code",
    "rule_mismatch",
    "challenger_not_promoted",
    "no_reform_steps",
    "reload_refused",
    "contract_violation",
    "invalid_request",
    "unavailable",
    "http_error",
]


class ErrorDetail(BaseModel):
    field: str = Field(description="where: a field name or path such as persons.3.age")
    rule: str = Field(description="the rule broken, e.g. less_than_equal, string_pattern_mismatch")
    message: str


class ErrorBody(BaseModel):
    """Every error the API returns."""

    error: ErrorKind = Field(description="machine-readable kind (docs/errors.md)")
    message: str
    field: str | None = None
    codes: list[str] | None = Field(None, description="unknown codes, for unknown_code")
    candidates: list[str] | None = Field(
        None, description="the codes a split code became, for split_code: send one of them"
    )
    reference_release: str | None = Field(
        None, description="the release the code was looked up in, for unknown_code, split_code"
    )
    available_versions: list[str] | None = Field(
        None, description="registered versions, for model_not_found"
    )
    details: list[ErrorDetail] | None = None
