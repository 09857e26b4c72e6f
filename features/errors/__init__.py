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

Errors carry fields, not only prose, so the API and the CLI can report them precisely. They
live by family: ``base`` (the root), ``data``, ``models``, ``requests`` and ``access``; import
them from here.
"""

from features.errors.access import (
    AccessDeniedError,
    AuditChainError,
    AuditLogError,
    AuthenticationError,
    KeyFileError,
    PermissionDeniedError,
    TooManyKeyChecksError,
)
from features.errors.base import (
    PtbError,
)
from features.errors.data import (
    BuildError,
    ContractError,
    ExtractsError,
    ReleaseError,
    SplitCodeError,
    UnknownCodeError,
    Violation,
)
from features.errors.models import (
    ModelNotFoundError,
    NoReformStepsError,
    PromotionRefused,
    RegistryUnavailableError,
    ReloadInProgressError,
    ReloadRefused,
    RuleMismatchError,
    UnpromotedChallengerError,
)
from features.errors.requests import (
    BodyTooLargeError,
    ConfigurationError,
    RepeatedQueryError,
    ScenarioError,
    ServiceNotReadyError,
    SnapshotMissingError,
    UnknownQueryError,
)

__all__ = [
    "AccessDeniedError",
    "AuditChainError",
    "AuditLogError",
    "AuthenticationError",
    "BodyTooLargeError",
    "BuildError",
    "ConfigurationError",
    "ContractError",
    "ExtractsError",
    "KeyFileError",
    "ModelNotFoundError",
    "NoReformStepsError",
    "PermissionDeniedError",
    "PromotionRefused",
    "PtbError",
    "RegistryUnavailableError",
    "ReleaseError",
    "ReloadInProgressError",
    "ReloadRefused",
    "RepeatedQueryError",
    "RuleMismatchError",
    "ScenarioError",
    "ServiceNotReadyError",
    "SnapshotMissingError",
    "SplitCodeError",
    "TooManyKeyChecksError",
    "UnknownCodeError",
    "UnknownQueryError",
    "UnpromotedChallengerError",
    "Violation",
]
