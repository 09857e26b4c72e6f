"""MLflow: where runs are tracked, and the registered model's versions and aliases.

Registered model ``ptb``; aliases ``champion`` (what serving uses by default), ``challenger``
(the newest 2026-model version that passed the gate's data checks), ``incumbent`` (the same
for model 0, the 2023 rule) and ``fine_bands`` (the newest finer-bands challenger, registered as
evidence, never served unless promoted explicitly with a recorded reason). A version's source
run holds the bundle under ``bundle/`` and the pyfunc under ``model``.

Registry errors stay errors: a version or alias is "not found" only when the registry answered
so; any other failure is a ``RegistryUnavailableError`` naming the tracking URI and the cause,
and arrives within a bounded time (``bounded_registry_calls``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from features import ModelNotFoundError, RegistryUnavailableError

REGISTERED_MODEL = "ptb"
CHAMPION, CHALLENGER, INCUMBENT = "champion", "challenger", "incumbent"
FINE_BANDS = "fine_bands"
# A model that implements no legislated rule (a challenger such as the finer bands) becomes
# champion only by an explicit promotion whose reason is recorded on the version under this tag.
UNLEGISLATED_REASON_TAG = "ptb_unlegislated_promotion"
PREDICTIVE_RATIOS = "validation/predictive_ratios.csv"
# MLflow's client retries a failing server for about four minutes by default (7 retries,
# doubling back-off, 120 s per call). A command must fail within seconds and say why:
# two retries, one second of back-off, 30 s per call. An operator's own settings win.
REGISTRY_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}

T = TypeVar("T")


def bounded_registry_calls(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Lower MLflow's HTTP retries and timeout where the operator has not set them."""
    for name, value in REGISTRY_HTTP_DEFAULTS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in REGISTRY_HTTP_DEFAULTS}


def use_tracking(tracking_uri: str, artifact_root: str = "mlruns/artifacts") -> None:
    """Point MLflow at the store; a local sqlite store gets its folder created first."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        Path(artifact_root).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def ensure_experiment(name: str, tracking_uri: str, artifact_root: str) -> str:
    """The experiment's id; a local store keeps artifacts under ``mlruns/`` beside the database."""
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = Path(artifact_root).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def is_not_found(exc: MlflowException) -> bool:
    """Whether the registry answered that the thing asked for does not exist."""
    if exc.error_code in _NOT_FOUND_CODES:
        return True
    # An unknown alias is answered as an invalid parameter "... alias X not found."
    return exc.error_code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc.message)


class Registry:
    """The registered model through one client; every call's failure named with the URI."""

    def __init__(self, tracking_uri: str, model: str = REGISTERED_MODEL):
        self.tracking_uri = tracking_uri
        self.model = model
        self.client = MlflowClient(tracking_uri, registry_uri=tracking_uri)

    @contextmanager
    def calls(self, what: str) -> Iterator[None]:
        """Turn any failure but "not found" into ``RegistryUnavailableError`` naming the URI."""
        try:
            yield
        except MlflowException as exc:
            if is_not_found(exc):
                raise
            raise self.unavailable(what, exc) from exc
        except (OSError, ValueError, RuntimeError) as exc:
            raise self.unavailable(what, exc) from exc

    def unavailable(self, what: str, exc: BaseException) -> RegistryUnavailableError:
        cause = exc.message if isinstance(exc, MlflowException) else f"{type(exc).__name__}: {exc}"
        return RegistryUnavailableError(
            f"model registry {self.tracking_uri} failed while {what}: {cause}"
        )

    def call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.calls(what):
            return function(*args, **kwargs)

    def versions(self) -> list[ModelVersion]:
        """Every version of the model, oldest first (empty only if the registry said so)."""
        found = self.call(
            "listing versions", self.client.search_model_versions, f"name='{self.model}'"
        )
        return sorted(found, key=lambda v: int(v.version))

    def version_numbers(self) -> list[str]:
        return [str(v.version) for v in self.versions()]

    def resolve(self, ref: str) -> ModelVersion:
        """A version by number or alias; ``ModelNotFoundError`` only when the registry said so."""
        ref = str(ref)
        try:
            with self.calls(f"resolving {ref!r}"):
                if ref.isdigit():
                    return self.client.get_model_version(self.model, ref)
                return self.client.get_model_version_by_alias(self.model, ref)
        except MlflowException as exc:  # not found: the registry answered
            raise ModelNotFoundError(ref, self.version_numbers()) from exc

    def alias_version(self, alias: str) -> str | None:
        """Where an alias points; None only when the registry answered that it points nowhere."""
        try:
            with self.calls(f"resolving alias {alias!r}"):
                return str(self.client.get_model_version_by_alias(self.model, alias).version)
        except MlflowException:
            return None

    def aliases(self) -> dict[str, str]:
        """Every alias and its version (empty when the model is not registered yet)."""
        try:
            with self.calls("reading aliases"):
                model = self.client.get_registered_model(self.model)
        except MlflowException:
            return {}
        return {alias: str(version) for alias, version in model.aliases.items()}
