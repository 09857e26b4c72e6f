"""The real service under uvicorn in production mode (keys, keyed audit log), for the tests
whose behaviour depends on a real server: body limits, the order of the key check, the audit
record before the answer, memory while hostile bodies are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from features import Dataset, write_dataset
from serving.access.audit import write_request_key
from tests.processes import free_port, wait_until_ready
from tests.serving.conftest import keys_for_roles

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProductionService:
    """Where the service listens, its process, its keys per role and its audit log."""

    url: str
    port: int
    pid: int
    keys: dict[str, str]
    audit_log: Path
    log: Path

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def rss_mb(self) -> float:
        """The process's resident memory now (VmRSS), MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


@contextmanager
def production_service(
    tracking_uri: str, dataset: Dataset, work: Path, **settings: str
) -> Iterator[ProductionService]:
    """``uvicorn serving.worker:create_app_from_env --factory`` with PTB_ENVIRONMENT=production."""
    data_dir = write_dataset(dataset, work / "snapshot")
    keys_file = work / "keys.json"
    keys = keys_for_roles(keys_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PTB_"))}
    env.update(
        PTB_TRACKING_URI=tracking_uri,
        PTB_DATA_DIR=str(data_dir),
        PTB_MODEL_CACHE_DIR=str(work / "cache"),
        PTB_ENVIRONMENT="production",
        PTB_API_KEYS_FILE=str(keys_file),
        PTB_AUDIT_LOG=str(work / "audit" / "audit.jsonl"),
        PTB_AUDIT_KEY_FILE=str(write_request_key(work / "audit.key")),
        PYTHONPATH=str(ROOT),
        **settings,
    )
    port = free_port()
    log = work / "service.log"
    command = [sys.executable, "-m", "uvicorn", "serving.worker:create_app_from_env", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            url, alive=lambda: process.poll() is None, why_not=lambda: log.read_text()[-3000:]
        )
        yield ProductionService(url, port, process.pid, keys, work / "audit" / "audit.jsonl", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
