"""Request bodies read within a limit per route and parsed as strict JSON, before any route.

A body is refused with 413 as soon as it is known to be too large: at once when its
``Content-Length`` says so, else at the chunk that crosses the limit. Nothing beyond the limit
is ever held in memory, and nothing of it is parsed. Besides bytes, a route may bound the JSON
objects a body opens (``{`` bytes, counted as chunks arrive): a list's persons are objects, so a
list of a million persons is refused at its 20,002nd object, before any of it is parsed.

The middleware reads a bounded body whole before the app sees it and replays it, so it sits
*after* the key check (``serving`` puts the access gate outside it): a caller without a key is
refused before a byte of the body is read.

A body sent with ``POST`` must then be JSON, said so by its ``Content-Type``, and *strict*
JSON (``parse_strict``): no ``NaN`` or ``Infinity``, no key twice in one object, nesting at
most 200 deep (jiter's limit). Anything else is a 422 ``invalid_json`` naming line and column,
answered here. Both refusals are answered through ``serving.error_responses``, as every error. The parsed document is left in the request's state (``parsed_body``), so a
route validates it without parsing the bytes again.

Limits (``DEFAULT_LIMITS``) are in ``docs/security.md``; ``PTB_BODY_LIMITS`` overrides the
bytes per path as JSON, e.g. ``{"/v1/grants/list": 8388608}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import jiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features import BodyTooLargeError
from serving.error_responses import error_response, validation_error_response
from serving.schemas import MAX_LIST_PERSONS

KIB = 1024
MIB = 1024 * KIB
# About 110 bytes per person as a client sends them, with room for spaces and long decimals.
LIST_BYTES = 4 * MIB


@dataclass(frozen=True)
class BodyLimit:
    """The most a body on a route may hold: bytes, and JSON objects if bounded."""

    max_bytes: int
    max_objects: int | None = None


DEFAULT_LIMIT = BodyLimit(16 * KIB, 64)  # any route not named below (GET routes need none)
DEFAULT_LIMITS: dict[str, BodyLimit] = {
    "/v1/grants/person": BodyLimit(4 * KIB, 1),
    "/v1/grants/list": BodyLimit(LIST_BYTES, MAX_LIST_PERSONS + 1),
    "/v1/whatif": BodyLimit(64 * KIB, 64),
    "/v1/whatif/lists.csv": BodyLimit(64 * KIB, 64),
    "/v1/admin/reload": BodyLimit(1 * KIB, 1),
}


def body_limits(overrides: Mapping[str, int] | None = None) -> dict[str, BodyLimit]:
    """The default limits with the byte limits of ``overrides`` (path -> bytes) applied."""
    limits = dict(DEFAULT_LIMITS)
    for path, max_bytes in (overrides or {}).items():
        limits[path] = replace(limits.get(path, DEFAULT_LIMIT), max_bytes=int(max_bytes))
    return limits


PARSED_STATE = "ptb_parsed_body"
NO_BODY = object()  # an empty body: the route's default applies
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class InvalidJson(ValueError):
    """A body that is not strict JSON; ``reason`` as the parser put it (line and column).

    ``rule`` is ``json_invalid``, or ``content_type`` for a body not declared as JSON."""

    def __init__(self, reason: str, rule: str = "json_invalid"):
        self.reason, self.rule = reason, rule
        super().__init__(reason)

    def errors(self) -> list[dict]:
        """The refusal as FastAPI's ``RequestValidationError`` lists a body's errors."""
        if self.rule == "json_invalid":
            return [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "ctx": {"error": self.reason},
                }
            ]
        return [{"type": self.rule, "loc": ("body",), "msg": self.reason}]


def parse_strict(raw: bytes) -> Any:
    """The JSON document in ``raw``; ``InvalidJson`` for NaN, Infinity, a repeated key, nesting
    deeper than 200, or anything not JSON. A number too large for a float (``1e400``) parses
    as infinity, which every amount's bound then refuses."""
    try:
        return jiter.from_json(
            raw, allow_inf_nan=False, catch_duplicate_keys=True, cache_mode="keys"
        )
    except ValueError as exc:
        raise InvalidJson(str(exc)) from None


def parse_document(content_type: str | None, body: bytes) -> Any:
    """A POST body as strict JSON, ``NO_BODY`` if empty; ``InvalidJson`` if its
    ``Content-Type`` does not say JSON or it is not strict JSON."""
    if not body.strip():
        return NO_BODY
    if not is_json(content_type):
        got = f"got {content_type!r}" if content_type else "none was given"
        raise InvalidJson(f"Content-Type must be application/json ({got})", "content_type")
    return parse_strict(body)


def is_json(content_type: str | None) -> bool:
    """``application/json`` or an ``application/...+json`` type, parameters aside."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def parsed_body(scope: Scope) -> Any:
    """The document the middleware parsed, ``NO_BODY`` for an empty body, None if it did not run."""
    return scope.get("state", {}).get(PARSED_STATE)


class BodyLimits:
    """ASGI middleware: read each request body up to its route's limit, or answer 413."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, BodyLimit] | None = None):
        self.app = app
        self.limits = dict(limits if limits is not None else DEFAULT_LIMITS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        limit = self.limits.get(path, DEFAULT_LIMIT)
        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit.max_bytes:
                raise BodyTooLargeError(method, path, f"at most {limit.max_bytes:,} bytes")
            messages = await _read_bounded(receive, limit, method, path)
        except BodyTooLargeError as refused:
            answer = error_response(refused)
            answer.headers["connection"] = "close"  # the rest of the body is never read
            await answer(scope, receive, send)
            return
        if method in BODY_METHODS:
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            try:
                document = parse_document(_header(scope, b"content-type"), body)
            except InvalidJson as refused:
                await validation_error_response(refused.errors())(scope, receive, send)
                return
            scope.setdefault("state", {})[PARSED_STATE] = document
        await self.app(scope, _replay(messages, receive), send)


async def _read_bounded(
    receive: Receive, limit: BodyLimit, method: str, path: str
) -> list[Message]:
    """The body's messages, up to the limit; a disconnect ends them early (the app sees it)."""
    messages: list[Message] = []
    size = objects = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit.max_bytes:
            raise BodyTooLargeError(method, path, f"at most {limit.max_bytes:,} bytes")
        if limit.max_objects is not None:
            objects += chunk.count(b"{")
            if objects > limit.max_objects:
                raise BodyTooLargeError(method, path, f"at most {limit.max_objects:,} JSON objects")
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body read already, then waits as ``receive`` does."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    declared = _header(scope, b"content-length")
    try:
        return int(declared) if declared is not None else None
    except ValueError:
        return None  # the server refuses a malformed length itself
