"""The registered MLflow pyfunc refuses what the API refuses, in process and behind
``mlflow models serve``, naming the column, the rule and the row."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from features.indicators import PERSON_FIELDS
from training.fit import calibrate
from training.pipeline import TrainingOptions, train_and_register

FAST = TrainingOptions(folds=2, challengers=False)

# column -> (bad value, the refusal's rule), each put in row 2 of a three-person frame
BAD_VALUES = {
    "sex X": ("sex", "X", 'not "F" or "M"'),
    "sex lower case": ("sex", "m", 'not "F" or "M"'),
    "sex empty": ("sex", "", 'not "F" or "M"'),
    "age 130": ("age", 130, "above 120"),
    "age -1": ("age", -1, "below 0"),
    "copayment negative": ("copayment_prev_year", -50.0, "below 0"),
    "copayment absurd": ("copayment_prev_year", 1e300, "above 1e\\+06"),
    "copayment as text": ("copayment_prev_year", "120", "not a finite number"),
    "grunnkrets with line break": ("grunnkrets", "0301010\n", "holds a control character"),
}


@pytest.fixture(scope="module")
def registered(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlruns")
    store = {"tracking_uri": f"sqlite:///{root}/mlflow.db", "artifact_root": str(root / "a")}
    trained = train_and_register(tiny_dataset, options=FAST, **store)
    return store["tracking_uri"], f"models:/ptb/{trained.versions['challenger']}"


@pytest.fixture(scope="module")
def persons(tiny_dataset) -> pd.DataFrame:
    return calibrate(tiny_dataset).persons[list(PERSON_FIELDS)].head(3).reset_index(drop=True)


@pytest.fixture(scope="module")
def model(registered):
    tracking_uri, uri = registered
    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.pyfunc.load_model(uri)


def _with(persons: pd.DataFrame, column: str, value) -> pd.DataFrame:
    changed = persons.copy()
    changed[column] = changed[column].astype(object)
    changed.loc[1, column] = value
    if column == "age":
        changed[column] = changed[column].astype("int64")
    return changed


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_in_process_a_bad_row_is_refused_naming_column_and_row(model, persons, case):
    column, value, rule = BAD_VALUES[case]
    with pytest.raises(MlflowException, match=rf"persons\.{column}: 1 row {rule}.*\(row 2\)"):
        model.predict(_with(persons, column, value))


def test_whole_number_copayments_are_priced_like_decimals(model, persons):
    whole = persons.assign(copayment_prev_year=persons["copayment_prev_year"].round().astype(int))
    as_float = whole.assign(copayment_prev_year=whole["copayment_prev_year"].astype(float))
    assert whole["copayment_prev_year"].dtype.kind == "i"
    pd.testing.assert_frame_equal(model.predict(whole), model.predict(as_float))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(registered, tmp_path_factory):
    """``mlflow models serve`` on the registered version, in this environment."""
    tracking_uri, uri = registered
    port = _free_port()
    log = Path(tmp_path_factory.mktemp("serve")) / "serve.log"
    bin_dir = Path(sys.executable).parent  # it runs `uvicorn` from PATH
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}
    mlflow_cli = bin_dir / "mlflow"
    command = [str(mlflow_cli), "models", "serve", "-m", uri, "--env-manager", "local"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                pytest.fail(f"mlflow models serve exited: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        else:
            pytest.fail(f"mlflow models serve did not start: {log.read_text()[-2000:]}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _invoke(base: str, frame: pd.DataFrame) -> httpx.Response:
    records = frame.to_dict(orient="split")
    body = {"dataframe_split": {"columns": records["columns"], "data": records["data"]}}
    return httpx.post(f"{base}/invocations", json=body, timeout=30)


@pytest.mark.parametrize("case", ["sex lower case", "age 130", "copayment negative"])
def test_behind_models_serve_a_bad_row_is_a_400_naming_column_and_row(served, persons, case):
    column, value, rule = BAD_VALUES[case]
    answer = _invoke(served, _with(persons, column, value))
    assert answer.status_code == 400, answer.text
    message = answer.json()["message"]
    assert f"persons.{column}: 1 row" in message and "(row 2)" in message, message


def test_behind_models_serve_whole_number_copayments_are_priced(served, model, persons):
    whole = persons.assign(copayment_prev_year=persons["copayment_prev_year"].round().astype(int))
    answer = _invoke(served, whole)
    assert answer.status_code == 200, answer.text
    predictions = pd.DataFrame(answer.json()["predictions"])
    expected = model.predict(whole)
    assert np.allclose(predictions["grant_nok"], expected["grant_nok"])
