"""The product's errors, one tree so callers catch what they mean.

- ``PtbError``
    - ``ContractError`` (also ``ValueError``): a data set breaks the data contract
        - ``ExtractsError``: registry extracts break the extracts contract (docs/extracts.md)
    - ``BuildError``: a build from extracts cannot run as asked (engine, year, reconciliation)
    - ``UnknownCodeError`` (also ``KeyError``): a grunnkrets or kommune the release does not know
        - ``SplitCodeError``: an old code that became several codes; the candidates are named
    - ``ReleaseError`` (also ``ValueError``): a reference release that is missing or inconsistent
    - ``ModelNotFoundError`` (also ``LookupError``): no model version or alias by that name
    - ``PromotionRefused``: a version failed the promotion gate
    - ``ScenarioError`` (also ``ValueError``): a what-if scenario is malformed
    - ``RegistryUnavailableError`` (also ``ConnectionError``): no registry, and no cached copy
    - ``ServiceNotReadyError``: the serving model or snapshot is still loading, or failed to
    - ``SnapshotMissingError`` (also ``LookupError``): no registry snapshot, or no such list
    - ``UnknownQueryError`` (also ``ValueError``): a query parameter the endpoint does not take
    - ``RepeatedQueryError`` (also ``ValueError``): a query parameter given more than once
    - ``BodyTooLargeError`` (also ``ValueError``): a request body over its route's limit
    - ``AccessDeniedError`` (also ``PermissionError``): a request the API keys do not allow
        - ``AuthenticationError``: no API key, or not a valid one (HTTP 401)
            - ``TooManyKeyChecksError``: too many failed or waiting key checks (HTTP 429)
        - ``PermissionDeniedError``: a valid key whose role may not do this (HTTP 403)
    - ``KeyFileError`` (also ``ValueError``): the API keys file is unreadable or malformed
    - ``ConfigurationError`` (also ``ValueError``): the service cannot start as configured
    - ``ReloadRefused``: a model version failed to load or its checks; the old one serves on
        - ``ReloadInProgressError``: another reload is running
    - ``AuditLogError`` (also ``OSError``): the audit log cannot be written
    - ``AuditChainError`` (also ``ValueError``): the audit log's hash chain is broken

Errors carry fields, not only prose, so the API and the CLI can report them precisely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class PtbError(Exception):
    """Base of every error the product raises on purpose."""

    def __reduce__(self):
        # Rebuilt from its state, not through its own __init__: an error raised in the what-if
        # process (serving.whatif.process) reaches the worker as the same error.
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(kind: type[PtbError], args: tuple, state: dict) -> PtbError:
    error = kind.__new__(kind, *args)
    error.args = args
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class Violation:
    """One broken rule of the data contract: where, which rule, how many rows, which rows."""

    table: str
    column: str
    rule: str
    n_rows: int
    example_rows: tuple[int, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if not self.n_rows:
            return f"{where}: {self.rule}"
        rows = ", ".join(str(r) for r in self.example_rows)
        noun = "row" if self.n_rows == 1 else "rows"
        suffix = f" ({noun} {rows})" if rows else ""
        return f"{where}: {self.n_rows} {noun} {self.rule}{suffix}"


class ContractError(PtbError, ValueError):
    """A data set breaks the data contract; every violation is listed so it is fixed in one pass.

    ``table``, ``column``, ``rule``, ``n_rows`` and ``example_rows`` are the first violation's.
    """

    violations: tuple[Violation, ...]
    table: str
    column: str
    rule: str
    n_rows: int
    example_rows: tuple[int, ...]

    def __init__(self, violations: Sequence[Violation]):
        self.violations = tuple(violations)
        first = self.violations[0]
        self.table, self.column, self.rule = first.table, first.column, first.rule
        self.n_rows, self.example_rows = first.n_rows, first.example_rows
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(
            f"data set breaks the data contract ({len(self.violations)} "
            f"{'rule' if len(self.violations) == 1 else 'rules'}):\n{lines}"
        )


class ExtractsError(ContractError):
    """Registry extracts break the extracts contract; every violation is listed with examples."""

    def __init__(self, violations: Sequence[Violation]):
        super().__init__(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        n = len(self.violations)
        self.args = (
            f"extracts break the extracts contract ({n} {'rule' if n == 1 else 'rules'}):\n{lines}",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class BuildError(PtbError, RuntimeError):
    """A build from extracts cannot run as asked, or its reconciliation does not add up."""


class UnknownCodeError(PtbError, KeyError):
    """A code (grunnkrets, kommune) that is not in the reference release in use."""

    field: str
    codes: tuple[str, ...]
    reference: str
    release: str | None
    message: str

    def __init__(
        self, field_name: str, codes: Sequence[str], reference: str, release: str | None = None
    ):
        self.field = field_name
        self.codes = tuple(codes)
        self.reference = reference
        self.release = release
        shown = ", ".join(self.codes[:5])
        more = f" and {len(self.codes) - 5} more" if len(self.codes) > 5 else ""
        where = f" in reference release {release}" if release else ""
        self.message = f"{field_name}: unknown {reference} {shown}{more}{where}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class SplitCodeError(UnknownCodeError):
    """An old code that changed into several codes: which one a person belongs to is not
    known, so it is refused with the candidates named, never guessed."""

    candidates: tuple[str, ...]

    def __init__(
        self,
        field_name: str,
        code: str,
        candidates: Sequence[str],
        reference: str,
        release: str | None = None,
    ):
        super().__init__(field_name, [code], reference, release)
        self.candidates = tuple(candidates)
        self.message = (
            f"{field_name}: {reference} {code} was split into {', '.join(self.candidates)}"
            f"{f' (reference release {release})' if release else ''}; "
            f"give the new {reference} code"
        )
        self.args = (self.message,)


class ReleaseError(PtbError, ValueError):
    """A reference release that cannot be found or is inconsistent (``release`` names it)."""

    release: str

    def __init__(self, release: str, message: str):
        self.release = release
        super().__init__(f"reference release {release}: {message}")


class ModelNotFoundError(PtbError, LookupError):
    """No registered model version or alias by that name.

    ``field`` is the request field that named it (``model_version``, ``baseline``,
    ``phase_in.from_version``), so the API answer points at the right one.
    """

    requested: str
    available: tuple[str, ...]
    field: str

    def __init__(
        self, requested: str, available: Sequence[str] = (), *, field: str = "model_version"
    ):
        self.requested = requested
        self.available = tuple(available)
        self.field = field
        known = ", ".join(self.available) if self.available else "none"
        super().__init__(f"model {requested!r} not found; registered versions: {known}")

    def for_field(self, field: str) -> ModelNotFoundError:
        """The same error, reported against another request field."""
        return ModelNotFoundError(self.requested, self.available, field=field)


class PromotionRefused(PtbError):
    """A model version failed the checks that guard the champion alias."""

    version: str
    reasons: tuple[str, ...]

    def __init__(self, version: str, reasons: Sequence[str]):
        self.version = version
        self.reasons = tuple(reasons)
        super().__init__(f"version {version} not promoted: " + "; ".join(self.reasons))


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


class RegistryUnavailableError(PtbError, ConnectionError):
    """The registry cannot be reached and no cached copy answers the request."""


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


class ConfigurationError(PtbError, ValueError):
    """The service refuses to start as configured (for example without API keys in production)."""

    setting: str

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message)


class ReloadRefused(PtbError):
    """A model version that failed to load or failed a check; the serving model is unchanged.

    ``checks`` holds the checks that ran (``serving.reload.Check``), failed ones included.
    """

    requested: str
    reason: str
    checks: tuple[Any, ...]

    def __init__(self, requested: str, reason: str, checks: Sequence = ()):
        self.requested = requested
        self.reason = reason
        self.checks = tuple(checks)
        super().__init__(f"reload to {requested!r} refused, still serving the old model: {reason}")


class ReloadInProgressError(ReloadRefused):
    """Another reload is still running; try again when it is done."""

    def __init__(self, requested: str):
        super().__init__(requested, "another reload is in progress")


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


class RuleMismatchError(PtbError, ValueError):
    """A model asked to pay on a date whose legislated rule it does not implement."""

    def __init__(self, version: str, name: str, rule: str, scheme_date: str):
        self.field = "model_version"
        self.version, self.name, self.rule, self.scheme_date = version, name, rule, scheme_date
        super().__init__(
            f"ptb version {version} ({name}) does not implement {rule}, the rule for "
            f"scheme_date {scheme_date}; leave model_version out to be paid by the rule's model"
        )


class NoReformStepsError(PtbError, LookupError):
    """A model version without the reform's step bundles (trained before they shipped)."""

    def __init__(self, version: str, name: str):
        self.field = "model_version"
        self.version, self.name = version, name
        super().__init__(
            f"ptb version {version} ({name}) carries no reform steps: the waterfall needs a "
            "model_2026 version trained with them (ptb train)"
        )


class UnpromotedChallengerError(PtbError, ValueError):
    """A challenger (no legislated rule) asked to pay without being promoted to champion."""

    def __init__(self, version: str, name: str):
        self.field = "model_version"
        self.version, self.name = version, name
        super().__init__(
            f"ptb version {version} ({name}) is a challenger: it pays only as champion, after "
            "an explicit promotion (ptb promote --unlegislated-reason)"
        )
