"""Model bundles by alias or version from the MLflow registry, loaded once per version.

Convention (set by ``training``): registered model ``ptb``; a version's source run holds the
bundle files under the artifact path ``bundle/``; aliases ``champion`` and ``challenger``.

A version never changes, so a loaded version is kept in memory for the life of the process and,
with a ``cache_dir``, on disk (``serving.bundle_cache``): a restart while the tracking server is
down still serves the last model it resolved, verified against the bundle's own SHA-256
checksums. An alias can move, so an alias is resolved again after ``alias_ttl_seconds``; the
version it pointed to last is remembered on disk for the same offline restart.

When the registry fails to answer, the store stops asking it for ``offline_seconds``: aliases
resolve to the version they pointed to last (memory, then disk) and versions come from memory
or the verified disk cache, so a dead registry costs one slow call, not one per request. A
cached copy that fails its checksums is moved aside (``.corrupt-*``) and never served; the
error says so. MLflow's own HTTP client retries for minutes by default:
``apply_registry_http_defaults`` lowers that for a service (see docs/security.md).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from features import (
    BUNDLE_ARTIFACT,
    MODEL_TAG,
    ModelBundle,
    ModelNotFoundError,
    RegistryUnavailableError,
)
from serving.bundle_cache import BundleCache
from serving.loaded_model import LoadedModel

logger = logging.getLogger(__name__)

ALIAS_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}
# A service must fail over to its cache in seconds, not after MLflow's default back-off (7
# retries, about four minutes, each call up to 120 s). Operators may set their own.
REGISTRY_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def apply_registry_http_defaults(environ=os.environ) -> dict[str, str]:
    """Set MLflow's HTTP retry and timeout variables for serving where the operator has not."""
    for name, value in REGISTRY_HTTP_DEFAULTS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in REGISTRY_HTTP_DEFAULTS}


def normalise_ref(ref: str | int) -> str | None:
    """A version number as its decimal string, or an alias name; None if it can be neither."""
    text = str(ref).strip()
    if text.isdigit():
        return str(int(text)) if int(text) > 0 else None
    return text if ALIAS_PATTERN.match(text) else None


