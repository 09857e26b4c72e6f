"""Request bodies validated from the strict JSON the body middleware parsed.

``serving.request_bodies`` reads a body within its route's limit and parses it as strict JSON
(no NaN or Infinity, no repeated key, bounded depth) before any route runs; ``read_json_body``
validates that document against the route's model and answers a bad body exactly as FastAPI
would (a ``RequestValidationError`` with ``body`` locations, so the same 422). Its route
documents the body with ``json_request_body``, as FastAPI cannot see it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from serving.request_bodies import NO_BODY, InvalidJson, is_json, parse_strict, parsed_body

Model = TypeVar("Model", bound=BaseModel)


def inline_schema(schema: dict) -> dict:
    """A JSON schema with its ``$defs`` written in place, for an OpenAPI request body."""
    definitions = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


def json_request_body(
    model: type[BaseModel],
    *,
    required: bool = True,
    description: str | None = None,
    examples: dict | None = None,
) -> dict:
    """``openapi_extra`` for a route that reads its JSON body itself."""
    content: dict = {"schema": inline_schema(model.model_json_schema())}
    if examples:
        content["examples"] = examples
    body: dict = {"required": required, "content": {"application/json": content}}
    if description:
        body["description"] = description
    return {"requestBody": body}


async def request_document(request: Request, *, empty: Any = NO_BODY) -> Any:
    """The body as the strict parser read it; ``empty`` for an empty body.

    Parsed here when no middleware did (an app assembled without it): the same rules apply.
    """
    document = parsed_body(request.scope)
    if document is None:
        raw = await request.body()
        if not raw.strip():
            document = NO_BODY
        else:
            content_type = request.headers.get("content-type")
            if not is_json(content_type):
                got = f"got {content_type!r}" if content_type else "none was given"
                message = f"Content-Type must be application/json ({got})"
                raise RequestValidationError(
                    [{"type": "content_type", "loc": ("body",), "msg": message}]
                )
            try:
                document = parse_strict(raw)
            except InvalidJson as exc:
                raise RequestValidationError(
                    [{"type": exc.rule, "loc": ("body",), "msg": exc.reason}]
                ) from None
    return empty if document is NO_BODY else document


async def read_json_body(request: Request, model: type[Model]) -> Model:
    """The body validated as ``model``; an invalid body raises FastAPI's validation error."""
    document = await request_document(request)
    if document is NO_BODY:
        message = "the body is empty; a JSON object is required"
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message}])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None
