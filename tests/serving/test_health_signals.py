"""Health signals that tell the truth, on a real ``ptb serve --workers 2`` run as production
runs it (keys, audit log and audit key): a keys file that cannot be re-read, an audit log that
cannot be written and a model cache that cannot be written each make ``/readyz`` fail and raise
``ptb_readiness_problem``; every worker's process metrics are scraped; ``/docs`` is counted by
its template; every line the service logs is JSON with its pid and worker.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from features.contract import write_dataset
from tests.serving.conftest import keys_for_roles, person_body
from tests.serving.test_server_process import running_service

pytestmark = pytest.mark.slow


def ptb(*args: str) -> str:
    done = subprocess.run(
        [str(Path(shutil.which("ptb") or "ptb")), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def samples(url: str, name: str) -> list:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def readiness_until(url: str, code: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{url}/readyz", timeout=10)
        if answer.status_code == code:
            return answer.json()
        assert time.monotonic() < deadline, f"/readyz stayed {answer.status_code}: {answer.text}"
        time.sleep(0.2)


def flags_until(url: str, check: str, value: float, timeout: float = 20) -> dict[str, float]:
    """The readiness-problem gauges once ``check`` shows ``value``: each worker sets its own
    gauge when it next checks, so the worker answering /metrics may lag a moment."""
    deadline = time.monotonic() + timeout
    while True:
        flagged = {s.labels["check"]: s.value for s in samples(url, "ptb_readiness_problem")}
        if flagged.get(check) == value:
            return flagged
        assert time.monotonic() < deadline, f"ptb_readiness_problem: {flagged}"
        time.sleep(0.2)


@pytest.fixture
def production(tmp_path: Path, registry, tiny_dataset):
    from serving.access.audit import write_request_key

    keys_file = tmp_path / "etc" / "keys.json"
    payment = keys_for_roles(keys_file, ("payment", "admin"))["payment"]
    write_request_key(tmp_path / "etc" / "audit.key")
    settings = {
        "PTB_ENVIRONMENT": "production",
        "PTB_API_KEYS_FILE": str(keys_file),
        "PTB_AUDIT_KEY_FILE": str(tmp_path / "etc" / "audit.key"),
        "PTB_AUDIT_LOG": str(tmp_path / "audit" / "audit.jsonl"),
    }
    data_dir = write_dataset(tiny_dataset, tmp_path / "snapshot")
    return settings, data_dir, {"Authorization": f"Bearer {payment}"}, keys_file


def test_unreadable_keys_file_and_unwritable_audit_log_fail_readiness(
    production, registry, tiny_dataset, tmp_path
):
    settings, data_dir, payment, keys_file = production
    cache = tmp_path / "cache"
    with running_service(registry.tracking_uri, data_dir, cache, 2, settings) as url:
        ready = readiness_until(url, 200)
        assert ready["status"] == "ready" and len(ready["workers"]) == 2
        assert all(not w["problems"] for w in ready["workers"])

        good = keys_file.read_bytes()
        keys_file.write_text('{"keys": [')  # a half-written file: the old keys stay in force
        failing = readiness_until(url, 503)
        assert failing["status"] == "degraded"
        assert any(p.startswith("keys_file: keys file not reloaded") for p in failing["problems"])
        flagged = flags_until(url, "keys_file", 1.0)
        assert flagged["audit_log"] == 0.0
        keys_file.write_bytes(good)
        readiness_until(url, 200)

        # The audit log's directory replaced by a file: no record can be written.
        audit_dir = Path(settings["PTB_AUDIT_LOG"]).parent
        shutil.rmtree(audit_dir)
        audit_dir.write_text("not a directory")
        # Whether the request that meets the broken log is answered is the audit trail's rule;
        # from then on /readyz and the metric say so, and requests are refused.
        httpx.post(f"{url}/v1/grants/person", json=person_body(tiny_dataset, 1), headers=payment)
        failing = readiness_until(url, 503)
        assert any(p.startswith("audit_log:") for p in failing["problems"])
        flags_until(url, "audit_log", 1.0)
        audit_dir.unlink()
        audit_dir.mkdir()
        deadline = time.monotonic() + 20
        while True:  # each worker answers again once it has written a record
            answered = httpx.post(
                f"{url}/v1/grants/person", json=person_body(tiny_dataset, 1), headers=payment
            )
            if answered.status_code == 200 and readiness_until(url, 200):
                break
            assert time.monotonic() < deadline, answered.text
            time.sleep(0.2)
        readiness_until(url, 200)

        # Every worker's process figures, each with its pid; /docs by its template.
        pids = {w["pid"] for w in ready["workers"]}
        memory = samples(url, "process_resident_memory_bytes")
        assert {int(s.labels["pid"]) for s in memory} >= pids
        assert all(s.value > 10_000_000 for s in memory)
        assert samples(url, "python_info")
        httpx.get(f"{url}/docs")
        routes = {s.labels["route"] for s in samples(url, "ptb_http_requests_total")}
        assert "/docs" in routes
    log = (cache.parent / next(p.name for p in cache.parent.glob("uvicorn-*.log"))).read_text()
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)  # every line the service wrote is JSON
        assert isinstance(entry["pid"], int) and "worker" in entry
    assert {json.loads(line)["worker"] for line in lines} >= {0, 1}


def test_an_unwritable_model_cache_fails_readiness(registry, tiny_dataset, tmp_path):
    data_dir = write_dataset(tiny_dataset, tmp_path / "snapshot")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cache = blocker / "cache"
    with running_service(
        registry.tracking_uri, data_dir, cache, 2, ready=False, folder=tmp_path
    ) as url:
        failing = readiness_until(url, 503)
        assert any(p.startswith("model_cache:") for p in failing["problems"])
        flags_until(url, "model_cache", 1.0)