class ModelStore:
    """Resolve ``champion``, ``challenger`` or a version number to a ``LoadedModel``.

    Thread-safe: concurrent requests for a version not yet loaded wait for one download.
    """

    def __init__(
        self,
        tracking_uri: str,
        model_name: str = "ptb",
        *,
        cache_dir: str | Path | None = None,
        alias_ttl_seconds: float = 60.0,
        offline_seconds: float = 15.0,
    ):
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.cache_dir = Path(cache_dir) / model_name if cache_dir is not None else None
        self._bundle_cache = BundleCache(self.cache_dir) if self.cache_dir is not None else None
        self.alias_ttl_seconds = alias_ttl_seconds
        self.offline_seconds = offline_seconds
        self._offline_until = 0.0
        self._offline_reason: str | None = None
        self._client: MlflowClient | None = None
        self._models: dict[str, LoadedModel] = {}
        self._aliases: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._version_locks: dict[str, threading.Lock] = {}

    # -- public -------------------------------------------------------------------------------

    def get(self, ref: str | int, *, refresh: bool = False) -> LoadedModel:
        """The model for an alias or version; ``ModelNotFoundError`` lists existing versions.

        ``refresh`` asks the registry where an alias points now, whatever the TTL (a reload).
        """
        name = normalise_ref(ref)
        if name is None:
            raise ModelNotFoundError(str(ref), self.versions())
        ref = name
        alias = None if ref.isdigit() else ref
        try:
            version = ref if alias is None else self._alias_version(ref, refresh=refresh)
        except ModelNotFoundError:
            # Not an alias: perhaps a model's name (model0_2023), its newest registered version.
            named = self.newest_version_named(ref)
            if named is None:
                raise
            version = named
        model = self._load_version(version, refresh=refresh)
        return model if alias is None else replace(model, alias=alias)

    def newest_version_named(self, name: str) -> str | None:
        """The newest version trained as the named model (its ``ptb_model`` tag), if any."""
        versions = [int(version) for version, model in self.registered_models() if model == name]
        return str(max(versions)) if versions else None

    def registered_models(self) -> list[tuple[str, str]]:
        """Every registered version with the model it was trained as, newest first.

        Empty while the registry is offline (only versions and aliases resolve then).
        """
        if self._offline():
            return []
        try:
            found = self.client.search_model_versions(f"name='{self.model_name}'")
        except Exception as exc:  # noqa: BLE001 - an unreachable registry lists nothing
            logger.warning("registered versions unavailable: %s", exc)
            return []
        rows = [(str(v.version), (v.tags or {}).get(MODEL_TAG, "")) for v in found]
        return sorted(rows, key=lambda row: -int(row[0]))

    def resolve(self, ref: str | int) -> str:
        """The version an alias points to now according to the registry (a number as is)."""
        name = normalise_ref(ref)
        if name is None:
            raise ModelNotFoundError(str(ref), self.versions())
        return name if name.isdigit() else self._alias_version(name, refresh=True)

    def version_tags(self, version: str) -> dict[str, str]:
        """The version's tags as the registry holds them now (gate records change after a
        version is loaded); ``RegistryUnavailableError`` if it cannot be asked."""
        try:
            found = self.client.get_model_version(self.model_name, version)
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND:
                raise ModelNotFoundError(version, self.versions()) from exc
            raise self._unavailable(f"the tags of version {version}", exc) from exc
        except Exception as exc:  # noqa: BLE001 - the store itself is unreachable
            raise self._unavailable(f"the tags of version {version}", exc) from exc
        return dict(found.tags or {})

    def verify_cached(self, version: str) -> str | None:
        """Read the disk copy of a version again against its checksums; ``BundleError`` if bad.

        Returns what was checked, or None without a disk copy.
        """
        return None if self._bundle_cache is None else self._bundle_cache.verify(version)

    def cached(self, ref: str | int | None) -> LoadedModel | None:
        """A version already in memory, or an alias resolved within its TTL; no I/O."""
        text = None if ref is None else normalise_ref(ref)
        if text is None:
            return None
        if text.isdigit():
            return self._models.get(text)
        entry = self._aliases.get(text)
        if entry is None or time.monotonic() - entry[1] > self.alias_ttl_seconds:
            return None
        model = self._models.get(entry[0])
        return None if model is None else replace(model, alias=text)

    def versions(self) -> list[str]:
        """Registered version numbers in ascending order (cached ones when offline)."""
        if not self._offline():
            try:
                found = self.client.search_model_versions(f"name='{self.model_name}'")
                return sorted({str(v.version) for v in found}, key=int)
            except MlflowException as exc:
                if exc.error_code not in _NOT_FOUND:
                    self._went_offline(exc)
            except Exception as exc:  # noqa: BLE001 - offline: what the caches know
                self._went_offline(exc)
        known = set(self._models)
        if self._bundle_cache is not None:
            known |= self._bundle_cache.versions()
        return sorted(known, key=int)

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._client

    # -- resolution ---------------------------------------------------------------------------

    def _alias_version(self, alias: str, *, refresh: bool = False) -> str:
        entry = self._aliases.get(alias)
        if entry is not None and not refresh:
            version, resolved_at = entry
            if time.monotonic() - resolved_at <= self.alias_ttl_seconds:
                return version
        if self._offline() and not refresh:
            return self._offline_alias(alias, None)
        try:
            version = self.client.get_model_version_by_alias(self.model_name, alias).version
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND:
                raise ModelNotFoundError(alias, self.versions()) from exc
            self._went_offline(exc)
            if refresh:
                raise self._unavailable(f"{alias!r} cannot be resolved", exc) from exc
            version = self._offline_alias(alias, exc)
        except Exception as exc:  # noqa: BLE001 - the store itself is unreachable
            self._went_offline(exc)
            if refresh:
                raise self._unavailable(f"{alias!r} cannot be resolved", exc) from exc
            version = self._offline_alias(alias, exc)
        else:
            self._back_online()
            if self._bundle_cache is not None:
                self._bundle_cache.remember(aliases={alias: str(version)})
        self._aliases[alias] = (str(version), time.monotonic())
        return str(version)

    def _offline_alias(self, alias: str, exc: Exception | None) -> str:
        """Where an alias pointed last: in memory (even past its TTL), else on disk."""
        entry = self._aliases.get(alias)
        version = entry[0] if entry is not None else None
        if version is None and self._bundle_cache is not None:
            version = self._bundle_cache.alias_version(alias)
        if version is None:
            raise self._unavailable(f"no cached {alias!r}", exc)
        if exc is not None:
            logger.warning(
                "registry unreachable (%s); %r is cached version %s", exc, alias, version
            )
        return version

    # -- the registry's health ----------------------------------------------------------------

    def _offline(self) -> bool:
        return time.monotonic() < self._offline_until

    def _went_offline(self, exc: Exception) -> None:
        if not self._offline():
            logger.warning(
                "model registry %s unreachable; answering from the cache for %g s: %s",
                self.tracking_uri,
                self.offline_seconds,
                exc,
            )
        self._offline_reason = f"{type(exc).__name__}: {exc}"
        self._offline_until = time.monotonic() + self.offline_seconds

    def _back_online(self) -> None:
        self._offline_until, self._offline_reason = 0.0, None

    def _unavailable(self, what: str, exc: Exception | None) -> RegistryUnavailableError:
        cause = exc if exc is not None else self._offline_reason
        return RegistryUnavailableError(
            f"model registry {self.tracking_uri} unreachable and {what}: {cause}"
        )

    def _load_version(self, version: str, *, refresh: bool = False) -> LoadedModel:
        model = self._models.get(version)
        if model is not None:
            return model
        with self._lock:
            lock = self._version_locks.setdefault(version, threading.Lock())
        with lock:
            model = self._models.get(version)
            if model is None:
                model = self._fetch(version, refresh=refresh)
                self._models[version] = model
        return model

    def _fetch(self, version: str, *, refresh: bool = False) -> LoadedModel:
        if self._offline() and not refresh:
            return self._from_cache(version, None)
        try:
            found = self.client.get_model_version(self.model_name, version)
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND:
                raise ModelNotFoundError(version, self.versions()) from exc
            self._went_offline(exc)
            return self._from_cache(version, exc)
        except Exception as exc:  # noqa: BLE001 - the store itself is unreachable
            self._went_offline(exc)
            return self._from_cache(version, exc)
        self._back_online()
        run_id = str(found.run_id)
        cache = self._bundle_cache
        bundle = cache.bundle(version, run_id) if cache is not None else None
        if bundle is None:
            bundle = self._download(version, run_id)
        if cache is not None:
            cache.remember(versions={version: {"run_id": run_id, "name": bundle.name}})
        return LoadedModel.build(bundle, version, run_id)

    def _download(self, version: str, run_id: str) -> ModelBundle:
        with tempfile.TemporaryDirectory(prefix="ptb-bundle-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=BUNDLE_ARTIFACT,
                dst_path=tmp,
                tracking_uri=self.tracking_uri,
            )
            bundle = ModelBundle.load(local)
            if self._bundle_cache is not None:
                self._bundle_cache.keep(local, version, run_id)
        logger.info("loaded model version %s (run %s) from the registry", version, run_id)
        return bundle

    def _from_cache(self, version: str, exc: Exception | None) -> LoadedModel:
        """A version from the disk copy while the registry cannot be asked; else why not."""
        cache = self._bundle_cache
        run_id = cache.run_id(version) if cache is not None else None
        bundle = cache.bundle(version) if cache is not None and run_id else None
        if bundle is None or run_id is None:
            refused = cache.refusal(version) if cache is not None else None
            what = (
                f"the cached copy of version {version} was refused: {refused}"
                if refused
                else f"version {version} is not cached"
            )
            raise self._unavailable(what, exc) from exc
        logger.warning(
            "registry unreachable (%s); serving cached version %s",
            exc or self._offline_reason,
            version,
        )
        return LoadedModel.build(bundle, version, run_id)
