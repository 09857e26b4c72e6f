"""One metrics directory and one instance directory per running instance: a second
``ptb serve`` pointed at a directory another instance holds refuses to start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from features.errors import ConfigurationError
from ptb.serve_dirs import instance_dir, shared_metrics_dir
from tests.mlflow_server import environment_without_settings

PTB = Path(sys.executable).parent / "ptb"


def test_a_held_metrics_directory_is_refused_and_emptied_when_taken(tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    with shared_metrics_dir() as held:
        assert held == folder and not (folder / "counter_123.db").exists()
        refused = pytest.raises(ConfigurationError, match="in use by another running ptb instance")
        with refused, shared_metrics_dir():
            pass
    with shared_metrics_dir():  # free again once the first instance is gone
        pass


def test_instance_directories_are_fresh_and_removed(monkeypatch):
    monkeypatch.delenv("PTB_INSTANCE_DIR", raising=False)
    with instance_dir() as first:
        assert first.is_dir() and list(first.iterdir()) == [first / ".ptb-instance.lock"]
    assert not first.exists()


@pytest.mark.parametrize("variable", ["PROMETHEUS_MULTIPROC_DIR", "PTB_INSTANCE_DIR"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ptb_serve_refuses_a_directory_another_instance_holds(
    tmp_path, monkeypatch, variable, workers
):
    folder = tmp_path / "shared"
    monkeypatch.setenv(variable, str(folder))
    if variable == "PTB_INSTANCE_DIR" and workers == "1":
        pytest.skip("one worker needs no instance directory")
    held = shared_metrics_dir if variable == "PROMETHEUS_MULTIPROC_DIR" else instance_dir
    with held():
        done = subprocess.run(
            [str(PTB), "serve", "--workers", workers, "--port", "1"],
            env=environment_without_settings(**{variable: str(folder)}),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert f"{variable}={folder} is in use by another running ptb instance (pid" in message
