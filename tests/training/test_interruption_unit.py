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


def test_a_signal_inside_a_finaliser_is_raised_at_the_next_check_without_a_traceback():
    run = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_A_FINALISER],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
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
