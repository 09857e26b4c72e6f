"""Errors of access: API keys and roles, the keys file, and the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from features.errors.base import PtbError


class AccessDeniedError(PtbError, PermissionError):
    """A request the configured API keys do not allow; ``reason`` says why in one word."""

    reason: str

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


class AuthenticationError(AccessDeniedError):
    """No API key, or not a valid one (unknown, revoked, wrong secret): HTTP 401.

    ``reason`` is ``missing``, ``malformed`` or ``invalid``; the key itself is never kept.
    """


class TooManyKeyChecksError(AuthenticationError):
    """A key not checked because too many checks failed for its key id or address
    (``too_many_failures``) or too many wait for a hashing thread (``busy``): HTTP 429, and
    ``retry_after`` seconds for the ``Retry-After`` header."""

    retry_after: int

    def __init__(self, reason: str, message: str, *, retry_after: int):
        self.retry_after = retry_after
        super().__init__(reason, message)


class PermissionDeniedError(AccessDeniedError):
    """A valid key whose role may not use the endpoint: HTTP 403."""

    key_id: str
    role: str
    required: str

    def __init__(self, key_id: str, role: str, required: str):
        self.key_id, self.role, self.required = key_id, role, required
        super().__init__(
            "forbidden",
            f"API key {key_id!r} has role {role!r}; this endpoint needs role {required!r}",
        )


class KeyFileError(PtbError, ValueError):
    """The API keys file cannot be read or breaks its format; every problem is listed."""

    path: str
    problems: tuple[str, ...]

    def __init__(self, path: str, problems: Sequence[str]):
        self.path = path
        self.problems = tuple(problems)
        super().__init__(f"API keys file {path}: " + "; ".join(self.problems))


class AuditLogError(PtbError, OSError):
    """The audit log cannot be written, so audited requests are refused until it can."""


class AuditChainError(PtbError, ValueError):
    """The audit log's hash chain is broken at ``line`` (1-based): a record was edited or lost."""

    path: str
    line: int
    reason: str

    def __init__(self, path: str, line: int, reason: str):
        self.path, self.line, self.reason = path, line, reason
        super().__init__(f"{path}: line {line}: {reason}")
