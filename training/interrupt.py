"""Safe interruption: SIGINT or SIGTERM at any moment of a training leaves the registry as it was.

A ``KeyboardInterrupt`` raised at a bad moment can be lost: inside a finaliser or a callback
Python prints "Exception ignored in ..." and carries on, and the training went on to register.
So the handler also *remembers* the signal. The training checks that memory before it
registers anything and between every registry step; while registering, signals are only
remembered (deferred), and a remembered one rolls the registration back. Once the registration
is complete (the commit point), a late signal no longer undoes it: the training has finished.

A signal can also break a library call into errors of the library's own: an MLflow store call
cut mid-commit leaves SQLite locked, and MLflow logs the next call's failure with a traceback.
Those are consequences of the signal, not crashes, so once a signal is received the guard
silences error logs until it exits; the command says "interrupted" once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long an interrupted command's interpreter may take to shut down before it is ended.
SHUTDOWN_GRACE_S = 10.0


class TrainingInterrupted(KeyboardInterrupt):
    """The training received SIGINT or SIGTERM; nothing was registered."""

    def __init__(self, signum: int):
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}; nothing was registered")


class Interruption:
    """Watches SIGINT and SIGTERM for one command; use as a context manager in the main thread."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.deferring = False
        self.committed = False
        self._previous: dict[int, object] = {}
        self._previous_unraisable_hook = sys.unraisablehook
        self._previous_log_disable: int | None = None

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
            self._previous_unraisable_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        if self._previous:
            sys.unraisablehook = self._previous_unraisable_hook
        self._previous.clear()
        if self._previous_log_disable is not None:
            logging.disable(self._previous_log_disable)
            self._previous_log_disable = None
        # A signal can break a library mid-call (matplotlib drawing, say) into an error of its
        # own; the cause is still the signal, so report it as one, never as a crash.
        interrupted = self.received is not None and not self.committed
        if interrupted and exc is not None and not isinstance(exc, TrainingInterrupted):
            assert self.received is not None
            raise TrainingInterrupted(self.received) from exc

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.committed:
            self.received = self.received or signum
            return
        self.received = signum
        self._silence_error_logs()
        if not self.deferring:
            raise TrainingInterrupted(signum)

    def _silence_error_logs(self) -> None:
        if self._previous_log_disable is None:
            self._previous_log_disable = logging.root.manager.disable
            logging.disable(logging.ERROR)

    def _unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        # A signal that lands in a finaliser or weakref callback cannot propagate; it is
        # remembered, and the next check() raises it, so its "Exception ignored" traceback
        # would only tell the user of a crash that did not happen.
        if isinstance(unraisable.exc_value, TrainingInterrupted):
            return
        self._previous_unraisable_hook(unraisable)

    def check(self) -> None:
        """Raise if a signal arrived (even one whose exception was swallowed) before the commit."""
        if self.received is not None and not self.committed:
            raise TrainingInterrupted(self.received)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals are remembered, not raised, inside: for the all-or-nothing registration."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False

    def commit(self) -> None:
        """Mark the registration complete: from here a signal cannot undo it."""
        self.committed = True


def end_process_within_grace(exit_code: int) -> None:
    """Make sure the interpreter, once it shuts down, ends within ``SHUTDOWN_GRACE_S``.

    A signal can land while a library starts a thread pool's worker (MLflow's artifact uploads,
    say): ``Thread.start`` waits for the new thread, the ``KeyboardInterrupt`` breaks that wait,
    and the pool never records its worker. Nobody tells that worker to stop, so the
    interpreter's shutdown waits on it forever. The training has rolled back by then, so
    ending the process loses nothing; a shutdown that completes in time is left alone. The
    clock starts with the shutdown itself (the hook ``concurrent.futures`` uses to stop its
    workers), so a command run inside another program (a test runner) is never cut short.
    """
    threading._register_atexit(_start_the_clock, exit_code)  # type: ignore[attr-defined]


def _start_the_clock(exit_code: int) -> None:
    timer = threading.Timer(SHUTDOWN_GRACE_S, _end_now, args=(exit_code,))
    timer.daemon = True
    timer.start()


def _end_now(exit_code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(exit_code)
