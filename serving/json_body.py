"""Request bodies validated from the strict JSON the body middleware parsed.

``serving.request_bodies`` reads a body within its route's limit and parses it as strict JSON
(no NaN or Infinity, no repeated key, bounded depth) before any route runs; ``read_json_body``
validates that document against the route's model and answers a bad body exactly as FastAPI
would (a ``RequestValidationError`` with ``body`` locations, so the same 422), and
``read_json_value`` hands it to a route that parses it further (a what-if scenario). Its route
documents the body with ``json_request_body``, as FastAPI cannot see it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from serving.openapi import component_ref
from serving.request_bodies import NO_BODY, InvalidJson, parse_document, parsed_body

Model = TypeVar("Model", bound=BaseModel)


def json_request_body(
    model: type[BaseModel],
    *,
    required: bool = True,
    description: str | None = None,
    examples: dict | None = None,
) -> dict:
    """``openapi_extra`` for a route that reads its JSON body itself; the body's schema is a
    named component (``serving.openapi``)."""
    content: dict = {"schema": component_ref(model)}
    if examples:
        content["examples"] = examples
    body: dict = {"required": required, "content": {"application/json": content}}
    if description:
        body["description"] = description
    return {"requestBody": body}


async def read_json_value(request: Request, *, empty: Any = None) -> Any:
    """The body as a strict JSON value, ``empty`` for an empty body; refused as FastAPI refuses
    a body (422 ``invalid_json``, or ``validation_error`` with rule ``content_type``).

    For a route whose body is parsed further by the product's own parser (a what-if scenario),
    and under ``read_json_body``. The document is the one the body middleware parsed; an app
    assembled without the middleware gets it parsed here by the same rules.
    """
    document = parsed_body(request.scope)
    if document is None:
        try:
            document = parse_document(request.headers.get("content-type"), await request.body())
        except InvalidJson as exc:
            raise RequestValidationError(exc.errors()) from None
    return empty if document is NO_BODY else document


async def read_json_body(
    request: Request, model: type[Model], *, empty: Model | None = None
) -> Model:
    """The body validated as ``model``; an invalid body raises FastAPI's validation error.

    As FastAPI does, a body is read as JSON only when its ``Content-Type`` says it is JSON. With
    ``empty``, an optional body: no body (or ``null``) is ``empty``.
    """
    document = await read_json_value(request, empty=NO_BODY)
    if empty is not None and (document is NO_BODY or document is None):
        return empty
    if document is NO_BODY:
        empty_body = InvalidJson("the body is empty; a JSON object is required")
        raise RequestValidationError(empty_body.errors())
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None
