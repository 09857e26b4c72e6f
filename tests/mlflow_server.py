"""Test support: a real ``mlflow server`` subprocess on loopback, and MLflow's URIs restored.

Shared by the PostgreSQL integration tests and the serving fault tests, which differ only in
the backend store they give the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mlflow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment_without_settings(**extra: str) -> dict[str, str]:
    """This process's environment without MLflow or PTB settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PTB_"))}
    return {**env, **extra}


@dataclass
class MlflowServer:
    """``mlflow server`` on ``backend_uri``, serving artifacts from a local directory.

    The port is kept across restarts, so a test can kill the server and bring it back.
    """

    backend_uri: str
    artifacts: Path
    log: Path
    env: dict[str, str] = field(default_factory=environment_without_settings)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 180) -> None:
        """Start the server and wait until ``/health`` answers."""
        command = [sys.executable, "-m", "mlflow", "server"]
        command += ["--backend-store-uri", self.backend_uri]
        command += ["--artifacts-destination", str(self.artifacts), "--serve-artifacts"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                command,
                cwd=self.log.parent,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its workers too
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server never healthy:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.25)

    def stop(self) -> None:
        """SIGKILL the server's process group, as a crash would."""
        if not self.running:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextlib.contextmanager
def mlflow_uris_restored() -> Iterator[None]:
    """Put MLflow's process-wide tracking and registry URIs back as they were after a block.

    ``mlflow.set_tracking_uri`` and ``set_registry_uri`` also export ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_REGISTRY_URI``, so left alone they would send later tests (and any ``Settings()``)
    to another test's store.
    """
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None unsets it
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
