"""The real service under uvicorn on 127.0.0.1: the same answers across restarts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from features.contract import write_dataset
from serving.access import audit_check
from tests.processes import free_port, wait_until_ready
from tests.serving.conftest import list_body, person_body

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_service(
    tracking_uri: str,
    data_dir: Path,
    cache_dir: Path,
    workers: int | None = None,
    settings: dict[str, str] | None = None,
    ready: bool = True,
    folder: Path | None = None,
) -> Iterator[str]:
    """``uvicorn serving.worker:create_app_from_env --factory`` until the block ends.

    With ``workers``, ``ptb serve --workers N`` instead: the product's own command. Its log
    and audit log go to ``folder`` (default: beside the cache directory).
    """
    port = free_port()
    folder = folder or cache_dir.parent
    log = folder / f"uvicorn-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PTB_"))}
    env.update(
        PTB_TRACKING_URI=tracking_uri,
        PTB_DATA_DIR=str(data_dir),
        PTB_MODEL_CACHE_DIR=str(cache_dir),
        PTB_AUDIT_LOG=str(folder / "audit.jsonl"),
    )
    env.update(settings or {})
    if workers is None:
        command = [sys.executable, "-m", "uvicorn", "serving.worker:create_app_from_env"]
        command += ["--factory", "--log-level", "warning"]
    else:
        command = [str(Path(sys.executable).parent / "ptb"), "serve", "--workers", str(workers)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            url,
            alive=lambda: process.poll() is None,
            why_not=log.read_text,
            seconds=300,  # workers start slowly on a busy shared host
            # Each worker loads the model on its own and logs when it serves it.
            also=lambda: log.read_text().count('"serving model ') >= (workers or 1),
            ready=ready,
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def answers(url: str, dataset) -> list[dict]:
    list_id = str(dataset.lists["list_id"].iloc[1])
    with httpx.Client(base_url=url, timeout=10) as client:
        found = [
            client.post("/v1/grants/person", json=person_body(dataset, row)).json()
            for row in (0, 99, 12_345)
        ]
        found.append(client.post("/v1/grants/list", json=list_body(dataset, list_id)).json())
        found.append(client.get(f"/v1/grants/lists/{list_id}").json())
        found.append({"csv": client.get("/v1/grants/lists", params={"format": "csv"}).text})
        model = client.get("/v1/model").json()
        # Worker pids differ across restarts; the versions they serve must not.
        model["workers"] = sorted({worker["model_version"] for worker in model["workers"]})
        found.append(model)
    return found


def test_identical_answers_across_restarts_even_with_the_registry_down(
    registry, tiny_dataset, tmp_path
):
    data_dir = write_dataset(tiny_dataset, tmp_path / "snapshot")
    cache_dir = tmp_path / "model-cache"
    with running_service(registry.tracking_uri, data_dir, cache_dir) as url:
        first = answers(url, tiny_dataset)
    assert first[0]["model_version"] == "1"
    with running_service(registry.tracking_uri, data_dir, cache_dir) as url:
        assert answers(url, tiny_dataset) == first
    blocker = tmp_path / "registry-down"
    blocker.write_text("")
    with running_service(f"sqlite:///{blocker / 'mlflow.db'}", data_dir, cache_dir) as url:
        assert answers(url, tiny_dataset) == first


def processes(parent: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Process ids and command lines, optionally only the children of ``parent`` (Linux)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            args = (entry / "cmdline").read_bytes().decode().split("\0")[:-1]
        except (OSError, IndexError, ValueError):
            continue
        if parent is None or ppid == parent:
            yield int(entry.name), args


def test_ptb_serve_with_two_workers_answers_alike_and_keeps_one_audit_chain(
    registry, tiny_dataset, tmp_path
):
    data_dir = write_dataset(tiny_dataset, tmp_path / "snapshot")
    cache_dir = tmp_path / "model-cache"
    with running_service(registry.tracking_uri, data_dir, cache_dir) as url:
        single = answers(url, tiny_dataset)
    audit_log = tmp_path / "audit.jsonl"
    audit_log.unlink()
    with running_service(registry.tracking_uri, data_dir, cache_dir, workers=2) as url:
        port = url.rsplit(":", 1)[1]
        supervisor = next(pid for pid, args in processes() if ["--port", port] == args[-2:])
        assert len([pid for pid, _ in processes(parent=supervisor)]) >= 2
        # A new connection per request, so both workers answer some of them.
        for _ in range(8):
            assert answers(url, tiny_dataset) == single
        # Whichever worker answers the scrape, it counts the requests of both.
        for _ in range(4):
            assert person_requests_counted(httpx.get(f"{url}/metrics").text) == 8 * 3
    summary = audit_check.verify(audit_log)
    assert summary.records == 8 * 7


def person_requests_counted(metrics_text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "ptb_http_requests_total"
        and sample.labels.get("route") == "/v1/grants/person"
    )
