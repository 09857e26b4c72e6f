"""``ptb serve`` as a real process on 127.0.0.1, for the tests that price another geography."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.serving.test_server_process import free_port


@contextmanager
def ptb_serve(root: Path, *args: str) -> Iterator[httpx.Client]:
    """``ptb serve ARGS`` in ``root`` (its MLflow store) until the block ends; a client on it."""
    port = free_port()
    log = root / f"serve-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PTB_", "MLFLOW_"))}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{root}/mlruns/mlflow.db",
        PTB_MODEL_CACHE_DIR=str(root / "mlruns" / "serving-cache"),
        PTB_AUDIT_LOG=str(root / "audit.jsonl"),
    )
    command = [sys.executable, "-m", "ptb", "serve", *args, "--port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise AssertionError(f"ptb serve exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"ptb serve never became ready: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
