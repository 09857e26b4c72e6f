"""Every command reports the product's errors the same way: one line on stderr, an exit code."""

from __future__ import annotations

import signal

import typer
from mlflow.exceptions import MlflowException
from typer.testing import CliRunner

from features import ModelNotFoundError
from ptb.errors import INTERRUPTED_EXIT, reports_errors
from training.interrupt import TrainingInterrupted


def _run(error: BaseException):
    app = typer.Typer()

    @app.command()
    @reports_errors
    def command() -> None:
        raise error

    return CliRunner().invoke(app, [])


def test_a_product_error_is_one_line_and_exit_1():
    result = _run(ModelNotFoundError("9", ["1", "2"]))
    assert result.exit_code == 1
    assert result.output.strip() == "error: model '9' not found; registered versions: 1, 2"


def test_a_failing_tracking_store_names_the_uri(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://registry.invalid:5000")
    result = _run(MlflowException("connection refused"))
    assert result.exit_code == 1
    assert "MLflow tracking store http://registry.invalid:5000 failed: connection refused" in (
        result.output
    )


def test_an_interrupted_training_exits_130_as_a_shell_expects():
    result = _run(TrainingInterrupted(signal.SIGTERM))
    assert result.exit_code == INTERRUPTED_EXIT == 130
    assert result.output.startswith("error: ")


def test_a_bug_keeps_its_traceback():
    result = _run(ValueError("a bug"))
    assert isinstance(result.exception, ValueError) and "error:" not in result.output


def test_a_plain_ctrl_c_is_left_to_the_command_line_library():
    result = _run(KeyboardInterrupt())
    assert result.exit_code == 130 and "error:" not in result.output
