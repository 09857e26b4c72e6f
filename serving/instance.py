"""One model for the whole instance: the workers of one ``ptb serve --workers N`` switch together.

Each worker is a process with its own copy of the model, so a reload answered by one worker
must reach the others, and no request may be priced by the new version while another worker
still prices with the old. The workers share an instance directory (``PTB_INSTANCE_DIR``, one
per instance, made by ``ptb serve``):

- ``committed.json``: the instance's model (generation, ref, version), written whole;
- ``generation``: the committed generation as 8 bytes, mapped into every worker's memory. Each
  request compares it with its worker's own before choosing a model (a memory read), so from
  the instant a switch commits, every new request on every worker gets the new version;
- ``pending.json``: a switch being prepared; ``acks/<generation>.<pid>``: each worker's answer;
- ``workers/<pid>.json``: each worker's number, version and readiness, for ``/readyz`` and
  ``/v1/model``; ``slots/<n>.lock``: the worker number a process holds (``flock``);
- ``reload.lock``: held by the one worker coordinating a switch.

A switch has two phases. The coordinator (the worker answering ``POST /v1/admin/reload``, or the
first whose watcher sees the alias move) has loaded and checked the version; it writes a
prepare, and every other live worker loads and checks the same version beside its serving one
and acknowledges. Only when all have, within ``prepare_seconds``, does it commit. A worker that
refuses or does not answer in time aborts the switch: nothing changes anywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from features.errors import ReloadInProgressError, ReloadRefused
from serving.loaded_model import LoadedModel
from serving.observability import WORKER

logger = logging.getLogger(__name__)

GENERATION = struct.Struct("<Q")
MAX_WORKERS = 64
POLL_SECONDS = 0.05
STATUS_SECONDS = 1.0


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Whole or not at all: a reader sees the old document or the new one."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.partial")
    staging.write_text(json.dumps(document, sort_keys=True))
    staging.replace(path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class InstanceModel:
    """This worker's part in the instance's one model (see the module docstring).

    ``prepare(model, ref)`` is what a worker does on a prepare: load and check the version beside
    the serving one (``serving.reload``); ``switch(model, ref)`` makes it serve.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        prepare: Callable[[str, str], LoadedModel],
        switch: Callable[[LoadedModel, str], object],
        status: Callable[[], dict[str, Any]],
        prepare_seconds: float = 120.0,
        expected_workers: int = 0,
    ):
        self.directory = Path(directory)
        self.expected_workers = expected_workers
        self._prepare = prepare
        self._switch = switch
        self._status = status
        self.prepare_seconds = prepare_seconds
        self.pid = os.getpid()
        self.worker: int | None = None
        self.generation = 0
        self._prepared: dict[int, LoadedModel] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._slot: Any = None
        self._map: mmap.mmap | None = None
        self._status_at = 0.0

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Join the instance: a worker number, the shared generation, this worker's status."""
        for sub in ("acks", "workers", "slots"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        for number in range(MAX_WORKERS):
            handle = (self.directory / "slots" / f"{number}.lock").open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._slot, self.worker = handle, number
            WORKER.number = number
            break
        fd = os.open(self.directory / "generation", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            if os.fstat(fd).st_size < GENERATION.size:
                os.ftruncate(fd, GENERATION.size)  # zeros: generation 0, the start-up model
            self._map = mmap.mmap(fd, GENERATION.size)
        finally:
            os.close(fd)

    def committed_model(self) -> dict[str, Any] | None:
        """What the instance serves now (a worker starting late loads this, not the alias)."""
        found = _read_json(self.directory / "committed.json")
        return found if found and found.get("generation") == self.committed() else None

    def started(self, generation: int) -> None:
        """This worker serves the model of ``generation``; follow the instance from here on."""
        self.generation = generation
        self.publish()
        self._thread = threading.Thread(target=self._run, name="ptb-instance", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            (self.directory / "workers" / f"{self.pid}.json").unlink()
        if self._slot is not None:
            self._slot.close()

    # -- every request --------------------------------------------------------------------------

    def committed(self) -> int:
        return 0 if self._map is None else GENERATION.unpack_from(self._map, 0)[0]

    def follow(self) -> None:
        """Before a request chooses its model: switch if the instance committed a newer one."""
        if self.committed() != self.generation:
            self._follow()

    def _follow(self) -> None:
        with self._lock:
            generation = self.committed()
            if generation == self.generation:
                return
            found = _read_json(self.directory / "committed.json")
            if not found or found.get("generation") != generation:
                return  # the commit's document is written before its number: not yet ours
            model = self._prepared.pop(generation, None)
            if model is None:  # this worker started during the prepare: load it now
                model = self._prepare(str(found["version"]), str(found["ref"]))
            self._switch(model, str(found["ref"]))
            self.generation = generation
            self._prepared.clear()
        self.publish()

    # -- coordinating a switch ----------------------------------------------------------------

    def switch_all(self, model: LoadedModel, ref: str) -> list[dict[str, Any]]:
        """Make ``model`` (already loaded and checked here) the instance's; every worker's state.

        Raises ``ReloadInProgressError`` while another worker coordinates, ``ReloadRefused``
        when a worker refused the version or did not load it in time (nothing switched).
        """
        lock = (self.directory / "reload.lock").open("a")
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ReloadInProgressError(ref) from None
            self.follow()
            pending = _read_json(self.directory / "pending.json") or {}
            generation = max(self.committed(), int(pending.get("generation", 0))) + 1
            document = {"generation": generation, "ref": ref, "version": model.version}
            _write_json(self.directory / "pending.json", {**document, "by": self.pid})
            try:
                self._await_acks(generation, ref, model.version)
            except ReloadRefused:
                _write_json(self.directory / "pending.json", {**document, "aborted": True})
                raise
            with self._lock:
                self._prepared[generation] = model
                _write_json(self.directory / "committed.json", {**document, "time": time.time()})
                assert self._map is not None
                GENERATION.pack_into(self._map, 0, generation)  # the switch, for every worker
                self._map.flush()
            self.follow()
            logger.warning(
                "instance switched to version %s (generation %d)", model.version, generation
            )
            return self._settled(generation)
        finally:
            lock.close()

    def _settled(self, generation: int, seconds: float = 10.0) -> list[dict[str, Any]]:
        """Every worker's state once each has published the switch (its requests follow it
        already: this waits only for what /readyz shows), or as it stands after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            workers = self.workers()
            if all(w.get("generation") == generation for w in workers):
                return workers
            if time.monotonic() > deadline:
                return workers
            time.sleep(POLL_SECONDS)

    def _await_acks(self, generation: int, ref: str, version: str) -> None:
        deadline = time.monotonic() + self.prepare_seconds
        while True:
            waiting = []
            for worker in self.workers():
                pid = worker["pid"]
                if pid == self.pid:
                    continue
                answer = self.directory / "acks" / f"{generation}.{pid}"
                try:
                    said = answer.read_text()
                except FileNotFoundError:
                    waiting.append(pid)
                    continue
                if said != "ok":
                    raise ReloadRefused(ref, f"worker {worker.get('worker')} (pid {pid}): {said}")
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise ReloadRefused(
                    ref,
                    f"version {version}: workers with pids {waiting} did not load it within "
                    f"{self.prepare_seconds:g} s",
                )
            time.sleep(POLL_SECONDS)

    # -- what every worker does meanwhile -------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.follow()
                self._answer_prepare()
                if time.monotonic() - self._status_at > STATUS_SECONDS:
                    self.publish()
            except Exception:  # noqa: BLE001 - keep following; the next poll tries again
                logger.exception("instance sync failed")

    def _answer_prepare(self) -> None:
        pending = _read_json(self.directory / "pending.json")
        if not pending or pending.get("aborted") or pending.get("by") == self.pid:
            return
        generation = int(pending["generation"])
        answer = self.directory / "acks" / f"{generation}.{self.pid}"
        if generation <= self.generation or answer.exists():
            return
        try:
            model = self._prepare(str(pending["version"]), str(pending["ref"]))
        except Exception as exc:  # noqa: BLE001 - the refusal is the answer
            said = f"{type(exc).__name__}: {exc}"
        else:
            with self._lock:
                self._prepared[generation] = model
            said = "ok"
        staging = answer.with_name(f".{answer.name}.partial")
        staging.write_text(said)
        staging.replace(answer)

    # -- what /readyz and /v1/model show ------------------------------------------------------

    def publish(self) -> None:
        """Write this worker's state for the other workers' /readyz and /v1/model."""
        self._status_at = time.monotonic()
        state = {"pid": self.pid, "worker": self.worker, "generation": self.generation}
        with contextlib.suppress(OSError):
            _write_json(self.directory / "workers" / f"{self.pid}.json", state | self._status())

    def unready_workers(self) -> list[str]:
        """Why the instance as a whole cannot answer yet: a worker still loading or failed, or
        fewer workers started than expected. A request may reach any worker, so a load balancer
        must not send any before all are ready."""
        found = self.workers()
        problems = [
            f"worker {state.get('worker')}: {state.get('status')}"
            for state in found
            if state.get("status") not in ("ready", "degraded")
        ]
        if len(found) < self.expected_workers:
            problems.append(f"workers: {len(found)} of {self.expected_workers} have started")
        return problems

    def workers(self) -> list[dict[str, Any]]:
        """Every live worker's last published state, by worker number."""
        found = []
        for path in (self.directory / "workers").glob("*.json"):
            state = _read_json(path)
            if state is None or not _alive(int(state.get("pid", 0))):
                continue
            found.append(state)
        return sorted(found, key=lambda state: (state.get("worker") is None, state.get("worker")))
