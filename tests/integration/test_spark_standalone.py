"""``ptb build --engine spark`` on a standalone Spark cluster started from pyspark's scripts.

A master and one worker are started with pyspark's own ``bin/spark-class`` (the scripts that
ship with PySpark), the build runs against ``spark://127.0.0.1:PORT`` through the real ``ptb``
command, and both are stopped again by their process ids.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.extracts.build import build_dataset
from tests.features.extracts import scenario
from tests.ptb.test_cli import run_ptb

pytestmark = [pytest.mark.spark, pytest.mark.slow]
START_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _alive_workers(web_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except OSError:
        return 0


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def spark_master(tmp_path_factory) -> Iterator[str]:
    """A standalone master and one worker on this machine; the master's URL."""
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, web_port, worker_web_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "SPARK_LOG_DIR": str(logs), "SPARK_WORKER_DIR": str(logs / "work")}
    master_log = (logs / "master.log").open("w")
    master = subprocess.Popen(
        [
            str(_spark_class()),
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(web_port),
        ],
        stdout=master_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"spark://127.0.0.1:{port}"
    worker_log = (logs / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            str(_spark_class()),
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--host",
            "127.0.0.1",
            "--cores",
            "2",
            "--memory",
            "2g",
            "--webui-port",
            str(worker_web_port),
        ],
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _alive_workers(web_port) < 1:
            if (
                time.monotonic() > deadline
                or master.poll() is not None
                or worker.poll() is not None
            ):
                raise RuntimeError(
                    "the standalone Spark cluster did not start:\n"
                    + (logs / "master.log").read_text()[-2000:]
                    + (logs / "worker.log").read_text()[-2000:]
                )
            time.sleep(1)
        yield url
    finally:
        _stop(worker)
        _stop(master)
        master_log.close()
        worker_log.close()


def test_build_on_a_standalone_cluster_equals_duckdb(spark_master, tmp_path):
    scenario.write(scenario.tables(), tmp_path / "extracts")
    result = run_ptb(
        "build",
        "--extracts",
        "extracts",
        "--year",
        str(scenario.YEAR),
        "--out",
        "data",
        "--engine",
        "spark",
        "--master",
        spark_master,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    expected = build_dataset(tmp_path / "extracts", scenario.YEAR)
    persons = pd.read_parquet(tmp_path / "data" / "persons.parquet")
    pd.testing.assert_frame_equal(
        persons, expected.dataset.persons.astype(persons.dtypes.to_dict()), check_exact=True
    )
    lineage = json.loads((tmp_path / "data" / "build.json").read_text())
    assert lineage["engine"] == "spark"
    assert lineage["fingerprint"] == expected.lineage.fingerprint
