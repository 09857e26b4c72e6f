"""Every error the API answers, in one shape (``ErrorBody``): the product's own errors mapped
to HTTP statuses, request validation as 422 naming field and rule, and Starlette's errors.

This is the one error path: routes and middleware raise the product's errors (or hand them to
``error_response``) and never build an error body themselves, so an error kind and its rule
names are the same wherever it happens. ``docs/api.md`` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from features import (
    AuditLogError,
    AuthenticationError,
    BodyTooLargeError,
    BundleError,
    ContractError,
    ModelNotFoundError,
    NoReformStepsError,
    PermissionDeniedError,
    PtbError,
    RegistryUnavailableError,
    ReloadInProgressError,
    ReloadRefused,
    RepeatedQueryError,
    RuleMismatchError,
    ScenarioError,
    ServiceNotReadyError,
    SnapshotMissingError,
    SplitCodeError,
    TooManyKeyChecksError,
    UnknownCodeError,
    UnknownQueryError,
    UnpromotedChallengerError,
)
from serving.schemas import ErrorBody, ErrorDetail

# What a caller is told when its audit record cannot be written: never the log's path or the
# OS error, which go to the service's own log for the operators.
AUDIT_UNAVAILABLE = (
    "the audit log cannot be written, so API requests are refused until it can; try again later"
)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PtbError, ptb_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)


def _status_and_body(exc: PtbError) -> tuple[int, ErrorBody]:
    """Map the product's errors to HTTP: unknown codes 422, unknown versions 404, ..."""
    message = str(exc)
    if isinstance(exc, UnknownCodeError):
        split = isinstance(exc, SplitCodeError)
        return 422, ErrorBody(
            error="split_code" if split else "unknown_code",
            message=message,
            field=exc.field,
            codes=list(exc.codes),
            candidates=list(exc.candidates) if isinstance(exc, SplitCodeError) else None,
            reference_release=exc.release,
        )
    if isinstance(exc, ModelNotFoundError):
        return 404, ErrorBody(
            error="model_not_found",
            message=message,
            field=exc.field,
            available_versions=list(exc.available),
        )
    if isinstance(exc, NoReformStepsError):
        return 422, ErrorBody(error="no_reform_steps", message=message, field=exc.field)
    if isinstance(exc, UnpromotedChallengerError):
        return 422, ErrorBody(error="challenger_not_promoted", message=message, field=exc.field)
    if isinstance(exc, RuleMismatchError):
        return 422, ErrorBody(error="rule_mismatch", message=message, field=exc.field)
    if isinstance(exc, SnapshotMissingError):
        if exc.list_id is None:
            return 404, ErrorBody(error="no_snapshot", message=message)
        return 404, ErrorBody(error="not_found", message=message, field="list_id")
    if isinstance(exc, ScenarioError):
        problems = exc.problems or ((exc.field or "", message),)
        details = [
            ErrorDetail(field=field or "body", rule="invalid_scenario", message=problem)
            for field, problem in problems
        ]
        return 422, ErrorBody(
            error="invalid_scenario", message=message, field=exc.field or "body", details=details
        )
    if isinstance(exc, BodyTooLargeError):
        return 413, ErrorBody(error="too_large", message=message, field="body")
    if isinstance(exc, TooManyKeyChecksError):
        return 429, ErrorBody(error="too_many_requests", message=message)
    if isinstance(exc, AuthenticationError):
        return 401, ErrorBody(error="unauthorized", message=message)
    if isinstance(exc, PermissionDeniedError):
        return 403, ErrorBody(error="forbidden", message=message)
    if isinstance(exc, ReloadInProgressError):
        return 409, ErrorBody(error="reload_in_progress", message=message, field="model")
    if isinstance(exc, ReloadRefused):
        details = [
            ErrorDetail(field="model", rule=check.name, message=check.detail)
            for check in exc.checks
            if not check.passed
        ]
        return 422, ErrorBody(
            error="reload_refused", message=message, field="model", details=details or None
        )
    if isinstance(exc, AuditLogError):
        # The path and the OS error are for the operators' log, not for whoever is calling.
        return 503, ErrorBody(error="unavailable", message=AUDIT_UNAVAILABLE)
    if isinstance(exc, ServiceNotReadyError | RegistryUnavailableError | BundleError):
        return 503, ErrorBody(error="unavailable", message=message)
    if isinstance(exc, UnknownQueryError):
        details = [
            ErrorDetail(field=name[:64], rule="unknown_parameter", message="not taken here")
            for name in exc.unknown[:20]
        ]
        return 422, ErrorBody(
            error="validation_error", message=message, field=exc.unknown[0][:64], details=details
        )
    if isinstance(exc, RepeatedQueryError):
        details = [
            ErrorDetail(field=name[:64], rule="repeated_parameter", message="given more than once")
            for name in exc.names[:20]
        ]
        return 422, ErrorBody(
            error="validation_error", message=message, field=exc.names[0][:64], details=details
        )
    if isinstance(exc, ContractError):
        details = [
            ErrorDetail(field=f"{v.table}.{v.column}", rule=v.rule, message=str(v))
            for v in exc.violations
        ]
        return 422, ErrorBody(error="contract_violation", message=message, details=details)
    return 422, ErrorBody(error="invalid_request", message=message)


