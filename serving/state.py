"""The serving state's life cycle: joining the instance's workers (``serving.instance``), start-up
(snapshot or reference release, default model, its snapshot grants), retries while the registry
is down, the switch a reload makes, and leaving at shutdown.

The serving model changes only by ``ServingState.switch`` (a reload): one assignment, so a
request sees the old model or the new one, never a mix.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from features import RegistryUnavailableError, Release, ServiceNotReadyError
from serving.instance import InstanceModel
from serving.loaded_model import LoadedModel
from serving.model_store import ModelStore
from serving.pricing import Pricing
from serving.snapshot import Snapshot

logger = logging.getLogger(__name__)


def aliased(model: LoadedModel, ref: str) -> LoadedModel:
    """``model`` as asked for by ``ref``: an alias is kept on it, a version number is not."""
    return model if ref.isdigit() else replace(model, alias=ref)


class ServingState:
    """The store, the default model resolved at start-up, and the optional snapshot."""

    def __init__(
        self,
        store: ModelStore,
        *,
        snapshot: Snapshot | str | Path | None = None,
        default_model: str = "champion",
        freeze_gc: bool = True,
        startup_retry_seconds: float = 0.0,
        reference: Release | str | Path | None = None,
    ):
        self.store = store
        # The release to price with when there is no snapshot (a snapshot is its own release).
        self.reference_source = reference
        self.pricing: Pricing | None = None
        self.freeze_gc = freeze_gc
        self.configured_ref = str(default_model)  # what the deployment asked for
        self.default_ref = str(default_model)  # what serves now (an admin reload may pin one)
        self.snapshot_source = snapshot
        self.snapshot: Snapshot | None = snapshot if isinstance(snapshot, Snapshot) else None
        self.model: LoadedModel | None = None
        self.status: Literal["loading", "ready", "failed"] = "loading"
        self.error: str | None = None
        self.loaded = threading.Event()
        self.stopping = threading.Event()
        self.startup_retry_seconds = startup_retry_seconds
        self.reload_lock = threading.Lock()
        # Called with each model about to serve (e.g. to build its what-if engine): the
        # start-up's in a background thread once ready, a reload's before its switch.
        self.warmers: list[Callable[[LoadedModel], None]] = []
        # The instance's one model, shared with the other workers (``serving.instance``).
        self.instance: InstanceModel | None = None
        # Checks of the files a request needs (``serving.readiness``): check -> why it fails.
        self.readiness: Callable[[], dict[str, str]] = dict

    def open(self) -> None:
        """Join the instance, if this worker has one, before the start-up loads its model."""
        if self.instance is not None:
            self.instance.open()

    def stop(self) -> None:
        """At shutdown: no more start-up retries; leave the instance."""
        self.stopping.set()
        if self.instance is not None:
            self.instance.close()

    def start(self) -> None:
        """Load the snapshot, the default model and its snapshot grants; blocking.

        If the registry is unreachable and no cached copy exists, retry every
        ``startup_retry_seconds`` (when positive) in a background thread until it works;
        ``/readyz`` reports the reason meanwhile.
        """
        self._start_once()
        if self.status == "failed" and self._retryable and self.startup_retry_seconds > 0:
            threading.Thread(target=self._retry_start, name="ptb-model-retry", daemon=True).start()

    def _start_once(self) -> None:
        self._retryable = False
        try:
            source = self.snapshot_source
            if self.snapshot is None and source is not None and not isinstance(source, Snapshot):
                logger.info("loading registry snapshot %s", source)
                self.snapshot = Snapshot.load(source)
            if self.pricing is None:
                self.pricing = self._pricing()
            # A worker (re)started after a switch serves what the instance serves.
            committed = self.instance.committed_model() if self.instance is not None else None
            if committed is not None:
                self.default_ref = str(committed["ref"])
                model = aliased(self.store.get(str(committed["version"])), self.default_ref)
            else:
                model = self.store.get(self.default_ref)
            if self.snapshot is not None:
                self.snapshot.grants(model.version, self.pricing.scorer(model))
            self.model = model
            if self.freeze_gc:
                # What is loaded now lives as long as the process: keep it out of the cyclic
                # garbage collector, whose full passes over it stall requests by ~100 ms.
                gc.collect()
                gc.freeze()
            self.status, self.error = "ready", None
            logger.info("serving model %s version %s", model.name, model.version)
            if self.instance is not None:
                self.instance.started(0 if committed is None else int(committed["generation"]))
            if self.warmers:
                threading.Thread(
                    target=self._warm, args=(model,), name="ptb-warm-up", daemon=True
                ).start()
        except Exception as exc:
            self._retryable = isinstance(exc, RegistryUnavailableError)
            retry = (
                f"; retrying every {self.startup_retry_seconds:g} s"
                if self._retryable and self.startup_retry_seconds > 0
                else ""
            )
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}{retry}"
            logger.exception("start-up failed")
        finally:
            self.loaded.set()

    def _pricing(self) -> Pricing:
        """The snapshot's own release, else the configured (or shipped) named release."""
        if self.snapshot is not None:
            return Pricing(self.snapshot.release, self.snapshot)
        source = self.reference_source
        release = source if isinstance(source, Release) else Release.named(source)
        logger.info("pricing with reference release %s (%s)", release.name, release.period)
        return Pricing(release)

    def priced(self) -> Pricing:
        """The pricing in use; only once the service is ready."""
        if self.pricing is None:
            raise ServiceNotReadyError(self._not_ready_message())
        return self.pricing

    def _warm(self, model: LoadedModel) -> None:
        """Run the warmers for the start-up's model; a failure is logged, the next use retries."""
        for warm in self.warmers:
            try:
                warm(model)
            except Exception:  # noqa: BLE001 - the first request that needs it reports the error
                logger.exception("warm-up of model %s failed", model.version)

    def _retry_start(self) -> None:
        while self.status == "failed" and not self.stopping.wait(self.startup_retry_seconds):
            self._start_once()

    def switch(self, model: LoadedModel, *, default_ref: str) -> LoadedModel | None:
        """Serve ``model`` from the next request on; returns the model it replaces."""
        previous, self.model = self.model, model
        self.default_ref = default_ref
        self.status, self.error = "ready", None
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        logger.warning(
            "serving model %s version %s (was %s)",
            model.name,
            model.version,
            None if previous is None else previous.version,
        )
        return previous

    def cached_model(self, ref: str | int | None) -> LoadedModel | None:
        """The default model, or a pinned one already in memory; never does I/O.

        First follows the instance: a switch another worker committed applies before this
        request chooses its model.
        """
        if self.instance is not None:
            self.instance.follow()
        if self.model is None:
            raise ServiceNotReadyError(self._not_ready_message())
        if ref is None:
            return self.model
        return self.store.cached(ref)

    def problems(self) -> list[str]:
        """Why this worker is not ready though its model may be: ``check: reason`` each."""
        return [f"{check}: {reason}" for check, reason in self.readiness().items()]

    def worker_status(self) -> dict:
        """This worker's model and readiness, as /readyz and /v1/model list every worker's."""
        problems = self.problems()
        return {
            "status": "degraded" if problems and self.status == "ready" else self.status,
            "model_version": None if self.model is None else self.model.version,
            "model_ref": self.default_ref,
            "problems": problems,
        }

    def workers(self) -> list[dict]:
        """Every worker of the instance with its model; this one alone without an instance."""
        if self.instance is not None:
            found = self.instance.workers()
            if found:
                return found
        return [{"pid": os.getpid(), "worker": None, "generation": 0, **self.worker_status()}]

    def _not_ready_message(self) -> str:
        if self.status == "failed":
            return f"the serving model failed to load: {self.error}"
        return "the serving model is still loading"
