"""Errors in what a request or the service's configuration asks: scenarios, queries, bodies,
and a service not ready to answer."""

from __future__ import annotations

from collections.abc import Sequence

from features.errors.base import PtbError


class ScenarioError(PtbError, ValueError):
    """A what-if scenario that cannot be computed as written; every problem is listed.

    ``problems`` are ``(field, message)`` pairs; ``field`` is the first problem's; ``path`` the
    scenario file, if it came from one.
    """

    field: str | None
    problems: tuple[tuple[str, str], ...]
    path: str | None

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: Sequence[tuple[str, str]] = (),
        path: str | None = None,
    ):
        self.field = field
        self.problems = tuple(problems)
        self.path = path
        super().__init__(message)


class ServiceNotReadyError(PtbError):
    """The serving model (or snapshot) is still loading, or failed to load."""


class SnapshotMissingError(PtbError, LookupError):
    """A list look-up on a service started without a registry snapshot (``list_id`` None), or
    an unknown list."""

    list_id: str | None

    def __init__(self, message: str, list_id: str | None = None):
        self.list_id = list_id
        super().__init__(message)


class UnknownQueryError(PtbError, ValueError):
    """Query parameters an endpoint does not take; refused, as misspelt body fields are."""

    unknown: tuple[str, ...]
    known: tuple[str, ...]

    def __init__(self, unknown: Sequence[str], known: Sequence[str]):
        self.unknown, self.known = tuple(unknown), tuple(known)
        shown = ", ".join(repr(name[:40]) for name in self.unknown[:5])
        takes = ", ".join(self.known) or "none"
        super().__init__(f"unknown query parameter {shown}; this endpoint takes: {takes}")


class RepeatedQueryError(PtbError, ValueError):
    """Query parameters given more than once (``?model_version=2&model_version=3``): refused
    rather than answered with one of them."""

    names: tuple[str, ...]

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        shown = ", ".join(repr(name[:40]) for name in self.names[:5])
        super().__init__(f"query parameter {shown} given more than once; give each once")


class BodyTooLargeError(PtbError, ValueError):
    """A request body over its route's limit (``limit``: bytes or JSON objects): HTTP 413,
    answered before the rest of the body is read."""

    method: str
    path: str
    limit: str

    def __init__(self, method: str, path: str, limit: str):
        self.method, self.path, self.limit = method, path, limit
        super().__init__(
            f"the request body is too large: {method} {path} takes {limit} "
            "(docs/security.md, PTB_BODY_LIMITS)"
        )


class ConfigurationError(PtbError, ValueError):
    """The service refuses to start as configured (for example without API keys in production)."""

    setting: str

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message)
