"""The key and role check, done before anything reads the request body: a pure ASGI middleware.

FastAPI reads and parses a body before it runs a route's dependencies, so a key checked in a
dependency is checked after a 300 MB body has been read and parsed. The gate sits outside the
app (and outside the body limits): it finds the role the matched route needs, checks the
``Authorization`` header, and answers 401, 403 or 429 itself, with not one byte of the body
read. A caller it lets through is left in the request's state for the route's dependency,
which then only reads it back.

Keys are checked so that guessing stays slow and cannot starve the service:

- a key that verified before is found by its SHA-256 in the key ring at once;
- requests that present the same key while it is being checked wait for that one check: a
  payment system opening 50 connections at once costs one hash, and is never taken for 50
  guesses;
- any other key is hashed (scrypt) on the key ring's own threads, never on the pool that runs
  the routes, and after too many failures for its key id or address it is refused with 429
  and ``Retry-After`` without hashing (``serving.access.attempts``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from features import (
    AccessDeniedError,
    AuthenticationError,
    PermissionDeniedError,
    TooManyKeyChecksError,
)
from serving.access.attempts import FailedAttempts
from serving.access.credentials import Role, allows, key_id_of
from serving.access.keys import Caller, KeyRing
from serving.observability import note_caller

CALLER_STATE = "ptb_caller"
RoleOf = Callable[[Scope], "tuple[Role, BaseRoute] | None"]
ErrorAnswer = Callable[[AccessDeniedError], Response]


GuardedRoutes = list[tuple[BaseRoute, Role]]


def route_role(guarded: GuardedRoutes, scope: Scope) -> tuple[Role, BaseRoute] | None:
    """The role the route matching ``scope`` needs, and that route, from the routes the app put
    behind a role (``require_role``); None for an open route. A path that matches with another
    method is still guarded (the router answers 405 only to a caller who may use the path)."""
    partial: tuple[Role, BaseRoute] | None = None
    for route, role in guarded:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return role, route
        if match == Match.PARTIAL and partial is None:
            partial = role, route
    return partial


def presented_key(scope: Scope) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return key.strip() or None if scheme.lower() == "bearer" else None
    return None


def gate_caller(request: Request) -> Caller | None:
    """The caller the gate let through, for the route's dependency; None if it did not run."""
    return request.scope.get("state", {}).get(CALLER_STATE)


class AccessGate:
    """ASGI middleware: 401/403/429 before the body is read; the caller handed on in state."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keyring: KeyRing,
        role_of: RoleOf,
        answer: ErrorAnswer,
        attempts: FailedAttempts | None = None,
        on_refusal: Callable[[AccessDeniedError], None] | None = None,
    ):
        self.app = app
        self.keyring = keyring
        self.role_of = role_of
        self.answer = answer
        self.attempts = attempts or FailedAttempts()
        self.on_refusal = on_refusal
        # Checks running now, by the SHA-256 of the key they check (the event loop's alone).
        self._checking: dict[bytes, asyncio.Future[Caller]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guarded = self.role_of(scope)
        if guarded is not None:
            role, route = guarded
            try:
                caller = await self._caller(scope)
                note_caller(caller.key_id, caller.role)  # for the log and the audit record
                if not allows(caller.role, role):
                    raise PermissionDeniedError(caller.key_id or "open", caller.role, role)
            except AccessDeniedError as refused:
                # The route, as the router would have set it: a refusal is logged and audited
                # by its route template, not as "unmatched".
                scope.setdefault("route", route)
                if self.on_refusal is not None:
                    self.on_refusal(refused)
                await self.answer(refused)(scope, receive, send)
                return
            scope.setdefault("state", {})[CALLER_STATE] = caller
        await self.app(scope, receive, send)

    async def _caller(self, scope: Scope) -> Caller:
        key = presented_key(scope)
        caller = self.keyring.cached(key)
        if caller is not None:
            return caller
        key_id = key_id_of(key) if key else None
        client = (scope.get("client") or (None,))[0]
        if key_id is None:  # missing or malformed: refused at once, nothing to hash
            return self.keyring.authenticate(key)
        assert key is not None
        digest = hashlib.sha256(key.encode()).digest()
        running = self._checking.get(digest)
        if running is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this request itself was cancelled
                # the request that ran the check went away: check the key here
        check = self._checking[digest] = asyncio.get_running_loop().create_future()
        try:
            caller = await self._checked(key, key_id, client)
        except asyncio.CancelledError:
            check.cancel()
            raise
        except Exception as refused:
            check.set_exception(refused)
            check.exception()  # retrieved: no "never retrieved" warning when no one waited
            raise
        else:
            check.set_result(caller)
            return caller
        finally:
            if self._checking.get(digest) is check:
                del self._checking[digest]

    async def _checked(self, key: str, key_id: str, client: str | None) -> Caller:
        """One key hashed and checked, counted against the failure limits."""
        wait = self.attempts.retry_after(key_id, client)
        if wait is not None:
            raise TooManyKeyChecksError(
                "too_many_failures",
                f"too many failed API key checks from this address or for this key id; "
                f"try again in {wait} s",
                retry_after=wait,
            )
        self.attempts.begin(key_id, client)
        failed = True
        try:
            caller = await self.keyring.authenticate_off_loop(key)
            failed = False
            return caller
        except AuthenticationError as refused:
            failed = refused.reason != "busy"  # a key never checked is no failed guess
            raise
        finally:
            self.attempts.end(key_id, client, failed=failed)
