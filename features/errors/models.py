"""Errors about model versions: finding them in the registry, promoting and reloading them,
and which legislated rule a version may pay by."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from features.errors.base import PtbError


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

    version: str | None  # None: refused before any version existed (a training's bounds)
    reasons: tuple[str, ...]

    def __init__(self, version: str | None, reasons: Sequence[str]):
        self.version = version
        self.reasons = tuple(reasons)
        refused = f"version {version} not promoted" if version is not None else "gate refused"
        super().__init__(f"{refused}: " + "; ".join(self.reasons))


class RegistryUnavailableError(PtbError, ConnectionError):
    """The registry cannot be reached and no cached copy answers the request."""


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
