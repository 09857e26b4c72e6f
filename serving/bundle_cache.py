"""The model store's copy on disk: verified bundles and the index of what the registry said last.

A restart while the registry is down serves from here, so nothing is served that has not passed
the bundle's own SHA-256 checksums. Under the cache folder: ``v<version>/`` per version, written
whole or not at all; ``index.json`` with each version's run and model name and the version each
alias pointed to last. A copy that fails its checksums is moved aside (``.v<version>.corrupt-*``)
for inspection and never served; the refusal is remembered so the store's error can say why.
A cache that cannot be written is logged, never fatal: the model serves all the same and
``/readyz`` names the folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from pathlib import Path

from features import BundleError, ModelBundle

logger = logging.getLogger(__name__)

CACHE_INDEX = "index.json"


class BundleCache:
    """Verified model bundles under ``directory``, one folder per version, and their index.

    Thread-safe: the index is rewritten whole under a lock.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._refused: dict[str, str] = {}  # version -> why its copy was refused

    # -- the index ----------------------------------------------------------------------------

    def versions(self) -> set[str]:
        """The versions the index knows (their copies may since have been refused)."""
        return set(self._read_index().get("versions", {}))

    def run_id(self, version: str) -> str | None:
        """The run a cached version came from, per the index; None if it is not indexed."""
        entry = self._read_index().get("versions", {}).get(version)
        return None if entry is None else entry.get("run_id")

    def alias_version(self, alias: str) -> str | None:
        """The version an alias pointed to when the registry last answered, if known."""
        return self._read_index().get("aliases", {}).get(alias)

    def remember(self, *, aliases: dict | None = None, versions: dict | None = None) -> None:
        """Add to the index what the registry just said: alias -> version, version -> run."""
        with self._lock:
            index = self._read_index()
            index.setdefault("aliases", {}).update(aliases or {})
            index.setdefault("versions", {}).update(versions or {})
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                staging = self.directory / f".{CACHE_INDEX}.partial"
                staging.write_text(json.dumps(index, indent=2, sort_keys=True))
                staging.replace(self.directory / CACHE_INDEX)
            except OSError as exc:  # serve all the same; /readyz names the cache
                logger.error("model cache %s not written: %s", self.directory, exc)

    def _read_index(self) -> dict:
        try:
            return json.loads((self.directory / CACHE_INDEX).read_text())
        except (OSError, ValueError):
            return {}

    # -- the bundles --------------------------------------------------------------------------

    def keep(self, local: str | Path, version: str, run_id: str) -> None:
        """Copy a downloaded bundle in as ``v<version>``, whole or not at all."""
        try:
            target = self.directory / f"v{version}"
            staging = self.directory / f".v{version}.{run_id}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(local, staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        except OSError as exc:  # serve all the same; /readyz names the cache
            logger.error("model cache %s not written: %s", self.directory, exc)

    def bundle(self, version: str, run_id: str | None = None) -> ModelBundle | None:
        """The indexed copy of a version, verified; None if absent, of another run, or refused."""
        entry = self._read_index().get("versions", {}).get(version)
        directory = self.directory / f"v{version}"
        if entry is None or not directory.is_dir():
            return None
        if run_id is not None and entry.get("run_id") != run_id:
            return None
        try:
            bundle = ModelBundle.load(directory)
        except BundleError as exc:
            self._quarantine(version, exc)
            return None
        self._refused.pop(version, None)
        return bundle

    def verify(self, version: str) -> str | None:
        """Read the copy of a version again against its checksums; ``BundleError`` if bad.

        Returns what was checked, or None without a copy.
        """
        directory = self.directory / f"v{version}"
        if not directory.is_dir():
            return None
        try:
            ModelBundle.load(directory)
        except BundleError as exc:
            self._quarantine(version, exc)
            raise
        return f"cached copy {directory} re-verified"

    def refusal(self, version: str) -> str | None:
        """Why the copy of a version was refused, while no good copy has been read since."""
        return self._refused.get(version)

    def _quarantine(self, version: str, exc: BundleError) -> None:
        """Move a copy that failed its checksums aside, for inspection; never serve it."""
        directory = self.directory / f"v{version}"
        target = self.directory / f".v{version}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        logger.error(
            "cached copy of model version %s refused and moved to %s: %s", version, target, exc
        )
        try:
            directory.rename(target)
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
        self._refused[version] = str(exc)
