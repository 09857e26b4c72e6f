"""The interruption guard in process: a signal that lands where Python cannot raise it is kept,
said once, and never shown as a crash."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from training.interrupt import Interruption

# Run in a plain interpreter: pytest installs an unraisable hook of its own.
SIGNAL_IN_A_FINALISER = """
import signal
from training.interrupt import Interruption, TrainingInterrupted

class SignalledWhileFinalised:
    # The signal lands in a finaliser, as it did in a weakref callback inside MLflow.
    def __del__(self):
        signal.raise_signal(signal.SIGINT)

try:
    with Interruption() as interruption:
        SignalledWhileFinalised()
        print("went on after the finaliser")
        interruption.check()
except TrainingInterrupted as interrupted:
    print("raised at the check:", interrupted)
"""


def run_plain(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a plain interpreter at the repository root."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )


def test_a_signal_inside_a_finaliser_is_raised_at_the_next_check_without_a_traceback():
    run = run_plain(SIGNAL_IN_A_FINALISER)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "went on after the finaliser",
        "raised at the check: interrupted by SIGINT; nothing was registered",
    ]
    assert "Exception ignored" not in run.stderr and "Traceback" not in run.stderr


def test_other_unraisable_errors_still_reach_the_previous_hook():
    seen = []

    class Broken:
        def __del__(self) -> None:
            raise ValueError("a finaliser's own bug")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.unraisablehook", seen.append)
        with Interruption():
            Broken()
    assert [type(u.exc_value) for u in seen] == [ValueError]


def test_the_guard_puts_back_the_hooks_it_replaced():
    before_hook = sys.unraisablehook
    before_handler = signal.getsignal(signal.SIGINT)
    with Interruption():
        pass
    assert sys.unraisablehook is before_hook
    assert signal.getsignal(signal.SIGINT) is before_handler


# MLflow logs a store error it caught with ``_logger.exception``; after a signal, such an error
# is the signal's doing (a commit cut short leaves SQLite locked for the next call).
LIBRARY_ERROR_AFTER_A_SIGNAL = """
import logging, signal
from training.interrupt import Interruption, TrainingInterrupted

logging.basicConfig()
library = logging.getLogger("mlflow.store.db.utils")
try:
    with Interruption() as interruption:
        library.error("before the signal")
        with interruption.deferred():
            signal.raise_signal(signal.SIGINT)
            try:
                raise RuntimeError("database is locked")
            except RuntimeError:
                library.exception("SQLAlchemy database error")
        interruption.check()
except TrainingInterrupted as interrupted:
    print("interrupted:", interrupted)
library.error("after the guard")
"""


def test_library_errors_after_a_signal_are_not_shown_as_tracebacks():
    run = run_plain(LIBRARY_ERROR_AFTER_A_SIGNAL)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "interrupted: interrupted by SIGINT; nothing was registered"
    assert "Traceback" not in run.stderr and "database error" not in run.stderr
    # Errors before the signal, and after the guard exited, are still logged.
    assert "before the signal" in run.stderr and "after the guard" in run.stderr


# The signal lands while a library starts its thread pool's first worker (MLflow's artifact
# pool, kept for the process): the worker exists, the pool never recorded it, and nothing tells
# it to stop, so the interpreter's shutdown would wait on it forever.
SIGNAL_WHILE_A_POOL_STARTS_ITS_WORKER = """
import signal, sys, threading
from concurrent.futures import ThreadPoolExecutor

import typer

import training.interrupt
from ptb.errors import reports_errors
from training.interrupt import Interruption

training.interrupt.SHUTDOWN_GRACE_S = 1.0
KEPT_BY_THE_LIBRARY = []
start_thread = threading.Thread.start

def start_then_signalled(thread):
    start_thread(thread)
    signal.raise_signal(signal.SIGINT)

@reports_errors
def train():
    with Interruption():
        threading.Thread.start = start_then_signalled
        pool = ThreadPoolExecutor(1, thread_name_prefix="MlflowLocalArtifactRepository")
        KEPT_BY_THE_LIBRARY.append(pool)
        pool.submit(print, "uploading")

try:
    train()
except typer.Exit as ended:
    sys.exit(ended.exit_code)
"""


def test_an_interrupted_command_ends_although_a_library_thread_was_stranded():
    run = run_plain(SIGNAL_WHILE_A_POOL_STARTS_ITS_WORKER)
    assert run.returncode == 130, run.stderr
    assert "interrupted by SIGINT; nothing was registered" in run.stderr


# The same command run inside another program (a test runner, a notebook): nothing ends that
# program; the grace only starts when the interpreter shuts down.
INTERRUPTED_INSIDE_A_LONGER_PROGRAM = """
import signal, time

import typer

import training.interrupt
from ptb.errors import reports_errors
from training.interrupt import TrainingInterrupted

training.interrupt.SHUTDOWN_GRACE_S = 0.2

@reports_errors
def train():
    raise TrainingInterrupted(signal.SIGINT)

try:
    train()
except typer.Exit as ended:
    print("exit code", ended.exit_code)
time.sleep(1.0)
print("the program went on")
"""


def test_an_interrupted_command_inside_a_longer_program_does_not_end_it():
    run = run_plain(INTERRUPTED_INSIDE_A_LONGER_PROGRAM)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["exit code 130", "the program went on"]