def error_response(exc: PtbError) -> JSONResponse:
    """The API's answer to a product error: status, ``ErrorBody`` and headers (the handlers,
    the access gate and the audit trail answer with it)."""
    status, body = _status_and_body(exc)
    headers = None
    if status == 503:
        headers = {"Retry-After": "5"}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="ptb"'}
    elif isinstance(exc, TooManyKeyChecksError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def ptb_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, PtbError):  # registered for PtbError only
        raise exc
    return error_response(exc)


def _field(location: Sequence) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each field and the rule it breaks, e.g. ``age: less_than_equal``."""
    return validation_error_response(exc.errors())  # type: ignore[attr-defined]


def validation_error_response(errors: Sequence[dict]) -> JSONResponse:
    """The 422 for FastAPI's list of request errors, as the handler and the body middleware
    (``serving.request_bodies``) answer it."""
    syntax = next((error for error in errors if error["type"] == "json_invalid"), None)
    if syntax is not None:
        return JSONResponse(_invalid_json(syntax).model_dump(exclude_none=True), status_code=422)
    details = [
        ErrorDetail(field=_field(error["loc"]), rule=error["type"], message=error["msg"])
        for error in errors
    ]
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    body = ErrorBody(
        error="validation_error",
        message=f"invalid request: {summary}{more}",
        field=details[0].field if details else None,
        details=details,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)


def _invalid_json(error: dict) -> ErrorBody:
    """A body that is not JSON: where it breaks, as pydantic or ``json`` found it."""
    where = error["loc"][1:]  # json.loads gives the character offset after "body"
    found = (error.get("ctx", {}).get("error") or error["msg"]).removeprefix("Invalid JSON: ")
    message = f"body is not valid JSON: {found}"
    if where:
        message += f" (at character {where[0]})"
    return ErrorBody(
        error="invalid_json",
        message=message,
        field="body",
        details=[ErrorDetail(field="body", rule="json_invalid", message=message)],
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors in the API's error shape; a body that is not text JSON is a 422."""
    status = exc.status_code  # type: ignore[attr-defined]
    detail = str(getattr(exc, "detail", "") or "")
    headers = getattr(exc, "headers", None)
    if status == 400 and "parsing the body" in detail:
        body = ErrorBody(
            error="invalid_json",
            message="body is not JSON text (UTF-8)",
            field="body",
            details=[ErrorDetail(field="body", rule="json_invalid", message=detail)],
        )
        return JSONResponse(body.model_dump(exclude_none=True), status_code=422)
    kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    body = ErrorBody(error=kinds.get(status, "http_error"), message=detail or f"HTTP {status}")
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)
